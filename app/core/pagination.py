"""Keyset (cursor) pagination: stable under inserts and as fast at a million rows as at ten."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import Unprocessable

T = TypeVar("T")

MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class PageParams(BaseModel):
    limit: int
    cursor: list[Any] | None


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable("cursor is not valid", code="invalid_cursor") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise Unprocessable("cursor is not valid", code="invalid_cursor")
    return values


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> tuple[int, str | None]:
    return limit, cursor


TimeKey = tuple[datetime, uuid.UUID]
QueryT = TypeVar("QueryT", bound=Select[*tuple[Any, ...]])


def decode_time_key(cursor: str | None) -> TimeKey | None:
    """The (timestamp, id) position a `next_cursor` names, or None for the first page."""
    if cursor is None:
        return None
    values = decode_cursor(cursor, 2)
    try:
        moment, row_id = datetime.fromisoformat(values[0]), uuid.UUID(values[1])
    except (TypeError, ValueError):
        raise Unprocessable("cursor is not valid", code="invalid_cursor") from None
    if moment.tzinfo is None:  # cursors we issue are always UTC-aware
        raise Unprocessable("cursor is not valid", code="invalid_cursor")
    return moment, row_id


def encode_time_key(moment: datetime, row_id: uuid.UUID) -> str:
    return encode_cursor([moment.isoformat(), str(row_id)])


def after_time_key(
    query: QueryT,
    moment: ColumnElement[datetime] | InstrumentedAttribute[datetime],
    row_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
    after: TimeKey | None,
) -> QueryT:
    """Rows strictly after `after` in (moment, id) order: a keyset page, never OFFSET."""
    if after is None:
        return query
    at, last_id = after
    return query.where(or_(moment > at, and_(moment == at, row_id > last_id)))
