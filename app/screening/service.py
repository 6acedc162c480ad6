"""Denied-party screening: list imports, screening people, continuous re-screening, alerts.

The matching itself lives in `matching.py` (pure, no database); this module decides what a
match means for an application or a membership and writes the audit trail for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.errors import Conflict, NotFound, TooLarge, Unprocessable
from app.core.runtime import Runtime
from app.core.settings import Settings
from app.models import (
    Application,
    Membership,
    MembershipCountry,
    ScreeningAlert,
    ScreeningEntry,
    ScreeningList,
)
from app.models.base import utcnow
from app.policy import Actor, MembershipState, membership_state
from app.screening import repository
from app.screening.listfile import ListEntry, ListFormatError, parse_list
from app.screening.matching import Match, ScreeningIndex

NO_LIST_NOTE = "no denied-party list loaded: screened against nothing"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ScreeningOutcome:
    result: str  # "clear" or "potential_match"
    matches: list[dict[str, Any]] = field(default_factory=list)
    list_id: uuid.UUID | None = None
    note: str | None = None


class _IndexCache:
    """Built indexes by list id. A list version never changes once imported, so caching by
    id cannot serve stale data; only the newest few are kept."""

    def __init__(self, size: int = 2) -> None:
        self._size = size
        self._indexes: OrderedDict[uuid.UUID, ScreeningIndex] = OrderedDict()
        self._lock = asyncio.Lock()

    async def get(self, session: AsyncSession, screening_list: ScreeningList) -> ScreeningIndex:
        async with self._lock:
            index = self._indexes.get(screening_list.id)
            if index is None:
                rows = await repository.entries_of(session, screening_list.id)
                entries = [_entry_from_row(row) for row in rows]
                index = await asyncio.to_thread(ScreeningIndex, entries)
                self._indexes[screening_list.id] = index
                while len(self._indexes) > self._size:
                    self._indexes.popitem(last=False)
            self._indexes.move_to_end(screening_list.id)
            return index

    def put(self, list_id: uuid.UUID, index: ScreeningIndex) -> None:
        self._indexes[list_id] = index
        while len(self._indexes) > self._size:
            self._indexes.popitem(last=False)


_cache = _IndexCache()


def _entry_from_row(row: ScreeningEntry) -> ListEntry:
    return ListEntry(
        entry_id=row.entry_id,
        name=row.name,
        alt_names=tuple(row.alt_names),
        source=row.source,
        programs=tuple(row.programs),
        countries=frozenset(row.countries),
        entity_type=row.entity_type,
        remarks=row.remarks,
        dates_of_birth=tuple(row.dates_of_birth),
    )


def entry_fingerprint(entry: ListEntry) -> str:
    document = {
        "name": entry.name,
        "alt_names": sorted(entry.alt_names),
        "countries": sorted(entry.countries),
        "programs": sorted(entry.programs),
        "source": entry.source,
        "type": entry.entity_type,
        "dates_of_birth": sorted(entry.dates_of_birth),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _match_dict(match: Match, screening_list: ScreeningList) -> dict[str, Any]:
    return {
        "entry_id": match.entry_id,
        "name": match.primary_name,
        "matched_name": match.matched_name,
        "source": match.source,
        "score": round(match.score, 2),
        "method": match.method,
        "list_id": str(screening_list.id),
        "list_version": screening_list.version,
    }


async def screen_person(
    session: AsyncSession, settings: Settings, *, name: str, countries: Collection[str]
) -> ScreeningOutcome:
    """Screen a legal name against the active list, the person's countries as a boost.

    Until a list has been imported this answers `clear` and says so in `note`, so the record
    shows the person was not actually checked against anything (and approval fails closed).
    """
    active = await repository.active_list(session)
    if active is None:
        return ScreeningOutcome(result="clear", note=NO_LIST_NOTE)
    index = await _cache.get(session, active)
    matches = index.match(name, countries, threshold=settings.screening_review_threshold)
    return ScreeningOutcome(
        result="potential_match" if matches else "clear",
        matches=[_match_dict(m, active) for m in matches],
        list_id=active.id,
        note=f"screened against list version {active.version}",
    )


async def check(
    session: AsyncSession, settings: Settings, *, name: str, country: str | None
) -> tuple[ScreeningList | None, list[dict[str, Any]]]:
    active = await repository.active_list(session)
    if active is None:
        return None, []
    index = await _cache.get(session, active)
    matches = index.match(
        name, [country] if country else [], threshold=settings.screening_review_threshold
    )
    return active, [_match_dict(m, active) for m in matches]


def freshness_problem(settings: Settings, active: ScreeningList | None) -> str | None:
    """Why screening cannot be trusted right now, or None when the list is current."""
    if active is None:
        return "no denied-party list has been imported"
    age = utcnow() - active.imported_at
    if age > timedelta(days=settings.screening_max_list_age_days):
        return (
            f"the active denied-party list (version {active.version}) is {age.days} days old; "
            f"the limit is {settings.screening_max_list_age_days}"
        )
    return None


async def require_fresh_list(session: AsyncSession, settings: Settings) -> ScreeningList | None:
    """Fail closed: approvals stop while the list is missing or stale."""
    active = await repository.active_list(session)
    problem = freshness_problem(settings, active)
    if problem is not None and settings.screening_fail_closed:
        raise Conflict(f"Screening is not current: {problem}.", code="screening_stale")
    return active


async def rescreen_application(
    session: AsyncSession, settings: Settings, application: Application
) -> None:
    """Screen again against the active list if the application was screened on another."""
    active = await repository.active_list(session)
    if active is None or application.screening_list_id == active.id:
        return
    countries = {
        *application.citizenships,
        application.residence_country,
        application.affiliation_country,
    }
    outcome = await screen_person(
        session, settings, name=application.legal_name, countries=countries
    )
    application.screening_result = outcome.result
    application.screening_matches = outcome.matches
    application.screening_list_id = outcome.list_id
    application.screening_note = outcome.note
    application.screened_at = utcnow()
    await audit.record(
        session,
        actor_id=None,
        action="application.rescreened",
        target_type="application",
        target_id=application.id,
        details={"screening": outcome.result, "list_version": active.version},
    )


@dataclass(frozen=True)
class ImportResult:
    screening_list: ScreeningList
    alerts_raised: int
    memberships_suspended: int
    subjects_screened: int


async def import_list(
    session: AsyncSession,
    runtime: Runtime,
    *,
    actor: Actor | None,
    data: bytes,
    filename: str | None,
    progress: Progress | None = None,
) -> ImportResult:
    """Store a new list version and re-screen everyone against it, atomically: a bad file
    changes nothing, and the previous version stays in force until this one commits."""
    settings = runtime.settings
    if len(data) > settings.screening_max_list_bytes:
        raise TooLarge(
            f"The list is larger than {settings.screening_max_list_bytes} bytes.",
            code="too_large",
        )
    try:
        parsed = await asyncio.to_thread(parse_list, data)
    except ListFormatError as exc:
        raise Unprocessable(
            f"The list cannot be imported: {exc}", code="invalid_list", line=exc.line
        ) from exc
    if progress:
        progress("parsed", len(parsed.entries), len(parsed.entries))
    screening_list = ScreeningList(
        id=uuid.uuid4(),
        version=await repository.next_version(session),
        checksum=parsed.checksum,
        filename=(filename or "")[:255] or None,
        file_format="json" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") else "csv",
        entry_count=len(parsed.entries),
        source_counts=parsed.source_counts,
        imported_by=actor.user_id if actor else None,
        imported_at=utcnow(),
    )
    session.add(screening_list)
    await session.flush()
    rows = [
        {
            "id": uuid.uuid4(),
            "list_id": screening_list.id,
            "entry_id": entry.entry_id,
            "fingerprint": entry_fingerprint(entry),
            "name": entry.name,
            "alt_names": list(entry.alt_names),
            "source": entry.source,
            "programs": list(entry.programs),
            "countries": sorted(entry.countries),
            "entity_type": entry.entity_type,
            "remarks": entry.remarks,
            "dates_of_birth": list(entry.dates_of_birth),
        }
        for entry in parsed.entries
    ]
    batch = 2000
    for start in range(0, len(rows), batch):
        await session.execute(insert(ScreeningEntry), rows[start : start + batch])
        if progress:
            progress("stored", min(start + batch, len(rows)), len(rows))
    index = await asyncio.to_thread(ScreeningIndex, parsed.entries)
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action="screening.list_imported",
        target_type="screening_list",
        target_id=screening_list.id,
        details={
            "version": screening_list.version,
            "checksum": parsed.checksum,
            "entries": len(parsed.entries),
            "sources": parsed.source_counts,
        },
    )
    fingerprints = {str(row["entry_id"]): str(row["fingerprint"]) for row in rows}
    alerts, suspended, screened = await _rescreen_everyone(
        session, runtime, screening_list, index, fingerprints, progress
    )
    _cache.put(screening_list.id, index)
    return ImportResult(screening_list, alerts, suspended, screened)


@dataclass
class _Subject:
    user_id: uuid.UUID
    name: str
    countries: set[str]
    membership: Membership | None = None
    application: Application | None = None


async def _subjects(session: AsyncSession) -> list[_Subject]:
    subjects: list[_Subject] = []
    members = await repository.members_to_rescreen(session)
    countries: dict[uuid.UUID, set[str]] = {}
    if members:
        rows = await session.execute(
            select(MembershipCountry.membership_id, MembershipCountry.country_code).where(
                MembershipCountry.membership_id.in_([m.id for m, _ in members])
            )
        )
        for membership_id, code in rows.all():
            countries.setdefault(membership_id, set()).add(code)
    for membership, application in members:
        subjects.append(
            _Subject(
                membership.user_id,
                application.legal_name,
                countries.get(membership.id, set()),
                membership=membership,
            )
        )
    for application in await repository.open_applications(session):
        subjects.append(
            _Subject(
                application.user_id,
                application.legal_name,
                {
                    *application.citizenships,
                    application.residence_country,
                    application.affiliation_country,
                },
                application=application,
            )
        )
    return subjects


async def _rescreen_everyone(
    session: AsyncSession,
    runtime: Runtime,
    screening_list: ScreeningList,
    index: ScreeningIndex,
    fingerprints: dict[str, str],
    progress: Progress | None,
) -> tuple[int, int, int]:
    from app.membership import service as membership_service  # membership imports screening

    settings = runtime.settings
    subjects = await _subjects(session)
    queries = [(s.name, s.countries) for s in subjects]
    results: Sequence[list[Match]] = await asyncio.to_thread(
        index.match_many, queries, threshold=settings.screening_review_threshold
    )
    if progress:
        progress("screened", len(subjects), len(subjects))
    dismissed, pending = await repository.alert_keys(session)
    alerts_raised = suspended = 0
    now = utcnow()
    for subject, matches in zip(subjects, results, strict=True):
        if subject.application is not None:
            application = subject.application
            application.screening_result = "potential_match" if matches else "clear"
            application.screening_matches = [_match_dict(m, screening_list) for m in matches]
            application.screening_list_id = screening_list.id
            application.screening_note = f"screened against list version {screening_list.version}"
            application.screened_at = now
        for match in matches:
            fingerprint = fingerprints[match.entry_id]
            if (subject.user_id, match.entry_id, fingerprint) in dismissed:
                continue
            if (subject.user_id, match.entry_id) in pending:
                continue
            pending.add((subject.user_id, match.entry_id))
            strong = match.score >= settings.screening_auto_suspend_threshold
            suspends = False
            if strong and subject.membership is not None:
                state = membership_state(
                    subject.membership.status, subject.membership.expires_at, now
                )
                if state in (MembershipState.active, MembershipState.expired):
                    await membership_service.change_member_status(
                        session,
                        actor=None,
                        user_id=subject.user_id,
                        action="suspend",
                        reason=(
                            f"denied-party screening: {match.primary_name} "
                            f"({match.source}), score {match.score:.1f}; pending review"
                        ),
                    )
                    suspends = True
                    suspended += 1
            alert = ScreeningAlert(
                id=uuid.uuid4(),
                user_id=subject.user_id,
                application_id=subject.application.id if subject.application else None,
                list_id=screening_list.id,
                entry_id=match.entry_id,
                entry_fingerprint=fingerprint,
                entry_name=match.primary_name,
                matched_name=match.matched_name,
                screened_name=subject.name,
                score=round(match.score, 2),
                method=match.method,
                source=match.source,
                status="open",
                suspended_membership=suspends,
                created_at=now,
            )
            session.add(alert)
            await session.flush()
            alerts_raised += 1
            await audit.record(
                session,
                actor_id=None,
                action="screening.alert_raised",
                target_type="screening_alert",
                target_id=alert.id,
                details={
                    "user_id": str(subject.user_id),
                    "entry_id": match.entry_id,
                    "score": alert.score,
                    "suspended": suspends,
                    "list_version": screening_list.version,
                },
            )
    return alerts_raised, suspended, len(subjects)


async def resolve_alert(
    session: AsyncSession,
    *,
    actor: Actor,
    alert_id: uuid.UUID,
    disposition: str,
    reason: str,
) -> ScreeningAlert:
    """false_positive: dismissed (and a membership the alert suspended is reinstated, unless
    another open alert also holds it); confirmed: the membership is revoked and an open
    application rejected."""
    from app.membership import repository as membership_repository
    from app.membership import service as membership_service

    alert = await repository.alert(session, alert_id, lock=True)
    if alert is None:
        raise NotFound()
    if alert.status != "open":
        raise Conflict(f"This alert is already {alert.status}.", code="already_resolved")
    alert.status = disposition
    alert.resolved_at = utcnow()
    alert.resolved_by = actor.user_id
    alert.resolution_reason = reason
    await audit.record(
        session,
        actor_id=actor.user_id,
        action=f"screening.alert_{disposition}",
        target_type="screening_alert",
        target_id=alert.id,
        reason=reason,
        details={"user_id": str(alert.user_id), "entry_id": alert.entry_id},
    )
    membership = await membership_repository.membership_of(session, alert.user_id)
    now = utcnow()
    state = membership_state(membership.status, membership.expires_at, now) if membership else None
    if disposition == "false_positive":
        if (
            alert.suspended_membership
            and state is MembershipState.suspended
            and not await repository.open_suspending_alerts(
                session, alert.user_id, excluding=alert.id
            )
        ):
            await membership_service.change_member_status(
                session,
                actor=None,
                user_id=alert.user_id,
                action="reinstate",
                reason=f"screening alert {alert.id} resolved as a false positive",
            )
        return alert
    if state is not None and state is not MembershipState.revoked:
        await membership_service.change_member_status(
            session,
            actor=None,
            user_id=alert.user_id,
            action="revoke",
            reason=f"denied-party match confirmed (alert {alert.id}): {reason}",
        )
    application = await membership_repository.open_application(session, alert.user_id)
    if application is not None:
        application.status = "rejected"
        application.decided_at = now
        application.decided_by = actor.user_id
        application.decision_reason = f"denied-party match confirmed (alert {alert.id})"
        await audit.record(
            session,
            actor_id=actor.user_id,
            action="application.rejected",
            target_type="application",
            target_id=application.id,
            reason=application.decision_reason,
        )
    return alert
