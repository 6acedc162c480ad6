from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, status

from app.auth import AdminActor, AppRuntime, CurrentActor, DbSession
from app.core.errors import problem_responses
from app.core.pagination import Page, decode_time_key, encode_time_key, page_params
from app.core.uow import domain_router
from app.membership import repository, service
from app.membership.schemas import (
    Affiliation,
    ApplicationAdminRead,
    ApplicationCreate,
    ApplicationRead,
    DecisionRequest,
    MemberActionRequest,
    MemberCountry,
    MemberRead,
    RoleGrant,
    ScreeningMatch,
    ScreeningRead,
    UserRolesRead,
)
from app.models import Application, User
from app.models.base import utcnow
from app.policy import Role, membership_state

router = domain_router(tags=["membership"])
ADMIN = problem_responses(401, 403, 404, 409, 422)
PageArgs = Annotated[tuple[int, str | None], Depends(page_params)]


def application_read(application: Application) -> ApplicationRead:
    return ApplicationRead(
        id=application.id,
        user_id=application.user_id,
        status=application.status,
        legal_name=application.legal_name,
        citizenships=application.citizenships,
        residence_country=application.residence_country,
        affiliation=Affiliation(
            name=application.affiliation_name, country=application.affiliation_country
        ),
        orcid=application.orcid,
        federal_award_ids=application.federal_award_ids,
        research_statement=application.research_statement,
        submitted_at=application.created_at,
        decided_at=application.decided_at,
    )


def application_admin_read(
    application: Application, user: User, approved_by: list[uuid.UUID]
) -> ApplicationAdminRead:
    return ApplicationAdminRead(
        **application_read(application).model_dump(),
        email=user.email,
        display_name=user.display_name,
        screening=ScreeningRead(
            result=application.screening_result,
            matches=[ScreeningMatch.model_validate(m) for m in application.screening_matches],
            list_id=application.screening_list_id,
            note=application.screening_note,
            screened_at=application.screened_at,
        ),
        approvals=len(approved_by),
        approvals_required=service.approvals_required(application),
        approved_by=approved_by,
        decided_by=application.decided_by,
        decision_reason=application.decision_reason,
    )


@router.post(
    "/applications",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
async def apply(
    body: ApplicationCreate, actor: CurrentActor, session: DbSession, runtime: AppRuntime
) -> ApplicationRead:
    application = await service.apply(session, runtime, actor=actor, body=body)
    return application_read(application)


@router.get("/applications", responses=problem_responses(401, 403))
async def my_applications(actor: CurrentActor, session: DbSession) -> list[ApplicationRead]:
    return [application_read(a) for a in await repository.applications_of(session, actor.user_id)]


@router.get("/applications/{application_id}", responses=problem_responses(401, 403, 404, 422))
async def get_application(
    application_id: uuid.UUID, actor: CurrentActor, session: DbSession
) -> ApplicationRead:
    application = await service.get_application_for(
        session, actor=actor, application_id=application_id
    )
    return application_read(application)


@router.get("/admin/applications", responses=ADMIN)
async def list_applications(
    _actor: AdminActor,
    session: DbSession,
    page: PageArgs,
    status: Literal["under_review", "approved", "rejected"] | None = None,
) -> Page[ApplicationAdminRead]:
    limit, cursor = page
    rows = await repository.list_applications(
        session, status=status, after=decode_time_key(cursor), limit=limit
    )
    approvals = await repository.approvals_for(session, [a.id for a, _ in rows])
    items = [application_admin_read(a, u, approvals[a.id]) for a, u in rows]
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1][0]
        next_cursor = encode_time_key(last.created_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/admin/applications/{application_id}", responses=ADMIN)
async def admin_get_application(
    application_id: uuid.UUID, _actor: AdminActor, session: DbSession
) -> ApplicationAdminRead:
    return await _admin_view(session, application_id)


async def _admin_view(session: DbSession, application_id: uuid.UUID) -> ApplicationAdminRead:
    from app.core.errors import NotFound

    application = await repository.application(session, application_id)
    user = await session.get(User, application.user_id) if application else None
    if application is None or user is None:
        raise NotFound()
    approved_by = await repository.approvals(session, application.id)
    return application_admin_read(application, user, approved_by)


@router.post("/admin/applications/{application_id}/decision", responses=ADMIN)
async def decide(
    application_id: uuid.UUID,
    body: DecisionRequest,
    actor: AdminActor,
    session: DbSession,
    runtime: AppRuntime,
) -> ApplicationAdminRead:
    await service.decide(
        session,
        runtime,
        actor=actor,
        application_id=application_id,
        decision=body.decision,
        reason=body.reason,
    )
    return await _admin_view(session, application_id)


@router.get("/admin/members", responses=ADMIN)
async def list_members(
    _actor: AdminActor,
    session: DbSession,
    page: PageArgs,
    status: Literal["active", "suspended", "revoked", "expired"] | None = None,
) -> Page[MemberRead]:
    limit, cursor = page
    now = utcnow()
    rows = await repository.list_members(
        session, status=status, now=now, after=decode_time_key(cursor), limit=limit
    )
    countries = await repository.countries_for(session, [m.id for m, _ in rows])
    items = []
    for membership, user in rows:
        state = membership_state(membership.status, membership.expires_at, now)
        items.append(
            MemberRead(
                user_id=user.id,
                email=user.email,
                display_name=user.display_name,
                status=state.value if state else "revoked",
                status_reason=membership.status_reason,
                approved_at=membership.approved_at,
                expires_at=membership.expires_at,
                countries=[MemberCountry(code=c, relation=r) for c, r in countries[membership.id]],
            )
        )
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1][0]
        next_cursor = encode_time_key(last.approved_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


def _member_route(action: str, summary: str) -> None:
    async def change(
        user_id: uuid.UUID, body: MemberActionRequest, actor: AdminActor, session: DbSession
    ) -> MemberRead:
        membership = await service.change_member_status(
            session, actor=actor, user_id=user_id, action=action, reason=body.reason
        )
        user = await session.get(User, user_id)
        assert user is not None  # noqa: S101 - the membership's user exists (foreign key)
        countries = await repository.countries_for(session, [membership.id])
        state = membership_state(membership.status, membership.expires_at, utcnow())
        return MemberRead(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            status=state.value if state else "revoked",
            status_reason=membership.status_reason,
            approved_at=membership.approved_at,
            expires_at=membership.expires_at,
            countries=[MemberCountry(code=c, relation=r) for c, r in countries[membership.id]],
        )

    router.add_api_route(
        f"/admin/members/{{user_id}}/{action}",
        change,
        methods=["POST"],
        name=f"{action}_member",
        summary=summary,
        responses=ADMIN,
    )


_member_route("suspend", "Suspend a membership (reversible)")
_member_route("reinstate", "Reinstate a suspended membership")
_member_route("revoke", "Revoke a membership (final; ends all sessions and tokens)")


@router.post("/admin/users/{user_id}/roles", responses=ADMIN)
async def grant_role(
    user_id: uuid.UUID, body: RoleGrant, actor: AdminActor, session: DbSession
) -> UserRolesRead:
    roles = await service.grant_role(session, actor=actor, user_id=user_id, role=Role(body.role))
    return UserRolesRead(user_id=user_id, roles=roles)


@router.delete("/admin/users/{user_id}/roles/{role}", responses=ADMIN)
async def remove_role(
    user_id: uuid.UUID,
    role: Literal["admin", "moderator", "auditor"],
    actor: AdminActor,
    session: DbSession,
) -> UserRolesRead:
    roles = await service.remove_role(session, actor=actor, user_id=user_id, role=Role(role))
    return UserRolesRead(user_id=user_id, roles=roles)
