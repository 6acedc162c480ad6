from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, status

from app.audit import repository, service
from app.audit.schemas import AuditEventRead, CheckpointRead, VerifyRead
from app.auth import AdminActor, AppRuntime, AuditReader, DbSession
from app.core.errors import Unprocessable, problem_responses
from app.core.pagination import Page, decode_cursor, encode_cursor, page_params
from app.core.uow import domain_router

router = domain_router(tags=["audit"])
READER = problem_responses(401, 403, 422)


@router.get("/audit/events", responses=READER)
async def list_events(
    _actor: AuditReader,
    session: DbSession,
    page: Annotated[tuple[int, str | None], Depends(page_params)],
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]+$")] = None,
    actor_id: uuid.UUID | None = None,
) -> Page[AuditEventRead]:
    limit, cursor = page
    before = None
    if cursor is not None:
        value = decode_cursor(cursor, 1)[0]
        if not isinstance(value, int):
            raise Unprocessable("cursor is not valid", code="invalid_cursor")
        before = value
    rows = await repository.list_events(
        session, limit=limit, before_seq=before, action=action, actor_id=actor_id
    )
    items = [
        AuditEventRead(
            id=e.seq,
            seq=e.seq,
            occurred_at=e.occurred_at,
            actor_id=e.actor_id,
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            reason=e.reason,
            request_id=e.request_id,
            client_address=e.client_address,
            details=e.details,
            prev_hash=e.prev_hash,
            hash=e.hash,
        )
        for e in rows
    ]
    next_cursor = encode_cursor([rows[-1].seq]) if len(rows) == limit else None
    return Page(items=items, next_cursor=next_cursor)


@router.get("/audit/verify", responses=READER)
async def verify(_actor: AuditReader, session: DbSession) -> VerifyRead:
    result = await service.verify(session)
    return VerifyRead(
        ok=result.ok,
        checked=result.checked,
        first_bad_id=result.first_bad_id,
        problem=result.problem,
    )


@router.get("/audit/checkpoints", responses=READER)
async def checkpoints(_actor: AuditReader, session: DbSession) -> list[CheckpointRead]:
    return [
        CheckpointRead(
            seq=c.seq,
            head_hash=c.head_hash,
            signed_at=c.signed_at,
            signature=c.signature,
            public_key=c.public_key,
        )
        for c in await repository.checkpoints(session)
    ]


@router.post(
    "/admin/audit/checkpoints",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409),
)
async def sign_checkpoint(
    _actor: AdminActor, session: DbSession, runtime: AppRuntime
) -> CheckpointRead:
    checkpoint = await service.sign_checkpoint(session, runtime.settings.master_key_bytes)
    if checkpoint is None:
        from app.core.errors import Conflict

        raise Conflict("The current head is already signed.", code="already_signed")
    return CheckpointRead(
        seq=checkpoint.seq,
        head_hash=checkpoint.head_hash,
        signed_at=checkpoint.signed_at,
        signature=checkpoint.signature,
        public_key=checkpoint.public_key,
    )
