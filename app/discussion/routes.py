"""Topics, threads, posts, moderation, search, notifications. Routes stay thin: access and
actions live in `service`, scoped queries in `repository`, decisions in `app.policy`."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Response, status
from sqlalchemy import Row

from app import policy
from app.auth import AdminActor, AppRuntime, CurrentActor, DbSession, ModeratorActor, enforce
from app.core.errors import NotFound, Unprocessable, problem_responses
from app.core.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from app.core.types import SingleLine
from app.core.uow import domain_router
from app.discussion import handles, repository, search, service, views
from app.discussion.schemas import (
    FlagCreate,
    FlagRead,
    ModFlagRead,
    NotificationRead,
    OptionalReasonRequest,
    PostCreate,
    PostRead,
    PostUpdate,
    ProfileRead,
    ProfileUpdate,
    ReasonRequest,
    RevisionRead,
    SearchHit,
    ThreadBrief,
    ThreadCreate,
    ThreadCreated,
    ThreadDetail,
    ThreadRead,
    TopicAdminRead,
    TopicCreate,
    TopicRead,
    TopicUpdate,
    WatchRead,
)
from app.models import Post, PostFlag
from app.policy import Actor, DiscussionScope

router = domain_router(tags=["discussion"])

READ = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)
ADMIN = problem_responses(401, 403, 404, 409, 422)


async def discussion_page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> tuple[int, str | None]:
    """`page_params` as an `async def`: a plain `def` dependency costs a worker-thread
    hand-off on every request of these hot lists."""
    return limit, cursor


PageArgs = Annotated[tuple[int, str | None], Depends(discussion_page)]
# Malformed slugs are refused before they reach the database (PostgreSQL rejects NUL bytes).
SlugPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
SlugQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]


@dataclass(frozen=True)
class Caller:
    """The actor and what they may reach in discussion, computed once per request."""

    actor: Actor
    scope: DiscussionScope


def _caller(actor: Actor, runtime: AppRuntime) -> Caller:
    step_up = policy.step_up_tier(runtime.settings.step_up_tier)
    return Caller(actor, policy.discussion_scope(actor, step_up))


async def member_caller(actor: CurrentActor, runtime: AppRuntime) -> Caller:
    return _caller(actor, runtime)


async def moderator_caller(actor: ModeratorActor, runtime: AppRuntime) -> Caller:
    return _caller(actor, runtime)


Member = Annotated[Caller, Depends(member_caller)]
Moderator = Annotated[Caller, Depends(moderator_caller)]


# --- Cursors ------------------------------------------------------------------------------


def _invalid_cursor() -> Unprocessable:
    return Unprocessable("cursor is not valid", code="invalid_cursor")


INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
_SLUG = re.compile(r"^[a-z0-9-]{1,64}$")


def _position(value: object, upper: int) -> int:
    """A cursor position must fit the column it is compared with: anything else is refused
    here, as 422, rather than by the database as an error."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= upper:
        raise _invalid_cursor()
    return value


def int_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    return _position(decode_cursor(cursor, 1)[0], INT32_MAX)


def _str_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    value = decode_cursor(cursor, 1)[0]
    if not isinstance(value, str) or not _SLUG.match(value):
        raise _invalid_cursor()
    return value


def _time_id_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    moment, ident = decode_cursor(cursor, 2)
    try:
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        # Normalised here: a far-off offset at the edge of the calendar would overflow later.
        return parsed.astimezone(UTC), uuid.UUID(ident)
    except (TypeError, ValueError, OverflowError):
        raise _invalid_cursor() from None


def _score_cursor(cursor: str | None) -> tuple[float, int] | None:
    if cursor is None:
        return None
    score, key = decode_cursor(cursor, 2)
    valid_score = isinstance(score, int | float) and not isinstance(score, bool)
    if not valid_score or not math.isfinite(score):
        raise _invalid_cursor()
    return float(score), _position(key, INT64_MAX)


def _present(row: Row[*tuple[Any, ...]] | None) -> Row[*tuple[Any, ...]]:
    """A row this transaction just wrote or found; gone only if the database lost it."""
    if row is None:
        raise NotFound()
    return row


def thread_page_response(rows: Sequence[Any], topic_slug: str, limit: int) -> Page[ThreadRead]:
    """`rows` were fetched with `limit + 1`: the extra row only says that more exist."""
    more = len(rows) > limit
    rows = rows[:limit]
    items = [views.thread_read(row, topic_slug) for row in rows]
    return Page(items=items, next_cursor=encode_cursor([rows[-1].seq]) if more else None)


# --- Topics -------------------------------------------------------------------------------


@router.get("/topics", responses=problem_responses(401, 422))
async def list_topics(
    caller: Member,
    session: DbSession,
    page: PageArgs,
    include_archived: bool = False,
) -> Page[TopicRead]:
    """Topics at or below the caller's effective tier; `step_up_required` marks those whose
    content this session may open only after signing in with TOTP."""
    limit, cursor = page
    rows = await repository.list_topics(
        session,
        tiers=caller.scope.visible_tiers,
        include_archived=include_archived,
        after_slug=_str_cursor(cursor),
        limit=limit + 1,
    )
    items = [views.topic_read(t, caller.scope) for t in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor([items[-1].slug]) if more else None)


@router.get("/topics/{slug}", responses=READ)
async def get_topic(slug: SlugPath, caller: Member, session: DbSession) -> TopicRead:
    topic = await service.access_topic(session, caller.scope, slug, content=False)
    return views.topic_read(topic, caller.scope)


@router.post(
    "/admin/topics",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_topic(body: TopicCreate, actor: AdminActor, session: DbSession) -> TopicAdminRead:
    return views.topic_admin_read(await service.create_topic(session, actor=actor, body=body))


@router.get("/admin/topics", responses=problem_responses(401, 403, 422))
async def admin_list_topics(
    _actor: AdminActor, session: DbSession, page: PageArgs
) -> Page[TopicAdminRead]:
    """Every topic whatever its tier, archived ones included: admins manage topic metadata
    without needing to reach the content (see the policy module)."""
    limit, cursor = page
    rows = await repository.list_topics(
        session, tiers=None, include_archived=True, after_slug=_str_cursor(cursor), limit=limit + 1
    )
    items = [views.topic_admin_read(t) for t in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor([items[-1].slug]) if more else None)


@router.patch("/admin/topics/{slug}", responses=ADMIN)
async def update_topic(
    slug: SlugPath, body: TopicUpdate, actor: AdminActor, session: DbSession
) -> TopicAdminRead:
    """Edit, re-tier (`tier`) or archive (`archived: true`; read-only, hidden from the
    default topic list) a topic. Raising the tier hides it from everyone below at once."""
    topic = await service.update_topic(session, actor=actor, slug=slug, body=body)
    return views.topic_admin_read(topic)


@router.put("/topics/{slug}/watch", status_code=status.HTTP_204_NO_CONTENT, responses=READ)
async def watch_topic(slug: SlugPath, caller: Member, session: DbSession) -> None:
    """Notify me of new threads in this topic."""
    await service.set_topic_watch(
        session, actor=caller.actor, scope=caller.scope, slug=slug, watch=True
    )


@router.delete("/topics/{slug}/watch", status_code=status.HTTP_204_NO_CONTENT, responses=READ)
async def unwatch_topic(slug: SlugPath, caller: Member, session: DbSession) -> None:
    await service.set_topic_watch(
        session, actor=caller.actor, scope=caller.scope, slug=slug, watch=False
    )


# --- Threads ------------------------------------------------------------------------------


@router.get("/topics/{slug}/threads", responses=READ)
async def list_threads(
    slug: SlugPath, caller: Member, session: DbSession, page: PageArgs
) -> Page[ThreadRead]:
    """Newest thread first. Stable under concurrent inserts: new threads only ever appear
    on the first page, so following `next_cursor` never skips or repeats one."""
    limit, cursor = page
    before = int_cursor(cursor)
    topic = await service.access_topic(session, caller.scope, slug, content=True)
    rows = await repository.thread_page(
        session,
        topic.id,
        include_quarantined=caller.scope.moderates,
        before_seq=before,
        limit=limit + 1,
    )
    return thread_page_response(rows, topic.slug, limit)


@router.post(
    "/topics/{slug}/threads",
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
async def create_thread(
    slug: SlugPath, body: ThreadCreate, caller: Member, session: DbSession
) -> ThreadCreated:
    """A thread and its first post. The author watches the thread from then on."""
    thread, first_post = await service.create_thread(
        session, actor=caller.actor, scope=caller.scope, slug=slug, body=body
    )
    thread_row = _present(await repository.thread_row(session, thread.id))
    post_row = _present(await repository.post_row(session, first_post.id))
    return ThreadCreated(
        **views.thread_read(thread_row, slug).model_dump(),
        first_post=views.post_read(post_row, caller.scope),
    )


@router.get("/threads/{thread_id}", responses=READ)
async def get_thread(thread_id: uuid.UUID, caller: Member, session: DbSession) -> ThreadDetail:
    _thread, topic = await service.access_thread(session, caller.scope, thread_id)
    row = _present(await repository.thread_row(session, thread_id))
    return ThreadDetail(
        **views.thread_read(row, topic.slug).model_dump(),
        topic_detail=views.topic_brief(topic.slug, topic.title, topic.tier),
    )


@router.get("/threads/{thread_id}/posts", responses=READ)
async def list_posts(
    thread_id: uuid.UUID, caller: Member, session: DbSession, page: PageArgs
) -> Page[PostRead]:
    """Oldest post first; every post exactly once, in order, while others post.

    A thread can grow, so `next_cursor` follows every non-empty page: an empty page means
    you are up to date, and the last cursor fetches what was posted since.
    Removed posts stay as placeholders (`deleted`/`hidden`, `body: null`).
    """
    limit, cursor = page
    after = int_cursor(cursor)
    await service.access_thread(session, caller.scope, thread_id)
    rows = await repository.post_page(session, thread_id, after_seq=after, limit=limit)
    items = [views.post_read(row, caller.scope) for row in rows]
    next_cursor = encode_cursor([rows[-1].seq]) if rows else cursor
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/threads/{thread_id}/posts",
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
async def create_post(
    thread_id: uuid.UUID, body: PostCreate, caller: Member, session: DbSession
) -> PostRead:
    post = await service.create_post(
        session, actor=caller.actor, scope=caller.scope, thread_id=thread_id, body=body
    )
    return await _post_response(session, post, caller.scope)


@router.put("/threads/{thread_id}/watch", status_code=status.HTTP_204_NO_CONTENT, responses=READ)
async def watch_thread(thread_id: uuid.UUID, caller: Member, session: DbSession) -> None:
    """Notify me of new posts in this thread."""
    await service.set_thread_watch(
        session, actor=caller.actor, scope=caller.scope, thread_id=thread_id, watch=True
    )


@router.delete("/threads/{thread_id}/watch", status_code=status.HTTP_204_NO_CONTENT, responses=READ)
async def unwatch_thread(thread_id: uuid.UUID, caller: Member, session: DbSession) -> None:
    await service.set_thread_watch(
        session, actor=caller.actor, scope=caller.scope, thread_id=thread_id, watch=False
    )


# --- Posts --------------------------------------------------------------------------------


async def _post_response(session: DbSession, post: Post, scope: DiscussionScope) -> PostRead:
    row = _present(await repository.post_row(session, post.id))
    return views.post_read(row, scope)


async def _flag_response(session: DbSession, flag: PostFlag) -> FlagRead:
    return views.flag_read(_present(await repository.flag_row(session, flag.id)))


@router.get("/posts/{post_id}", responses=READ)
async def get_post(post_id: uuid.UUID, caller: Member, session: DbSession) -> PostRead:
    post, _thread, _topic = await service.access_post(session, caller.scope, post_id)
    return await _post_response(session, post, caller.scope)


@router.patch("/posts/{post_id}", responses=WRITE)
async def edit_post(
    post_id: uuid.UUID, body: PostUpdate, caller: Member, session: DbSession
) -> PostRead:
    """Authors edit their own posts; every earlier version is kept (see `/revisions`)."""
    post = await service.edit_post(
        session, actor=caller.actor, scope=caller.scope, post_id=post_id, new_body=body.body
    )
    return await _post_response(session, post, caller.scope)


@router.delete("/posts/{post_id}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE)
async def delete_post(post_id: uuid.UUID, caller: Member, session: DbSession) -> None:
    """Soft delete by the author: others see that a post was deleted, not its text."""
    await service.delete_post(session, actor=caller.actor, scope=caller.scope, post_id=post_id)


@router.get("/posts/{post_id}/revisions", responses=READ)
async def list_revisions(
    post_id: uuid.UUID, caller: Member, session: DbSession, page: PageArgs
) -> Page[RevisionRead]:
    """Every version of the post, oldest first; the last one is the current text."""
    limit, cursor = page
    after = int_cursor(cursor) or 0
    post, _thread, _topic = await service.access_post(session, caller.scope, post_id)
    enforce(
        policy.can_read_revisions(
            caller.scope,
            author_id=post.author_id,
            deleted=post.deleted_at is not None,
            hidden=post.hidden_at is not None,
        )
    )
    older = await repository.revision_page(session, post.id, after=after, limit=limit)
    items = [
        RevisionRead(
            revision=r.revision,
            body=r.body,
            editor_id=r.editor_id,
            created_at=r.created_at,
            current=False,
        )
        for r in older
    ]
    if len(items) < limit and post.revision > after:
        items.append(
            RevisionRead(
                revision=post.revision,
                body=post.body,
                editor_id=post.author_id,
                created_at=post.edited_at or post.created_at,
                current=True,
            )
        )
    last = items[-1].revision if items else None
    more = last is not None and last < post.revision
    return Page(items=items, next_cursor=encode_cursor([last]) if more else None)


@router.post(
    "/posts/{post_id}/flags",
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
async def flag_post(
    post_id: uuid.UUID, body: FlagCreate, caller: Member, session: DbSession
) -> FlagRead:
    """Ask the moderators to look at a post (once per member and post)."""
    flag = await service.flag_post(
        session, actor=caller.actor, scope=caller.scope, post_id=post_id, reason=body.reason
    )
    return await _flag_response(session, flag)


# --- Moderation ---------------------------------------------------------------------------

MOD = problem_responses(401, 403, 404, 409, 422)


@router.get("/mod/flags", responses=problem_responses(401, 403, 422))
async def flag_queue(
    caller: Moderator,
    session: DbSession,
    page: PageArgs,
    status: Literal["open", "actioned", "dismissed", "all"] = "open",
) -> Page[ModFlagRead]:
    """Oldest flag first, limited to posts the moderator may open themselves."""
    limit, cursor = page
    rows = await repository.flag_queue(
        session,
        caller.scope,
        status=None if status == "all" else status,
        after=_time_id_cursor(cursor),
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        next_cursor = encode_cursor([rows[-1].flagged_at.isoformat(), str(rows[-1].flag_id)])
    return Page(items=[views.mod_flag_read(r) for r in rows], next_cursor=next_cursor)


@router.post("/mod/flags/{flag_id}/dismiss", responses=MOD)
async def dismiss_flag(
    flag_id: uuid.UUID, body: ReasonRequest, caller: Moderator, session: DbSession
) -> FlagRead:
    flag = await service.dismiss_flag(
        session, actor=caller.actor, scope=caller.scope, flag_id=flag_id, reason=body.reason
    )
    return await _flag_response(session, flag)


@router.post("/mod/posts/{post_id}/hide", responses=MOD)
async def hide_post(
    post_id: uuid.UUID, body: ReasonRequest, caller: Moderator, session: DbSession
) -> PostRead:
    """Hide a post's text from everyone but its author and moderators; open flags on it
    are resolved as actioned. Reversible with `/unhide`."""
    post = await service.set_post_hidden(
        session,
        actor=caller.actor,
        scope=caller.scope,
        post_id=post_id,
        hidden=True,
        reason=body.reason,
    )
    return await _post_response(session, post, caller.scope)


@router.post("/mod/posts/{post_id}/unhide", responses=MOD)
async def unhide_post(
    post_id: uuid.UUID, body: ReasonRequest, caller: Moderator, session: DbSession
) -> PostRead:
    post = await service.set_post_hidden(
        session,
        actor=caller.actor,
        scope=caller.scope,
        post_id=post_id,
        hidden=False,
        reason=body.reason,
    )
    return await _post_response(session, post, caller.scope)


async def _thread_response(session: DbSession, thread_id: uuid.UUID, slug: str) -> ThreadRead:
    row = _present(await repository.thread_row(session, thread_id))
    return views.thread_read(row, slug)


def _moderation_route(action: str, summary: str, *, reason_required: bool) -> None:
    async def with_reason(
        thread_id: uuid.UUID, body: ReasonRequest, caller: Moderator, session: DbSession
    ) -> ThreadRead:
        return await _run(thread_id, body.reason, caller, session)

    async def optional_reason(
        thread_id: uuid.UUID,
        caller: Moderator,
        session: DbSession,
        body: OptionalReasonRequest | None = None,
    ) -> ThreadRead:
        return await _run(thread_id, body.reason if body else None, caller, session)

    async def _run(
        thread_id: uuid.UUID, reason: str | None, caller: Caller, session: DbSession
    ) -> ThreadRead:
        thread, topic = await service.moderate_thread(
            session,
            actor=caller.actor,
            scope=caller.scope,
            thread_id=thread_id,
            action=action,
            reason=reason,
        )
        return await _thread_response(session, thread.id, topic.slug)

    router.add_api_route(
        f"/mod/threads/{{thread_id}}/{action}",
        with_reason if reason_required else optional_reason,
        methods=["POST"],
        name=f"{action}_thread",
        summary=summary,
        responses=MOD,
        response_model=ThreadRead,
    )


_moderation_route(
    "lock", "Lock a thread: no new posts or edits (409 thread_locked)", reason_required=False
)
_moderation_route("unlock", "Unlock a thread", reason_required=False)
_moderation_route(
    "quarantine",
    "Quarantine a thread: a DURC review hold, hidden from all but moderators and admins",
    reason_required=True,
)
_moderation_route("release", "Release a quarantined thread", reason_required=True)


# --- Search -------------------------------------------------------------------------------


@router.get("/search", responses=READ, response_model=Page[SearchHit])
async def search_posts(
    q: Annotated[str, Query(min_length=1, max_length=300), SingleLine(300)],
    caller: Member,
    session: DbSession,
    page: PageArgs,
    topic: SlugQuery = None,
    sort: Literal["relevance", "recent"] = "relevance",
) -> Response:
    """Posts (and thread titles, through their first post) the caller may open right now.
    `q` takes words, "quoted phrases", `or` and `-excluded` words.

    `sort=relevance` (default): best match first, ranked among the newest 250 matches when
    more match (so a frequent word costs no more at a million posts than at ten thousand);
    `sort=recent`: every match, newest first. Visibility is applied inside the query, before
    ranking and LIMIT, so pages are full and nothing about hidden content (not even a count)
    comes back."""
    limit, cursor = page
    after = _score_cursor(cursor)
    topic_id = None
    if topic is not None:
        topic_id = (await service.access_topic(session, caller.scope, topic, content=True)).id
    parsed = search.parse(q)
    if parsed.empty or not caller.scope.open_tiers:
        return views.search_page([], None)
    recent = sort == "recent"
    backend = search.backend_for(session.get_bind().dialect.name)
    plan = await backend.prepare(
        session, parsed, q, before_key=after[1] if recent and after is not None else None
    )
    if plan is None:
        return views.search_page([], None)
    rows = await repository.search_posts(
        session,
        caller.scope,
        plan,
        topic_id=topic_id,
        after=after,
        limit=limit + 1,
        recent=recent,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([rows[-1].score, rows[-1].key]) if more else None
    return views.search_page(rows, next_cursor)


# --- Notifications, watches, profile ------------------------------------------------------


@router.get("/me/notifications", responses=problem_responses(401, 403, 422))
async def list_notifications(
    caller: Member, session: DbSession, page: PageArgs, unread: bool = False
) -> Page[NotificationRead]:
    """Newest first. Each is shown only while its post is still visible to you *now*
    (your tier, the topic's tier, quarantine and removal are checked as you read)."""
    limit, cursor = page
    rows = await repository.notification_page(
        session,
        caller.scope,
        unread_only=unread,
        after=_time_id_cursor(cursor),
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        next_cursor = encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)])
    return Page(items=[views.notification_read(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/me/notifications/{notification_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=READ,
)
async def mark_notification_read(
    notification_id: uuid.UUID, caller: Member, session: DbSession
) -> None:
    await service.mark_read(session, scope=caller.scope, notification_id=notification_id)


@router.post(
    "/me/notifications/read-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403),
)
async def mark_all_notifications_read(caller: Member, session: DbSession) -> None:
    await service.mark_all_read(session, actor=caller.actor)


@router.get("/me/watches", responses=problem_responses(401, 403))
async def list_watches(caller: Member, session: DbSession) -> list[WatchRead]:
    """Topics and threads you watch, as far as you may still see them."""
    topics = await repository.topic_watches(session, caller.scope)
    threads = await repository.thread_watches(session, caller.scope)
    return [
        WatchRead(
            kind="topic",
            topic=views.topic_brief(r.slug, r.title, r.tier),
            thread=None,
            created_at=r.created_at,
        )
        for r in topics
    ] + [
        WatchRead(
            kind="thread",
            topic=views.topic_brief(r.slug, r.title, r.tier),
            thread=ThreadBrief(id=r.thread_id, title=r.thread_title),
            created_at=r.created_at,
        )
        for r in threads
    ]


@router.get("/me/discussion-profile", responses=problem_responses(401, 403))
async def get_profile(caller: Member, session: DbSession) -> ProfileRead:
    """Your `@handle` (others mention you with it) and whether you get an e-mail digest."""
    profile = await handles.ensure_profile(session, caller.actor.user_id, caller.actor.display_name)
    return ProfileRead(handle=profile.handle, email_digest=profile.email_digest)


@router.patch("/me/discussion-profile", responses=problem_responses(401, 403, 409, 422))
async def update_profile(body: ProfileUpdate, caller: Member, session: DbSession) -> ProfileRead:
    profile = await service.update_profile(session, actor=caller.actor, body=body)
    return ProfileRead(handle=profile.handle, email_digest=profile.email_digest)
