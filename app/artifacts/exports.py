"""The compliance export of download records, as CSV or JSON Lines, streamed batch by batch.

Cells that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR) are prefixed
with an apostrophe: titles and names are member input, and an export is opened by people.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from app.artifacts import repository
from app.core.database import Database

COLUMNS = [
    "download_id",
    "started_at",
    "finished_at",
    "outcome",
    "kind",
    "user_id",
    "email",
    "display_name",
    "effective_tier",
    "countries",
    "artifact_id",
    "artifact_title",
    "topic",
    "topic_tier",
    "version",
    "version_id",
    "sha256",
    "range_start",
    "range_end",
    "bytes_planned",
    "bytes_served",
    "client_address",
    "request_id",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export_record(row: Any) -> dict[str, Any]:
    record = row[0]
    return {
        "download_id": str(record.id),
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
        "outcome": record.outcome,
        "kind": record.kind,
        "user_id": str(record.user_id),
        "email": row.email,
        "display_name": row.display_name,
        "effective_tier": record.effective_tier,
        "countries": record.countries,
        "artifact_id": str(record.artifact_id),
        "artifact_title": row.artifact_title,
        "topic": row.topic_slug,
        "topic_tier": row.topic_tier,
        "version": row.version_number,
        "version_id": str(record.version_id),
        "sha256": row.version_sha256,
        "range_start": record.range_start,
        "range_end": record.range_end,
        "bytes_planned": record.bytes_planned,
        "bytes_served": record.bytes_served,
        "client_address": record.client_address,
        "request_id": record.request_id,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        # "US:citizenship:home;DE:residence:certified(restricted)"
        value = ";".join(
            f"{c['code']}:{c['relation']}:{c['status']}"
            + (f"({c['tier']})" if c.get("tier") else "")
            for c in value
        )
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


async def export_lines(
    db: Database, *, since: datetime | None, until: datetime | None, fmt: str, batch: int = 1000
) -> AsyncIterator[bytes]:
    """Runs after the request's transaction ended. Each batch is read in a short transaction
    of its own, so a slow reader never holds a database transaction (or SQLite's lock) open."""
    if fmt == "csv":
        yield _csv_line(COLUMNS)
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with db.session() as session:
            rows = await repository.export_batch(
                session, since=since, until=until, after=after, limit=batch
            )
        lines: list[bytes] = []
        for row in rows:
            record = export_record(row)
            if fmt == "csv":
                lines.append(_csv_line([_cell(record[column]) for column in COLUMNS]))
            else:
                lines.append((json.dumps(record, ensure_ascii=False) + "\n").encode())
        if lines:
            yield b"".join(lines)
        if len(rows) < batch:
            return
        last = rows[-1][0]
        after = (last.started_at, last.id)


def _csv_line(cells: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode()
