"""The one module that decides access.

Everything here is a pure function of facts loaded for the request (the `Actor`) and the
object being touched; nothing here queries the database or caches across requests. Routes and
services ask these functions and never compare roles, states or tiers themselves.

A decision is either `None` (allowed) or a `Denial` carrying the error to answer with.
Objects the actor may not see are denied as `not_found`, exactly like missing ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.core.errors import Forbidden, NotFound, ProblemError


class Role(StrEnum):
    admin = "admin"
    moderator = "moderator"
    auditor = "auditor"


class Tier(StrEnum):
    general = "general"
    restricted = "restricted"
    us_only = "us_only"

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]


_TIER_RANK = {Tier.general: 1, Tier.restricted: 2, Tier.us_only: 3}


class MembershipState(StrEnum):
    active = "active"
    suspended = "suspended"
    revoked = "revoked"
    expired = "expired"


class CountryStatus(StrEnum):
    home = "home"
    certified = "certified"
    pending = "pending"
    suspended = "suspended"
    embargoed = "embargoed"


class Relation(StrEnum):
    citizenship = "citizenship"
    residence = "residence"
    affiliation = "affiliation"


_RELATION_WORDS = {
    Relation.citizenship: "citizenship",
    Relation.residence: "residence country",
    Relation.affiliation: "affiliation country",
}


@dataclass(frozen=True)
class CountryFact:
    """One country attached to a member, with the status it has at this moment."""

    code: str
    relation: Relation
    status: CountryStatus
    cert_tier: Tier | None = None
    cert_expires_at: datetime | None = None


@dataclass(frozen=True)
class Limit:
    country: str
    relation: Relation
    reason: str


@dataclass(frozen=True)
class Eligibility:
    tier: Tier | None
    limited_by: tuple[Limit, ...] = ()
    summary: str = ""


def membership_state(
    status: str | None, expires_at: datetime | None, now: datetime
) -> MembershipState | None:
    """Expiry is decided by the clock alone: no job has to run for access to stop."""
    if status is None:
        return None
    state = MembershipState(status)
    if state is MembershipState.active and expires_at is not None and expires_at <= now:
        return MembershipState.expired
    return state


def country_grant(fact: CountryFact, now: datetime) -> tuple[Tier | None, str]:
    """The highest tier one country opens, and the words that explain it."""
    if fact.status is CountryStatus.home:
        return Tier.us_only, "home country"
    if fact.status is CountryStatus.certified:
        if fact.cert_tier is None or fact.cert_expires_at is None:
            return None, "certification incomplete"
        if fact.cert_expires_at <= now:
            return None, f"certification expired on {fact.cert_expires_at.date().isoformat()}"
        return (
            fact.cert_tier,
            f"certified for {fact.cert_tier.value} until {fact.cert_expires_at.date().isoformat()}",
        )
    if fact.status is CountryStatus.suspended:
        return None, "certification suspended"
    if fact.status is CountryStatus.embargoed:
        return None, "embargoed"
    return None, "not certified"


def compute_eligibility(
    state: MembershipState | None, countries: Sequence[CountryFact], now: datetime
) -> Eligibility:
    """Effective tier = the lowest tier granted across every attached country.

    Deemed-export logic: a foreign national living in the US is still gated by nationality,
    so citizenships, residence and affiliation all count, and any one that grants nothing
    leaves the member with no tier.
    """
    if state is None:
        return Eligibility(None, (), "no membership")
    if state is not MembershipState.active:
        return Eligibility(None, (), f"membership {state.value}")
    if not countries:
        return Eligibility(None, (), "no countries on record")
    tier: Tier | None = Tier.us_only
    limits: list[Limit] = []
    for fact in sorted(countries, key=lambda f: (list(Relation).index(f.relation), f.code)):
        granted, why = country_grant(fact, now)
        if granted is None or granted.rank < Tier.us_only.rank:
            limits.append(
                Limit(
                    fact.code,
                    fact.relation,
                    f"limited by {_RELATION_WORDS[fact.relation]} {fact.code}: {why}",
                )
            )
        if granted is None:
            tier = None
        elif tier is not None and granted.rank < tier.rank:
            tier = granted
    if tier is None:
        summary = "no tier: " + "; ".join(limit.reason for limit in limits if limit)
    elif limits:
        summary = f"{tier.value}: " + "; ".join(limit.reason for limit in limits)
    else:
        summary = f"{tier.value}: every attached country is the home country"
    return Eligibility(tier, tuple(limits), summary)


@dataclass
class Actor:
    """Who is asking, as loaded afresh for this request."""

    user_id: uuid.UUID
    email: str
    display_name: str
    email_verified: bool
    roles: frozenset[Role]
    mfa_passed: bool
    via_personal_token: bool
    scopes: frozenset[str]
    session_id: uuid.UUID | None
    membership: MembershipState | None
    eligibility: Eligibility
    countries: tuple[CountryFact, ...] = field(default=())

    def has_role(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Denial:
    error: ProblemError


Decision = Denial | None


def _deny(error: ProblemError) -> Denial:
    return Denial(error)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_scope_allows(actor: Actor, method: str) -> Decision:
    """Personal access tokens: `read` reaches safe methods only, `write` everything else."""
    if actor.via_personal_token and method not in SAFE_METHODS and "write" not in actor.scopes:
        return _deny(Forbidden("This token lacks the write scope.", code="insufficient_scope"))
    return None


def can_administer(actor: Actor) -> Decision:
    """Admin routes need the role and a session that passed a second factor."""
    if not actor.has_role(Role.admin):
        return _deny(Forbidden("This needs the admin role."))
    if not actor.mfa_passed:
        return _deny(
            Forbidden("Admin actions need a session that passed TOTP.", code="mfa_required")
        )
    return None


def can_read_audit(actor: Actor) -> Decision:
    if actor.has_role(Role.admin) or actor.has_role(Role.auditor):
        return None
    return _deny(Forbidden("Only admins and auditors read the audit trail."))


def can_apply(actor: Actor) -> Decision:
    if not actor.email_verified:
        return _deny(Forbidden("Verify your e-mail address first.", code="email_unverified"))
    return None


def can_view_application(actor: Actor, applicant_id: uuid.UUID) -> Decision:
    if actor.user_id == applicant_id or can_administer(actor) is None:
        return None
    return _deny(NotFound())


def can_decide_application(actor: Actor, applicant_id: uuid.UUID) -> Decision:
    """Two-person integrity: nobody decides their own application."""
    if actor.user_id == applicant_id:
        return _deny(Forbidden("You cannot decide your own application."))
    return None


def can_change_membership_of(actor: Actor, member_id: uuid.UUID) -> Decision:
    if actor.user_id == member_id:
        return _deny(Forbidden("You cannot change your own membership."))
    return None


def can_reach_tier(actor: Actor, tier: Tier) -> bool:
    """Whether content of `tier` is visible; callers answer 404 when it is not."""
    reach = actor.eligibility.tier
    return reach is not None and tier.rank <= reach.rank


def reachable_tiers(actor: Actor) -> list[Tier]:
    reach = actor.eligibility.tier
    return [] if reach is None else [t for t in Tier if t.rank <= reach.rank]


def roles_of(values: Iterable[str]) -> frozenset[Role]:
    return frozenset(Role(v) for v in values if v in Role.__members__)
