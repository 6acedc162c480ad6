from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, File, UploadFile, status

from app.auth import AdminActor, AppRuntime, DbSession
from app.core.errors import NotFound, TooLarge, problem_responses
from app.core.pagination import Page, decode_time_key, encode_time_key, page_params
from app.core.uow import domain_router
from app.models import ScreeningAlert, ScreeningList, User
from app.screening import repository, service
from app.screening.schemas import (
    AlertRead,
    CheckRequest,
    CheckResponse,
    ListImported,
    ListRead,
    MatchRead,
    ResolveRequest,
)

router = domain_router(tags=["screening"])
ADMIN = problem_responses(401, 403, 404, 409, 422)


def _alert_read(alert: ScreeningAlert, user: User, screening_list: ScreeningList) -> AlertRead:
    return AlertRead(
        id=alert.id,
        user_id=alert.user_id,
        email=user.email,
        application_id=alert.application_id,
        list_id=alert.list_id,
        list_version=screening_list.version,
        entry_id=alert.entry_id,
        entry_name=alert.entry_name,
        matched_name=alert.matched_name,
        screened_name=alert.screened_name,
        score=alert.score,
        method=alert.method,
        source=alert.source,
        status=alert.status,
        suspended_membership=alert.suspended_membership,
        created_at=alert.created_at,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        resolution_reason=alert.resolution_reason,
    )


@router.post(
    "/admin/screening/lists",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 413, 422),
)
async def import_list(
    file: Annotated[
        UploadFile, File(description="CSV or JSON, Consolidated Screening List layout")
    ],
    actor: AdminActor,
    session: DbSession,
    runtime: AppRuntime,
) -> ListImported:
    limit = runtime.settings.screening_max_list_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"The list is larger than {limit} bytes.")
    result = await service.import_list(
        session, runtime, actor=actor, data=data, filename=file.filename
    )
    screening_list = result.screening_list
    return ListImported(
        id=screening_list.id,
        version=screening_list.version,
        entries=screening_list.entry_count,
        alerts_raised=result.alerts_raised,
        memberships_suspended=result.memberships_suspended,
        subjects_screened=result.subjects_screened,
        checksum=screening_list.checksum,
        source_counts=screening_list.source_counts,
    )


@router.get("/admin/screening/lists", responses=ADMIN)
async def list_versions(_actor: AdminActor, session: DbSession) -> list[ListRead]:
    versions = await repository.lists(session)
    newest = versions[0].id if versions else None
    return [
        ListRead(
            id=v.id,
            version=v.version,
            entries=v.entry_count,
            checksum=v.checksum,
            filename=v.filename,
            file_format=v.file_format,
            source_counts=v.source_counts,
            imported_by=v.imported_by,
            imported_at=v.imported_at,
            active=v.id == newest,
        )
        for v in versions
    ]


@router.post("/admin/screening/check", responses=ADMIN)
async def check(
    body: CheckRequest, _actor: AdminActor, session: DbSession, runtime: AppRuntime
) -> CheckResponse:
    active, matches = await service.check(
        session, runtime.settings, name=body.name, country=body.country
    )
    return CheckResponse(
        list_id=active.id if active else None,
        list_version=active.version if active else None,
        matches=[MatchRead.model_validate(m) for m in matches],
    )


@router.get("/admin/screening/alerts", responses=ADMIN)
async def list_alerts(
    _actor: AdminActor,
    session: DbSession,
    page: Annotated[tuple[int, str | None], Depends(page_params)],
    status: Literal["open", "false_positive", "confirmed"] | None = None,
) -> Page[AlertRead]:
    limit, cursor = page
    rows = await repository.list_alerts(
        session, status=status, after=decode_time_key(cursor), limit=limit
    )
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1][0]
        next_cursor = encode_time_key(last.created_at, last.id)
    return Page(items=[_alert_read(a, u, lst) for a, u, lst in rows], next_cursor=next_cursor)


@router.post("/admin/screening/alerts/{alert_id}/resolve", responses=ADMIN)
async def resolve(
    alert_id: uuid.UUID, body: ResolveRequest, actor: AdminActor, session: DbSession
) -> AlertRead:
    alert = await service.resolve_alert(
        session, actor=actor, alert_id=alert_id, disposition=body.disposition, reason=body.reason
    )
    user = await session.get(User, alert.user_id)
    screening_list = await session.get(ScreeningList, alert.list_id)
    if user is None or screening_list is None:  # both are foreign keys of the alert
        raise NotFound()
    return _alert_read(alert, user, screening_list)
