"""Discussion queries. Every list is scoped in SQL to what the caller may see *before* LIMIT,
so a page is never short and never reveals how much was left out.

The SQL predicates here mirror the policy functions they name (`app.policy`); tests check
both against the same cases. Lists select plain columns (no ORM entities) on the hot paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, and_, exists, false, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from app.discussion.schemas import EXCERPT_CHARS
from app.discussion.search import SearchPlan
from app.models import (
    DiscussionProfile,
    Notification,
    Post,
    PostFlag,
    PostRevision,
    Thread,
    ThreadWatch,
    Topic,
    TopicWatch,
    User,
)
from app.policy import DiscussionScope, Tier

AnyRow = Row[*tuple[Any, ...]]
AnySelect = Select[*tuple[Any, ...]]
Rows = Sequence[AnyRow]


async def insert_ignoring_duplicates(
    session: AsyncSession, model: type[Any], values: dict[str, Any]
) -> None:
    """INSERT that leaves an existing row alone (a unique key already taken is not an error),
    so concurrent identical requests cannot fail each other."""
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = pg_insert(model).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite_insert(model).values(**values).on_conflict_do_nothing()
    await session.execute(statement)


def tier_in(tiers: Sequence[Tier]) -> ColumnElement[bool]:
    """`topics.tier` is one of `tiers`, as plain comparisons: an IN list would be an
    "expanding" parameter, which SQLAlchemy splices into the SQL text on every execution at a
    cost that grows with the statement (search statements are long)."""
    if not tiers:
        return false()
    return or_(*(Topic.tier == tier.value for tier in tiers))


def open_content(scope: DiscussionScope) -> list[ColumnElement[bool]]:
    """SQL for `policy.can_open_thread`: the topic's tier is open to this session, and the
    thread is not quarantined unless the caller moderates. Needs Topic and Thread joined."""
    clauses: list[ColumnElement[bool]] = [tier_in(scope.open_tiers)]
    if not scope.moderates:
        clauses.append(Thread.quarantined_at.is_(None))
    return clauses


def readable_text(scope: DiscussionScope) -> ColumnElement[bool]:
    """SQL for `policy.can_read_post_text`. Needs Post joined."""
    if scope.moderates:
        return true()
    return or_(
        and_(Post.deleted_at.is_(None), Post.hidden_at.is_(None)),
        Post.author_id == scope.user_id,
    )


def _author(user: Any, profile: Any, prefix: str = "author") -> tuple[Any, Any]:
    return (user.display_name.label(f"{prefix}_name"), profile.handle.label(f"{prefix}_handle"))


# --- Topics -------------------------------------------------------------------------------


async def topic_by_slug(session: AsyncSession, slug: str, *, lock: bool = False) -> Topic | None:
    query = select(Topic).where(Topic.slug == slug)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def list_topics(
    session: AsyncSession,
    *,
    tiers: Sequence[Tier] | None,
    include_archived: bool,
    after_slug: str | None,
    limit: int,
) -> Sequence[Topic]:
    """`tiers=None` lists every topic (admin view)."""
    query = select(Topic).order_by(Topic.slug).limit(limit)
    if tiers is not None:
        query = query.where(tier_in(tiers))
    if not include_archived:
        query = query.where(Topic.archived_at.is_(None))
    if after_slug is not None:
        query = query.where(Topic.slug > after_slug)
    return (await session.scalars(query)).all()


# --- Threads ------------------------------------------------------------------------------

_thread_author = aliased(User, name="thread_author")
_thread_profile = aliased(DiscussionProfile, name="thread_author_profile")

THREAD_COLUMNS = (
    Thread.id,
    Thread.seq,
    Thread.title,
    Thread.created_at,
    Thread.post_count,
    Thread.last_post_at,
    Thread.locked_at,
    Thread.lock_reason,
    Thread.quarantined_at,
    Thread.quarantine_reason,
    Thread.author_id,
    *_author(_thread_author, _thread_profile),
)


def _with_thread_author(query: AnySelect) -> AnySelect:
    return query.join(_thread_author, _thread_author.id == Thread.author_id).outerjoin(
        _thread_profile, _thread_profile.user_id == Thread.author_id
    )


async def thread_in_topic(
    session: AsyncSession, thread_id: uuid.UUID, *, lock: bool = False
) -> tuple[Thread, Topic] | None:
    query = select(Thread, Topic).join(Topic, Topic.id == Thread.topic_id)
    query = query.where(Thread.id == thread_id)
    if lock:
        query = query.with_for_update(of=Thread)
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def thread_row(session: AsyncSession, thread_id: uuid.UUID) -> AnyRow | None:
    query = _with_thread_author(select(*THREAD_COLUMNS)).where(Thread.id == thread_id)
    return (await session.execute(query)).first()


async def thread_page(
    session: AsyncSession,
    topic_id: uuid.UUID,
    *,
    include_quarantined: bool,
    before_seq: int | None,
    limit: int,
) -> Rows:
    """Newest first by `seq`: threads created while a reader pages only appear on page one,
    and `seq` is handed out in commit order, so none is skipped or repeated."""
    query = (
        _with_thread_author(select(*THREAD_COLUMNS))
        .where(Thread.topic_id == topic_id)
        .order_by(Thread.seq.desc())
        .limit(limit)
    )
    if not include_quarantined:
        query = query.where(Thread.quarantined_at.is_(None))
    if before_seq is not None:
        query = query.where(Thread.seq < before_seq)
    return (await session.execute(query)).all()


async def claim_thread_seq(session: AsyncSession, topic_id: uuid.UUID) -> AnyRow:
    """Take the topic row lock until commit and hand out the next thread number, with the
    topic's tier and archive state as of that lock (re-judged by the caller under it)."""
    row = (
        await session.execute(
            update(Topic)
            .where(Topic.id == topic_id)
            .values(thread_seq=Topic.thread_seq + 1)
            .returning(Topic.thread_seq, Topic.tier, Topic.archived_at)
        )
    ).first()
    assert row is not None  # noqa: S101 - the caller loaded the topic in this transaction
    return row


async def claim_post_seq(session: AsyncSession, thread_id: uuid.UUID, now: datetime) -> AnyRow:
    """Take the thread row lock until commit and hand out the next post number.

    Returns the fresh lock and quarantine state as well: they must be judged under the lock,
    or a thread locked a moment ago could still receive a post.
    """
    row = (
        await session.execute(
            update(Thread)
            .where(Thread.id == thread_id)
            .values(post_count=Thread.post_count + 1, last_post_at=now)
            .returning(Thread.post_count, Thread.locked_at, Thread.quarantined_at)
        )
    ).first()
    assert row is not None  # noqa: S101 - the caller loaded the thread in this transaction
    return row


# --- Posts --------------------------------------------------------------------------------

_post_author = aliased(User, name="post_author")
_post_profile = aliased(DiscussionProfile, name="post_author_profile")

POST_COLUMNS = (
    Post.id,
    Post.key,
    Post.thread_id,
    Post.seq,
    Post.author_id,
    Post.reply_to_id,
    Post.body,
    Post.created_at,
    Post.edited_at,
    Post.revision,
    Post.deleted_at,
    Post.hidden_at,
    Post.hidden_reason,
    *_author(_post_author, _post_profile),
)


def _with_post_author(query: AnySelect) -> AnySelect:
    return query.join(_post_author, _post_author.id == Post.author_id).outerjoin(
        _post_profile, _post_profile.user_id == Post.author_id
    )


async def post_in_context(
    session: AsyncSession, post_id: uuid.UUID, *, lock: bool = False
) -> tuple[Post, Thread, Topic] | None:
    query = (
        select(Post, Thread, Topic)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Topic, Topic.id == Thread.topic_id)
        .where(Post.id == post_id)
    )
    if lock:
        query = query.with_for_update(of=Post)
    row = (await session.execute(query)).first()
    return (row[0], row[1], row[2]) if row else None


async def post_row(session: AsyncSession, post_id: uuid.UUID) -> AnyRow | None:
    query = _with_post_author(select(*POST_COLUMNS)).where(Post.id == post_id)
    return (await session.execute(query)).first()


async def post_page(
    session: AsyncSession, thread_id: uuid.UUID, *, after_seq: int | None, limit: int
) -> Rows:
    """Oldest first by `seq` (handed out in commit order): every post exactly once."""
    query = (
        _with_post_author(select(*POST_COLUMNS))
        .where(Post.thread_id == thread_id)
        .order_by(Post.seq)
        .limit(limit)
    )
    if after_seq is not None:
        query = query.where(Post.seq > after_seq)
    return (await session.execute(query)).all()


async def post_in_thread(
    session: AsyncSession, thread_id: uuid.UUID, post_id: uuid.UUID
) -> AnyRow | None:
    return (
        await session.execute(
            select(Post.id, Post.author_id).where(Post.id == post_id, Post.thread_id == thread_id)
        )
    ).first()


async def revision_page(
    session: AsyncSession, post_id: uuid.UUID, *, after: int | None, limit: int
) -> Sequence[PostRevision]:
    query = (
        select(PostRevision)
        .where(PostRevision.post_id == post_id)
        .order_by(PostRevision.revision)
        .limit(limit)
    )
    if after is not None:
        query = query.where(PostRevision.revision > after)
    return (await session.scalars(query)).all()


# --- Flags --------------------------------------------------------------------------------

_flagger = aliased(User, name="flagger")
_flagger_profile = aliased(DiscussionProfile, name="flagger_profile")


def _flags_in_context(*columns: Any) -> AnySelect:
    """A flag with its flagger, joined to its post, thread and topic, plus `columns`."""
    return (
        select(
            PostFlag.id.label("flag_id"),
            PostFlag.post_id,
            PostFlag.reason,
            PostFlag.status,
            PostFlag.created_at.label("flagged_at"),
            PostFlag.resolved_at,
            PostFlag.resolved_by,
            PostFlag.resolution_reason,
            PostFlag.flagger_id,
            *_author(_flagger, _flagger_profile, "flagger"),
            Topic.slug.label("topic_slug"),
            *columns,
        )
        .select_from(PostFlag)
        .join(Post, Post.id == PostFlag.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Topic, Topic.id == Thread.topic_id)
        .join(_flagger, _flagger.id == PostFlag.flagger_id)
        .outerjoin(_flagger_profile, _flagger_profile.user_id == PostFlag.flagger_id)
    )


async def flag_queue(
    session: AsyncSession,
    scope: DiscussionScope,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Rows:
    """Oldest first (a queue), limited to posts the moderator may open."""
    query = _with_post_author(_flags_in_context(*POST_COLUMNS)).where(*open_content(scope))
    if status is not None:
        query = query.where(PostFlag.status == status)
    if after is not None:
        created, last_id = after
        query = query.where(
            or_(
                PostFlag.created_at > created,
                and_(PostFlag.created_at == created, PostFlag.id > last_id),
            )
        )
    query = query.order_by(PostFlag.created_at, PostFlag.id).limit(limit)
    return (await session.execute(query)).all()


async def flag_in_context(
    session: AsyncSession, flag_id: uuid.UUID
) -> tuple[PostFlag, Post, Thread, Topic] | None:
    row = (
        await session.execute(
            select(PostFlag, Post, Thread, Topic)
            .join(Post, Post.id == PostFlag.post_id)
            .join(Thread, Thread.id == Post.thread_id)
            .join(Topic, Topic.id == Thread.topic_id)
            .where(PostFlag.id == flag_id)
        )
    ).first()
    return (row[0], row[1], row[2], row[3]) if row else None


async def flag_row(session: AsyncSession, flag_id: uuid.UUID) -> AnyRow | None:
    query = _flags_in_context(Post.thread_id).where(PostFlag.id == flag_id)
    return (await session.execute(query)).first()


async def resolve_open_flags(
    session: AsyncSession,
    post_id: uuid.UUID,
    *,
    by: uuid.UUID,
    reason: str,
    now: datetime,
) -> int:
    result = await session.execute(
        update(PostFlag)
        .where(PostFlag.post_id == post_id, PostFlag.status == "open")
        .values(status="actioned", resolved_at=now, resolved_by=by, resolution_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- Search -------------------------------------------------------------------------------


# Relevance ranking considers at most this many matches: the newest the caller may see.
# Finding them costs about the same whether a word is in 40 posts or in 140,000 (see
# `app.discussion.search`), where ranking every match would grow with the corpus. A query
# matching more is ranked within its most recent matches; `sort=recent` pages through every
# match, newest first.
SEARCH_CANDIDATES = 250

# What a hit shows, and no more: a page has up to 50, and a body can be 64 KiB.
SEARCH_HIT_COLUMNS = (
    Post.id,
    Post.key,
    Post.thread_id,
    Post.seq,
    Post.author_id,
    func.substr(Post.body, 1, EXCERPT_CHARS + 1).label("body"),
    Post.created_at,
    Post.hidden_at.is_not(None).label("hidden"),
    *_author(_post_author, _post_profile),
)


async def search_posts(
    session: AsyncSession,
    scope: DiscussionScope,
    plan: SearchPlan,
    *,
    topic_id: uuid.UUID | None,
    after: tuple[float, int] | None,
    limit: int,
    recent: bool = False,
) -> Rows:
    """Ranked hits the caller may open right now; deleted posts are never found, hidden ones
    only by moderators. Order: score, then newest; the cursor is `(score, key)`.

    Three steps, each nested so the database cannot reorder them: find the candidates (match
    and visibility on the post row itself: its topic's tier, removal, quarantine), score and
    page them, and only then join threads, topics and authors for one page.
    """
    # Built once: every query that finds candidates takes the same conditions.
    conditions: list[ColumnElement[bool]] = [
        Post.topic_id.in_(select(Topic.id).where(tier_in(scope.open_tiers))),
        Post.deleted_at.is_(None),
    ]
    if not scope.moderates:
        quarantined = exists().where(
            Thread.id == Post.thread_id, Thread.quarantined_at.is_not(None)
        )
        conditions += [Post.hidden_at.is_(None), ~quarantined]
    if topic_id is not None:
        conditions.append(Post.topic_id == topic_id)
    if recent and after is not None:
        conditions.append(Post.key < after[1])

    def visible(query: AnySelect) -> AnySelect:
        return query.where(*conditions)

    if recent:
        # Newest first over every match; the cursor's key alone positions the page.
        window = plan.candidates(visible, limit)
        page = select(window.c.key, plan.score(window.c.carried).label("score")).subquery("page")
        order: tuple[UnaryExpression[Any], ...] = (page.c.key.desc(),)
    else:
        window = plan.candidates(visible, SEARCH_CANDIDATES)
        # LIMIT keeps PostgreSQL from merging this level into the next (and scoring twice).
        scored = (
            select(window.c.key, plan.score(window.c.carried).label("score"))
            .limit(SEARCH_CANDIDATES)
            .subquery("scored")
        )
        ranked = select(scored.c.key, scored.c.score)
        if after is not None:
            last_score, last_key = after
            ranked = ranked.where(
                or_(
                    scored.c.score < last_score,
                    and_(scored.c.score == last_score, scored.c.key < last_key),
                )
            )
        page = (
            ranked.order_by(scored.c.score.desc(), scored.c.key.desc())
            .limit(limit)
            .subquery("page")
        )
        order = (page.c.score.desc(), page.c.key.desc())
    query = _with_post_author(
        select(
            *SEARCH_HIT_COLUMNS,
            Thread.title.label("thread_title"),
            Topic.slug.label("topic_slug"),
            Topic.title.label("topic_title"),
            Topic.tier.label("topic_tier"),
            page.c.score,
        )
        .select_from(page)
        .join(Post, Post.key == page.c.key)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Topic, Topic.id == Post.topic_id)
    ).order_by(*order)
    return (await session.execute(query)).all()


# --- Notifications and watches ------------------------------------------------------------

_actor_user = aliased(User, name="notifying_user")
_actor_profile = aliased(DiscussionProfile, name="notifying_profile")


def _visible_notifications(scope: DiscussionScope) -> AnySelect:
    """Notifications joined to what they point at, kept only while the recipient may still
    open it *now*: tier, quarantine and post removal are all judged at read time."""
    return (
        select(
            Notification.id,
            Notification.kind,
            Notification.created_at,
            Notification.read_at,
            Notification.actor_id,
            *_author(_actor_user, _actor_profile, "actor"),
            Post.id.label("post_id"),
            Post.seq.label("post_seq"),
            Post.body,
            Post.deleted_at,
            Post.hidden_at,
            Thread.id.label("thread_id"),
            Thread.title.label("thread_title"),
            Topic.slug.label("topic_slug"),
            Topic.title.label("topic_title"),
            Topic.tier.label("topic_tier"),
        )
        .select_from(Notification)
        .join(Post, Post.id == Notification.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Topic, Topic.id == Thread.topic_id)
        .outerjoin(_actor_user, _actor_user.id == Notification.actor_id)
        .outerjoin(_actor_profile, _actor_profile.user_id == Notification.actor_id)
        .where(
            Notification.user_id == scope.user_id,
            *open_content(scope),
            Post.deleted_at.is_(None),
            readable_text(scope),
        )
    )


async def notification_page(
    session: AsyncSession,
    scope: DiscussionScope,
    *,
    unread_only: bool,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Rows:
    query = _visible_notifications(scope)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if after is not None:
        created, last_id = after
        query = query.where(
            or_(
                Notification.created_at < created,
                and_(Notification.created_at == created, Notification.id < last_id),
            )
        )
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return (await session.execute(query)).all()


async def visible_notification(
    session: AsyncSession, scope: DiscussionScope, notification_id: uuid.UUID
) -> AnyRow | None:
    query = _visible_notifications(scope).where(Notification.id == notification_id)
    return (await session.execute(query)).first()


async def undigested(session: AsyncSession, scope: DiscussionScope) -> list[uuid.UUID]:
    """Unread notifications not yet counted in a mail digest, and still visible now."""
    query = _visible_notifications(scope).where(
        Notification.read_at.is_(None), Notification.emailed_at.is_(None)
    )
    ids = await session.scalars(select(query.subquery().c.id))
    return list(ids.all())


async def topic_watches(session: AsyncSession, scope: DiscussionScope) -> Rows:
    return (
        await session.execute(
            select(TopicWatch.created_at, Topic.slug, Topic.title, Topic.tier)
            .join(Topic, Topic.id == TopicWatch.topic_id)
            .where(
                TopicWatch.user_id == scope.user_id,
                tier_in(scope.visible_tiers),
            )
            .order_by(Topic.slug)
        )
    ).all()


async def thread_watches(session: AsyncSession, scope: DiscussionScope) -> Rows:
    return (
        await session.execute(
            select(
                ThreadWatch.created_at,
                Thread.id.label("thread_id"),
                Thread.title.label("thread_title"),
                Topic.slug,
                Topic.title,
                Topic.tier,
            )
            .join(Thread, Thread.id == ThreadWatch.thread_id)
            .join(Topic, Topic.id == Thread.topic_id)
            .where(ThreadWatch.user_id == scope.user_id, *open_content(scope))
            .order_by(ThreadWatch.created_at.desc(), Thread.id)
        )
    ).all()
