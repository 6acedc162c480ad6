"""Screening of people against the denied-party list: the one interface vetting calls."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

NO_LIST_NOTE = "no denied-party list loaded: screened against nothing"


@dataclass(frozen=True)
class ScreeningOutcome:
    result: str  # "clear" or "potential_match"
    matches: list[dict[str, Any]] = field(default_factory=list)
    list_id: uuid.UUID | None = None
    note: str | None = None


async def screen_person(
    session: AsyncSession, *, name: str, countries: Collection[str]
) -> ScreeningOutcome:
    """Screen a legal name (with the person's countries as a matching boost).

    Until a list has been imported this answers `clear`, and says so in `note`, so the
    record shows the applicant was not actually checked against anything.
    """
    del session, name, countries
    return ScreeningOutcome(result="clear", note=NO_LIST_NOTE)
