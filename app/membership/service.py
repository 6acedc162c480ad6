"""Vetting actions: applying, deciding, and the membership lifecycle.

Each action takes a keyword-only `actor`, writes its audit event in the same transaction,
and leaves committing to the request (or CLI) that called it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import policy
from app.audit import service as audit
from app.auth import enforce
from app.core.errors import Conflict, NotFound
from app.core.runtime import Runtime
from app.core.uow import after_commit
from app.identity import repository as identity_repository
from app.membership import repository
from app.membership.schemas import ApplicationCreate
from app.models import (
    Application,
    ApplicationApproval,
    Membership,
    MembershipCountry,
    User,
    UserRole,
)
from app.models.base import utcnow
from app.policy import Actor, MembershipState, Relation, Role
from app.screening import service as screening

POTENTIAL_MATCH = "potential_match"


def approvals_required(application: Application) -> int:
    """Two-person rule: a potential denied-party match needs two distinct admins."""
    return 2 if application.screening_result == POTENTIAL_MATCH else 1


async def apply(
    session: AsyncSession, runtime: Runtime, *, actor: Actor, body: ApplicationCreate
) -> Application:
    enforce(policy.can_apply(actor))
    now = utcnow()
    if await repository.open_application(session, actor.user_id) is not None:
        raise Conflict("You already have an application under review.", code="application_pending")
    membership = await repository.membership_of(session, actor.user_id)
    if membership is not None:
        state = policy.membership_state(membership.status, membership.expires_at, now)
        if state is MembershipState.revoked:
            raise Conflict("Your membership was revoked.", code="membership_revoked")
        if state is MembershipState.suspended:
            raise Conflict("Your membership is suspended.", code="membership_suspended")
        window = timedelta(days=runtime.settings.renewal_window_days)
        if state is MembershipState.active and membership.expires_at - now > window:
            raise Conflict(
                "You are already a member; renewal opens "
                f"{runtime.settings.renewal_window_days} days before expiry.",
                code="already_member",
            )
    latest = await repository.latest_application(session, actor.user_id)
    if latest is not None and latest.status == "rejected" and latest.decided_at is not None:
        reopens = latest.decided_at + timedelta(days=runtime.settings.reapply_cooldown_days)
        if reopens > now:
            raise Conflict(
                f"You may apply again after {reopens.date().isoformat()}.",
                code="reapply_cooldown",
                available_at=reopens.isoformat(),
            )
    countries = {*body.citizenships, body.residence_country, body.affiliation.country}
    outcome = await screening.screen_person(
        session, runtime.settings, name=body.legal_name, countries=countries
    )
    application = Application(
        id=uuid.uuid4(),
        user_id=actor.user_id,
        status="under_review",
        legal_name=body.legal_name,
        citizenships=list(body.citizenships),
        residence_country=body.residence_country,
        affiliation_name=body.affiliation.name,
        affiliation_country=body.affiliation.country,
        orcid=body.orcid,
        federal_award_ids=list(body.federal_award_ids),
        research_statement=body.research_statement,
        attested_at=now,
        screening_result=outcome.result,
        screening_matches=outcome.matches,
        screening_list_id=outcome.list_id,
        screening_note=outcome.note,
        screened_at=now,
        created_at=now,
    )
    session.add(application)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="application.submitted",
        target_type="application",
        target_id=application.id,
        details={
            "screening": outcome.result,
            "matches": len(outcome.matches),
            "list_id": str(outcome.list_id) if outcome.list_id else None,
            "renewal": membership is not None,
        },
    )
    return application


async def get_application_for(
    session: AsyncSession, *, actor: Actor, application_id: uuid.UUID
) -> Application:
    application = await repository.application(session, application_id)
    if application is None:
        raise NotFound()
    enforce(policy.can_view_application(actor, application.user_id))
    return application


async def decide(
    session: AsyncSession,
    runtime: Runtime,
    *,
    actor: Actor,
    application_id: uuid.UUID,
    decision: str,
    reason: str,
) -> Application:
    application = await repository.application(session, application_id, lock=True)
    if application is None:
        raise NotFound()
    denial = policy.can_decide_application(actor, application.user_id)
    if denial is not None:
        await audit.record(
            session,
            actor_id=actor.user_id,
            action="access.denied",
            target_type="application",
            target_id=application.id,
            details={"attempted": decision, "code": denial.error.code},
        )
        denial.error.keep_changes = True
        raise denial.error
    if application.status != "under_review":
        raise Conflict(f"This application is already {application.status}.", code="already_decided")
    now = utcnow()
    if decision == "reject":
        application.status = "rejected"
        application.decided_at = now
        application.decided_by = actor.user_id
        application.decision_reason = reason
        await audit.record(
            session,
            actor_id=actor.user_id,
            action="application.rejected",
            target_type="application",
            target_id=application.id,
            reason=reason,
        )
        await _notify(
            session,
            runtime,
            application.user_id,
            "Your application was not approved",
            "An administrator reviewed your DURC Exchange application and did not approve it.",
        )
        return application

    # Fail closed, and never approve on a screening against an older list (or none).
    await screening.require_fresh_list(session, runtime.settings)
    await screening.rescreen_application(session, runtime.settings, application)
    approved_by = await repository.approvals(session, application.id)
    if actor.user_id in approved_by:
        raise Conflict("You already approved this application.", code="duplicate_approval")
    session.add(
        ApplicationApproval(
            application_id=application.id, admin_id=actor.user_id, reason=reason, approved_at=now
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:  # the same admin, concurrently
        raise Conflict("You already approved this application.", code="duplicate_approval") from exc
    count = len(approved_by) + 1
    required = approvals_required(application)
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="application.approval_recorded",
        target_type="application",
        target_id=application.id,
        reason=reason,
        details={"approvals": count, "required": required},
    )
    if count < required:
        return application
    application.status = "approved"
    application.decided_at = now
    application.decided_by = actor.user_id
    application.decision_reason = reason
    membership = await _grant_membership(session, runtime, application)
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="membership.granted",
        target_type="membership",
        target_id=membership.user_id,
        reason=reason,
        details={
            "application_id": str(application.id),
            "expires_at": membership.expires_at.isoformat(),
        },
    )
    await _notify(
        session,
        runtime,
        application.user_id,
        "Welcome to DURC Exchange",
        "Your application was approved. Your membership is active until "
        f"{membership.expires_at.date().isoformat()}.",
    )
    return application


async def _grant_membership(
    session: AsyncSession, runtime: Runtime, application: Application
) -> Membership:
    """Create the membership, or renew it: a renewal extends from the later of now and the
    current expiry, and the member's countries become those of the new application."""
    now = utcnow()
    term = timedelta(days=runtime.settings.membership_days)
    membership = await repository.membership_of(session, application.user_id, lock=True)
    if membership is None:
        membership = Membership(
            id=uuid.uuid4(),
            user_id=application.user_id,
            application_id=application.id,
            status=MembershipState.active.value,
            status_changed_at=now,
            approved_at=now,
            expires_at=now + term,
            created_at=now,
        )
        session.add(membership)
        await session.flush()
    else:
        membership.application_id = application.id
        membership.approved_at = now
        membership.expires_at = max(now, membership.expires_at) + term
        membership.status = MembershipState.active.value
        membership.status_changed_at = now
        membership.status_reason = None
        await session.execute(
            delete(MembershipCountry).where(MembershipCountry.membership_id == membership.id)
        )
    attached = {(code, Relation.citizenship) for code in application.citizenships}
    attached.add((application.residence_country, Relation.residence))
    attached.add((application.affiliation_country, Relation.affiliation))
    session.add_all(
        MembershipCountry(membership_id=membership.id, country_code=code, relation=relation.value)
        for code, relation in sorted(attached)
    )
    await session.flush()
    return membership


async def _notify(
    session: AsyncSession, runtime: Runtime, user_id: uuid.UUID, subject: str, body: str
) -> None:
    user = await session.get(User, user_id)
    if user is None:
        return
    recipient = user.email

    async def send() -> None:
        await runtime.mailer.send(recipient, subject, body + "\n")

    after_commit(session, send)


# action -> (states it applies to, resulting stored status)
_MEMBER_TRANSITIONS = {
    "suspend": ({MembershipState.active, MembershipState.expired}, MembershipState.suspended),
    "reinstate": ({MembershipState.suspended}, MembershipState.active),
    "revoke": (
        {MembershipState.active, MembershipState.expired, MembershipState.suspended},
        MembershipState.revoked,
    ),
}


async def change_member_status(
    session: AsyncSession,
    *,
    actor: Actor | None,
    user_id: uuid.UUID,
    action: str,
    reason: str,
) -> Membership:
    """Takes effect on the member's very next request: access is re-derived every time.

    Revocation is final and also ends every session and personal token the member holds.
    `actor` is None only for the system (e.g. an automatic screening suspension).
    """
    if actor is not None:
        enforce(policy.can_change_membership_of(actor, user_id))
    membership = await repository.membership_of(session, user_id, lock=True)
    if membership is None:
        raise NotFound("No membership for this user.")
    now = utcnow()
    state = policy.membership_state(membership.status, membership.expires_at, now)
    allowed, target = _MEMBER_TRANSITIONS[action]
    if state not in allowed:
        raise Conflict(
            f"Cannot {action} a membership that is {state.value if state else 'absent'}.",
            code="invalid_transition",
        )
    membership.status = target.value
    membership.status_reason = reason
    membership.status_changed_at = now
    if target is MembershipState.revoked:
        await identity_repository.revoke_sessions(session, user_id, "membership revoked")
        await identity_repository.revoke_personal_tokens(session, user_id)
    await audit.record(
        session,
        actor_id=actor.user_id if actor else None,
        action=f"membership.{action}",
        target_type="membership",
        target_id=user_id,
        reason=reason,
        details={"from": state.value if state else None, "to": target.value},
    )
    return membership


async def grant_role(
    session: AsyncSession, *, actor: Actor, user_id: uuid.UUID, role: Role
) -> list[str]:
    if await identity_repository.user_by_id(session, user_id) is None:
        raise NotFound("No such user.")
    roles = await identity_repository.roles_of(session, user_id)
    if role.value not in roles:
        session.add(
            UserRole(
                user_id=user_id, role=role.value, granted_by=actor.user_id, granted_at=utcnow()
            )
        )
        await session.flush()
        await audit.record(
            session,
            actor_id=actor.user_id,
            action="role.granted",
            target_type="user",
            target_id=user_id,
            details={"role": role.value},
        )
        roles = sorted([*roles, role.value])
    return roles


async def remove_role(
    session: AsyncSession, *, actor: Actor, user_id: uuid.UUID, role: Role
) -> list[str]:
    if await identity_repository.user_by_id(session, user_id) is None:
        raise NotFound("No such user.")
    if role is Role.admin:
        # Locks every admin row (PostgreSQL) so two concurrent removals cannot both pass.
        admins = await identity_repository.admin_ids(session, lock=True)
        if user_id in admins and len(admins) == 1:
            raise Conflict("The last admin cannot be removed.", code="last_admin")
    row = await session.get(UserRole, (user_id, role.value))
    if row is None:
        raise NotFound("The user does not hold this role.")
    await session.delete(row)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="role.removed",
        target_type="user",
        target_id=user_id,
        details={"role": role.value},
    )
    return await identity_repository.roles_of(session, user_id)


async def send_expiry_reminders(session: AsyncSession, runtime: Runtime) -> int:
    """Mail every member whose membership ends within the reminder window, once per term.

    Safe to run repeatedly (cron, or many processes): each membership records the expiry it
    was reminded about, and a renewal (new expiry) makes it eligible again.
    """
    now = utcnow()
    until = now + timedelta(days=runtime.settings.expiry_reminder_days)
    due = await repository.memberships_expiring(session, now=now, until=until)
    for membership, user in due:
        membership.reminder_sent_for = membership.expires_at
        await audit.record(
            session,
            actor_id=None,
            action="membership.expiry_reminder_sent",
            target_type="membership",
            target_id=user.id,
            details={"expires_at": membership.expires_at.isoformat()},
        )
        await _notify(
            session,
            runtime,
            user.id,
            "Your DURC Exchange membership expires soon",
            f"Your membership expires on {membership.expires_at.date().isoformat()}. "
            "Renew it by filing a new application (re-vetting) before then.",
        )
    return len(due)


async def count_admins(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(UserRole).where(UserRole.role == Role.admin.value)
        )
        or 0
    )
