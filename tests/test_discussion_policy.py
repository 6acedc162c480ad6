"""The discussion policy functions, per role and tier, without a database; and the SQL
predicates in the repository against the same decisions."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from app import policy
from app.core.runtime import Runtime
from app.discussion import repository
from app.models import Post, Thread, Topic
from app.models.base import utcnow
from app.policy import (
    Actor,
    CountryFact,
    CountryStatus,
    DiscussionScope,
    Eligibility,
    MembershipState,
    Relation,
    Role,
    Tier,
)
from tests.helpers import World


def _actor(tier: Tier | None, *roles: Role, mfa: bool = False) -> Actor:
    return Actor(
        user_id=uuid.uuid4(),
        email="a@example.org",
        display_name="A",
        email_verified=True,
        roles=frozenset(roles),
        mfa_passed=mfa,
        via_personal_token=False,
        scopes=frozenset({"read", "write"}),
        session_id=None,
        membership=MembershipState.active if tier else None,
        eligibility=Eligibility(tier),
        countries=(CountryFact("US", Relation.citizenship, CountryStatus.home),),
    )


def _code(decision: policy.Decision) -> str | None:
    return None if decision is None else f"{decision.error.status} {decision.error.code}"


def test_step_up_setting() -> None:
    assert policy.step_up_tier("none") is None
    assert policy.step_up_tier("restricted") is Tier.restricted
    with pytest.raises(ValueError, match="nope"):
        policy.step_up_tier("nope")


@pytest.mark.parametrize(
    ("reach", "mfa", "step_up", "visible", "opened"),
    [
        (Tier.us_only, False, Tier.us_only, "g r u", "g r"),
        (Tier.us_only, True, Tier.us_only, "g r u", "g r u"),
        (Tier.us_only, False, None, "g r u", "g r u"),
        (Tier.restricted, False, Tier.general, "g r", ""),
        (Tier.general, False, Tier.us_only, "g", "g"),
        (None, True, None, "", ""),
    ],
)
def test_scope(
    reach: Tier | None, mfa: bool, step_up: Tier | None, visible: str, opened: str
) -> None:
    scope = policy.discussion_scope(_actor(reach, mfa=mfa), step_up)
    short = {Tier.general: "g", Tier.restricted: "r", Tier.us_only: "u"}
    assert " ".join(short[t] for t in scope.visible_tiers) == visible
    assert " ".join(short[t] for t in scope.open_tiers) == opened


@pytest.mark.parametrize(
    ("roles", "reach", "moderates"),
    [
        ((), Tier.us_only, False),
        ((Role.moderator,), Tier.us_only, True),
        ((Role.admin,), Tier.general, True),
        ((Role.auditor,), Tier.us_only, False),
        # The role alone reaches nothing: no membership, no tier.
        ((Role.moderator,), None, True),
    ],
)
def test_roles_never_widen_reach(
    roles: tuple[Role, ...], reach: Tier | None, moderates: bool
) -> None:
    scope = policy.discussion_scope(_actor(reach, *roles), None)
    assert scope.moderates is moderates
    for tier in Tier:
        reachable = reach is not None and tier.rank <= reach.rank
        assert (policy.can_see_topic(scope, tier) is None) is reachable


def test_thread_decisions_order() -> None:
    member = policy.discussion_scope(_actor(Tier.restricted), Tier.restricted)
    mod = policy.discussion_scope(_actor(Tier.restricted, Role.moderator), Tier.restricted)
    # Unreachable: 404 before anything else, whether or not quarantined.
    assert _code(policy.can_open_thread(member, Tier.us_only, quarantined=False)) == (
        "404 not_found"
    )
    # Quarantine hides from members (404) even when step-up would also be missing.
    assert _code(policy.can_open_thread(member, Tier.restricted, quarantined=True)) == (
        "404 not_found"
    )
    # Visible, but this session has not passed TOTP.
    assert _code(policy.can_open_thread(member, Tier.restricted, quarantined=False)) == (
        "403 mfa_required"
    )
    assert _code(policy.can_open_thread(mod, Tier.restricted, quarantined=True)) == (
        "403 mfa_required"
    )
    assert policy.can_open_thread(mod, Tier.general, quarantined=True) is None
    assert _code(policy.can_open_topic(member, Tier.restricted)) == "403 mfa_required"
    assert policy.can_see_topic(member, Tier.restricted) is None


def test_post_decisions() -> None:
    author = uuid.uuid4()
    scope = DiscussionScope(author, (Tier.general,), (Tier.general,), moderates=False)
    other = replace(scope, user_id=uuid.uuid4())
    mod = replace(other, moderates=True)
    assert policy.can_read_post_text(other, author_id=author, deleted=False, hidden=False)
    for deleted, hidden in [(True, False), (False, True)]:
        assert not policy.can_read_post_text(
            other, author_id=author, deleted=deleted, hidden=hidden
        )
        assert policy.can_read_post_text(scope, author_id=author, deleted=deleted, hidden=hidden)
        assert policy.can_read_post_text(mod, author_id=author, deleted=deleted, hidden=hidden)
        assert (
            _code(
                policy.can_read_revisions(other, author_id=author, deleted=deleted, hidden=hidden)
            )
            == "403 post_removed"
        )
    assert _code(policy.can_edit_post(other, author_id=author, deleted=False, hidden=False)) == (
        "403 forbidden"
    )
    # Moderators hide; they do not rewrite someone else's words.
    assert _code(policy.can_edit_post(mod, author_id=author, deleted=False, hidden=False)) == (
        "403 forbidden"
    )
    assert _code(policy.can_edit_post(scope, author_id=author, deleted=True, hidden=False)) == (
        "409 post_deleted"
    )
    assert _code(policy.can_edit_post(scope, author_id=author, deleted=False, hidden=True)) == (
        "409 post_hidden"
    )
    assert policy.can_delete_post(scope, author_id=author) is None
    assert _code(policy.can_delete_post(mod, author_id=author)) == "403 forbidden"
    assert _code(policy.can_flag_post(scope, author_id=author, deleted=False)) == "403 own_post"
    assert _code(policy.can_flag_post(other, author_id=author, deleted=True)) == (
        "409 post_deleted"
    )


@pytest.mark.parametrize(
    ("archived", "locked", "quarantined", "expected"),
    [
        (False, False, False, None),
        (True, True, True, "409 topic_archived"),
        (False, True, True, "409 thread_quarantined"),
        (False, True, False, "409 thread_locked"),
    ],
)
def test_contribute(archived: bool, locked: bool, quarantined: bool, expected: str | None) -> None:
    decision = policy.can_contribute(archived=archived, locked=locked, quarantined=quarantined)
    assert _code(decision) == expected


def test_moderation_role() -> None:
    assert policy.can_moderate(_actor(None, Role.moderator)) is None
    assert policy.can_moderate(_actor(None, Role.admin)) is None
    assert _code(policy.can_moderate(_actor(Tier.us_only))) == "403 forbidden"
    assert _code(policy.can_moderate(_actor(Tier.us_only, Role.auditor))) == "403 forbidden"


async def test_sql_predicates_match_the_policy(world: World, runtime: Runtime) -> None:
    """The repository's SQL (`open_content`, `readable_text`) decides exactly like the policy
    functions it mirrors, over every combination of tier, quarantine and removal."""
    author = await world.member("author")
    now = utcnow()
    threads: list[tuple[uuid.UUID, bool]] = []
    for tier in Tier:
        slug = await world.topic(f"sql-{tier.value.replace('_', '-')}", tier=tier.value)
        for quarantined in (False, True):
            thread_id, _first = await world.thread(slug, author)
            threads.append((thread_id, quarantined))
    async with runtime.db.session() as session:
        rows = (await session.execute(select(Thread.id, Thread.topic_id))).all()
        topics = {thread_id: topic_id for thread_id, topic_id in rows}
    async with runtime.db.session() as session:
        for thread_id, quarantined in threads:
            for seq, (deleted, hidden) in enumerate([(True, False), (False, True)], start=2):
                session.add(
                    Post(
                        id=uuid.uuid4(),
                        thread_id=thread_id,
                        topic_id=topics[thread_id],
                        seq=seq,
                        author_id=author.user_id,
                        body="x",
                        revision=1,
                        created_at=now,
                        deleted_at=now if deleted else None,
                        hidden_at=now if hidden else None,
                    )
                )
            if quarantined:
                await session.execute(
                    update(Thread).where(Thread.id == thread_id).values(quarantined_at=now)
                )
    joined = (
        select(
            Post.id,
            Post.author_id,
            Post.deleted_at,
            Post.hidden_at,
            Thread.quarantined_at,
            Topic.tier,
        )
        .join(Thread, Thread.id == Post.thread_id)
        .join(Topic, Topic.id == Thread.topic_id)
    )
    tiers = list(Tier)
    async with runtime.db.session() as session:
        every = (await session.execute(joined)).all()
        assert len(every) == 18
        for visible in range(4):
            for opened in range(visible + 1):
                for moderates in (False, True):
                    for user_id in (author.user_id, uuid.uuid4()):
                        scope = DiscussionScope(
                            user_id, tuple(tiers[:visible]), tuple(tiers[:opened]), moderates
                        )
                        query = joined.where(
                            *repository.open_content(scope), repository.readable_text(scope)
                        )
                        sql = {row.id for row in (await session.execute(query)).all()}
                        expected = {
                            row.id
                            for row in every
                            if policy.can_open_thread(
                                scope, Tier(row.tier), quarantined=row.quarantined_at is not None
                            )
                            is None
                            and policy.can_read_post_text(
                                scope,
                                author_id=row.author_id,
                                deleted=row.deleted_at is not None,
                                hidden=row.hidden_at is not None,
                            )
                        }
                        assert sql == expected, scope
