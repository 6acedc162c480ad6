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

from app.core.errors import Conflict, Forbidden, NotFound, ProblemError


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


# --- Discussion ---------------------------------------------------------------------------
#
# Reading: an actor reads a topic's content when their eligibility tier reaches the topic's
# tier (eligibility already encodes an active, unexpired membership and every attached
# country). Roles never widen that reach. The tier gate is an export-control gate derived
# from vetting and nationality (deemed export); granting someone the moderator or admin role
# is not a vetting decision, so a moderator or admin without an active membership reaches no
# topic content and moderates nothing: for them every topic answers 404 like for anyone else.
# Admins still create, edit, re-tier and archive topics (metadata) through the admin routes.
# Moderators and admins moderate within their own reach, where they also see quarantined
# threads and the text of hidden or author-deleted posts (a review needs the original).
#
# Step-up: content at or above `EXCHANGE_STEP_UP_TIER` (default `us_only`; `none` turns it
# off) also needs a session that passed TOTP. Such a topic stays *visible* (listed, its
# metadata readable) to an eligible actor, but opening its threads, posts or search hits
# answers 403 `mfa_required`: the thing exists for them, the session is not strong enough.
# Lists (thread lists, search, notifications) simply leave out what the session cannot open.
# Personal access tokens never carry a TOTP pass, so scripts cannot read step-up content.


def step_up_tier(setting: str) -> Tier | None:
    """The `step_up_tier` setting as a tier, or None when step-up is switched off."""
    return None if setting == "none" else Tier(setting)


@dataclass(frozen=True)
class DiscussionScope:
    """What one actor may reach in discussion for this request, computed once per request.

    `visible_tiers`: topics whose existence and metadata the actor may know.
    `open_tiers`: topics whose threads and posts this session may read and write.
    """

    user_id: uuid.UUID
    visible_tiers: tuple[Tier, ...]
    open_tiers: tuple[Tier, ...]
    moderates: bool


def can_moderate(actor: Actor) -> Decision:
    if actor.has_role(Role.moderator) or actor.has_role(Role.admin):
        return None
    return _deny(Forbidden("This needs the moderator role."))


def needs_step_up(actor: Actor, tier: Tier, step_up: Tier | None) -> bool:
    return step_up is not None and tier.rank >= step_up.rank and not actor.mfa_passed


def discussion_scope(actor: Actor, step_up: Tier | None) -> DiscussionScope:
    visible = tuple(reachable_tiers(actor))
    opened = tuple(t for t in visible if not needs_step_up(actor, t, step_up))
    return DiscussionScope(actor.user_id, visible, opened, can_moderate(actor) is None)


def can_see_topic(scope: DiscussionScope, tier: Tier) -> Decision:
    """Unreachable topics do not exist for the caller: 404, never 403."""
    if tier not in scope.visible_tiers:
        return _deny(NotFound())
    return None


def _step_up_denial() -> Denial:
    return _deny(
        Forbidden(
            "Content at this tier needs a session that passed TOTP; sign in with your code.",
            code="mfa_required",
        )
    )


def can_open_topic(scope: DiscussionScope, tier: Tier) -> Decision:
    denial = can_see_topic(scope, tier)
    if denial is not None:
        return denial
    if tier not in scope.open_tiers:
        return _step_up_denial()
    return None


def can_open_thread(scope: DiscussionScope, tier: Tier, *, quarantined: bool) -> Decision:
    """A quarantined thread (DURC review hold) exists only for moderators and admins."""
    denial = can_see_topic(scope, tier)
    if denial is not None:
        return denial
    if quarantined and not scope.moderates:
        return _deny(NotFound())
    if tier not in scope.open_tiers:
        return _step_up_denial()
    return None


def can_read_post_text(
    scope: DiscussionScope, *, author_id: uuid.UUID, deleted: bool, hidden: bool
) -> bool:
    """Deleted and hidden posts stay listed as placeholders; their text is for the author
    and for moderators (who review what was removed) only."""
    if not deleted and not hidden:
        return True
    return author_id == scope.user_id or scope.moderates


def can_read_revisions(
    scope: DiscussionScope, *, author_id: uuid.UUID, deleted: bool, hidden: bool
) -> Decision:
    """A removed post is visible as a placeholder, so its history is refused, not hidden."""
    if can_read_post_text(scope, author_id=author_id, deleted=deleted, hidden=hidden):
        return None
    return _deny(Forbidden("The text of a removed post is not shown.", code="post_removed"))


def can_contribute(*, archived: bool, locked: bool = False, quarantined: bool = False) -> Decision:
    """New threads, posts and edits: not in archived topics, locked or quarantined threads."""
    if archived:
        return _deny(Conflict("This topic is archived.", code="topic_archived"))
    if quarantined:
        return _deny(Conflict("This thread is on a review hold.", code="thread_quarantined"))
    if locked:
        return _deny(Conflict("This thread is locked.", code="thread_locked"))
    return None


def can_edit_post(
    scope: DiscussionScope, *, author_id: uuid.UUID, deleted: bool, hidden: bool
) -> Decision:
    if author_id != scope.user_id:
        return _deny(Forbidden("Only the author may edit a post."))
    if deleted:
        return _deny(Conflict("This post was deleted.", code="post_deleted"))
    if hidden:
        # Rewriting a post a moderator hid would launder it past the moderation decision.
        return _deny(Conflict("A moderator hid this post.", code="post_hidden"))
    return None


def can_delete_post(scope: DiscussionScope, *, author_id: uuid.UUID) -> Decision:
    """Authors delete their own posts; moderators hide (reasoned, audited, reversible)."""
    if author_id != scope.user_id:
        return _deny(Forbidden("Only the author may delete a post."))
    return None


def can_flag_post(scope: DiscussionScope, *, author_id: uuid.UUID, deleted: bool) -> Decision:
    if author_id == scope.user_id:
        return _deny(Forbidden("You cannot flag your own post.", code="own_post"))
    if deleted:
        return _deny(Conflict("This post was deleted.", code="post_deleted"))
    return None


# --- Artifacts ----------------------------------------------------------------------------
#
# An artifact's tier is its topic's tier, read on every request. Reaching an artifact (its
# metadata, versions, content, provenance) is reaching its topic's content: `can_open_topic`
# with the discussion scope, so an unreachable topic's artifacts answer 404 and step-up tiers
# 403 `mfa_required`, exactly as threads do.
#
# Release review (human oversight by design): versions uploaded into `restricted` and
# `us_only` topics start `pending_review`. An admin who did not upload the version releases or
# rejects it. Reviewing means receiving the content, so the reviewer must reach the topic like
# anyone else (a role is not a vetting decision, see Discussion). Rejected versions are kept
# for the record and served to nobody.
#
# Download records are the export record: admins and auditors read them for any artifact
# (they say who received what, never the content); the uploader reads them for their own
# artifact while they can still reach it.


class ArtifactStatus(StrEnum):
    available = "available"
    pending_review = "pending_review"
    rejected = "rejected"


def initial_artifact_status(tier: Tier) -> ArtifactStatus:
    if tier.rank >= Tier.restricted.rank:
        return ArtifactStatus.pending_review
    return ArtifactStatus.available


def can_upload_artifact(scope: DiscussionScope, tier: Tier, *, archived: bool) -> Decision:
    denial = can_open_topic(scope, tier)
    if denial is not None:
        return denial
    return can_contribute(archived=archived)


def can_add_artifact_version(
    scope: DiscussionScope, tier: Tier, *, archived: bool, owner_id: uuid.UUID
) -> Decision:
    denial = can_upload_artifact(scope, tier, archived=archived)
    if denial is not None:
        return denial
    if owner_id != scope.user_id:
        return _deny(Forbidden("Only the artifact's uploader adds versions."))
    return None


def can_receive_version(actor: Actor, status: ArtifactStatus) -> Decision:
    """Content (and provenance) of a version the caller can already reach: released ones for
    everyone, pending ones for admins only (they review them), rejected ones for nobody."""
    if status is ArtifactStatus.available:
        return None
    if status is ArtifactStatus.pending_review:
        if can_administer(actor) is None:
            return None
        return _deny(Conflict("This artifact awaits release review.", code="pending_review"))
    return _deny(
        Conflict("This artifact was rejected at release review.", code="artifact_rejected")
    )


def can_review_artifact(
    actor: Actor,
    scope: DiscussionScope,
    tier: Tier,
    *,
    uploader_id: uuid.UUID,
    status: ArtifactStatus,
) -> Decision:
    """Called for admins (the route requires the role and TOTP); two-person rule on uploads."""
    denial = can_open_topic(scope, tier)
    if denial is not None:
        return denial
    if uploader_id == actor.user_id:
        return _deny(Forbidden("You cannot review your own artifact."))
    if status is not ArtifactStatus.pending_review:
        return _deny(Conflict("This version is not awaiting review.", code="not_pending_review"))
    return None


def can_read_download_records(
    actor: Actor, scope: DiscussionScope, tier: Tier, *, uploader_id: uuid.UUID
) -> Decision:
    if can_read_audit(actor) is None:
        return None
    denial = can_open_topic(scope, tier)
    if denial is not None:
        return denial
    if uploader_id != actor.user_id:
        return _deny(
            Forbidden("Only admins, auditors and the uploader see who downloaded an artifact.")
        )
    return None
