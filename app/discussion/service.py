"""Discussion actions. Each takes a keyword-only actor (and its discussion scope), asks the
policy, writes its audit event in the same transaction, and leaves committing to the caller.

Access helpers (`access_topic`, `access_thread`, `access_post`) answer "does not exist" and
"you may not see it" with the same 404, for topics and for every id that belongs to one.

Lock order, to stay free of deadlocks: topic row, then thread row, then post row, then the
audit chain lock (taken by `audit.record`, always last).
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import policy
from app.audit import service as audit
from app.auth import enforce
from app.core.errors import Conflict, NotFound, Unprocessable
from app.discussion import handles, notifications, repository
from app.discussion.schemas import (
    PostCreate,
    ProfileUpdate,
    ThreadCreate,
    TopicCreate,
    TopicUpdate,
)
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
)
from app.models.base import new_id, utcnow
from app.policy import Actor, DiscussionScope, Tier

# --- Access -------------------------------------------------------------------------------


async def access_topic(
    session: AsyncSession, scope: DiscussionScope, slug: str, *, content: bool
) -> Topic:
    """`content=False`: the topic's existence and metadata; `True`: its threads and posts."""
    topic = await repository.topic_by_slug(session, slug)
    if topic is None:
        raise NotFound()
    tier = Tier(topic.tier)
    enforce(policy.can_open_topic(scope, tier) if content else policy.can_see_topic(scope, tier))
    return topic


async def access_thread(
    session: AsyncSession, scope: DiscussionScope, thread_id: uuid.UUID, *, lock: bool = False
) -> tuple[Thread, Topic]:
    found = await repository.thread_in_topic(session, thread_id, lock=lock)
    if found is None:
        raise NotFound()
    thread, topic = found
    enforce(
        policy.can_open_thread(
            scope, Tier(topic.tier), quarantined=thread.quarantined_at is not None
        )
    )
    return thread, topic


async def access_post(
    session: AsyncSession, scope: DiscussionScope, post_id: uuid.UUID, *, lock: bool = False
) -> tuple[Post, Thread, Topic]:
    found = await repository.post_in_context(session, post_id, lock=lock)
    if found is None:
        raise NotFound()
    post, thread, topic = found
    enforce(
        policy.can_open_thread(
            scope, Tier(topic.tier), quarantined=thread.quarantined_at is not None
        )
    )
    return post, thread, topic


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


# --- Topics (admins) ----------------------------------------------------------------------


async def create_topic(session: AsyncSession, *, actor: Actor, body: TopicCreate) -> Topic:
    if await repository.topic_by_slug(session, body.slug) is not None:
        raise Conflict("A topic with this slug exists.", code="slug_taken")
    now = utcnow()
    topic = Topic(
        id=new_id(),
        slug=body.slug,
        title=body.title,
        description=body.description,
        tier=body.tier,
        thread_seq=0,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(topic)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same slug, concurrently
        raise Conflict("A topic with this slug exists.", code="slug_taken") from exc
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="topic.created",
        target_type="topic",
        target_id=topic.id,
        details={"slug": topic.slug, "tier": topic.tier},
    )
    return topic


async def update_topic(
    session: AsyncSession, *, actor: Actor, slug: str, body: TopicUpdate
) -> Topic:
    """Tier changes apply to the very next request: access is read from the topic row on
    every request, so raising a tier hides the topic, its threads, posts, search hits and
    notifications from everyone below it at once."""
    topic = await repository.topic_by_slug(session, slug, lock=True)
    if topic is None:
        raise NotFound()
    changes: dict[str, object] = {}
    if body.title is not None and body.title != topic.title:
        topic.title = body.title
        changes["title"] = True
    if body.description is not None and body.description != topic.description:
        topic.description = body.description
        changes["description"] = True
    if body.tier is not None and body.tier != topic.tier:
        changes["tier"] = {"from": topic.tier, "to": body.tier}
        topic.tier = body.tier
    if body.archived is not None and body.archived != (topic.archived_at is not None):
        topic.archived_at = utcnow() if body.archived else None
        changes["archived"] = body.archived
    if not changes:
        return topic
    topic.updated_at = utcnow()
    await session.flush()
    action = "topic.updated"
    if set(changes) == {"archived"}:
        action = "topic.archived" if body.archived else "topic.restored"
    await audit.record(
        session,
        actor_id=actor.user_id,
        action=action,
        target_type="topic",
        target_id=topic.id,
        reason=body.reason,
        details={"slug": topic.slug, "changes": changes},
    )
    return topic


# --- Threads and posts --------------------------------------------------------------------


async def create_thread(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    slug: str,
    body: ThreadCreate,
) -> tuple[Thread, Post]:
    topic = await access_topic(session, scope, slug, content=True)
    enforce(policy.can_contribute(archived=topic.archived_at is not None))
    # Authors get their @handle before their first post is shown with it.
    await handles.ensure_profile(session, actor.user_id, actor.display_name)
    claimed = await repository.claim_thread_seq(session, topic.id)
    # Judged again under the topic lock: a concurrent re-tier or archive has committed.
    enforce(policy.can_open_topic(scope, Tier(claimed.tier)))
    enforce(policy.can_contribute(archived=claimed.archived_at is not None))
    now = utcnow()
    thread = Thread(
        id=new_id(),
        topic_id=topic.id,
        seq=claimed.thread_seq,
        author_id=actor.user_id,
        title=body.title,
        created_at=now,
        post_count=1,
        last_post_at=now,
    )
    session.add(thread)
    await session.flush()
    post = Post(
        id=new_id(),
        thread_id=thread.id,
        topic_id=topic.id,
        seq=1,
        author_id=actor.user_id,
        headline=body.title,
        body=body.body,
        revision=1,
        created_at=now,
    )
    session.add(post)
    # The author follows their own thread.
    session.add(ThreadWatch(user_id=actor.user_id, thread_id=thread.id, created_at=now))
    await session.flush()
    await notifications.notify_new_post(
        session, post, topic_id=topic.id, reply_to_author=None, first_post=True, now=now
    )
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="thread.created",
        target_type="thread",
        target_id=thread.id,
        details={
            "topic_id": str(topic.id),
            "post_id": str(post.id),
            "bytes": _size(body.body),
        },
    )
    return thread, post


async def create_post(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    thread_id: uuid.UUID,
    body: PostCreate,
) -> Post:
    thread, topic = await access_thread(session, scope, thread_id)
    archived = topic.archived_at is not None
    enforce(
        policy.can_contribute(
            archived=archived,
            locked=thread.locked_at is not None,
            quarantined=thread.quarantined_at is not None,
        )
    )
    reply_to_author = None
    if body.reply_to_id is not None:
        # The same answer whether the id is missing or belongs to a thread the caller may
        # not see: only posts of this thread can be replied to.
        target = await repository.post_in_thread(session, thread.id, body.reply_to_id)
        if target is None:
            raise Unprocessable("reply_to_id is not a post in this thread.", code="invalid_reply")
        reply_to_author = target.author_id
    await handles.ensure_profile(session, actor.user_id, actor.display_name)
    now = utcnow()
    claimed = await repository.claim_post_seq(session, thread.id, now)
    enforce(
        policy.can_contribute(
            archived=archived,
            locked=claimed.locked_at is not None,
            quarantined=claimed.quarantined_at is not None,
        )
    )
    post = Post(
        id=new_id(),
        thread_id=thread.id,
        topic_id=topic.id,
        seq=claimed.post_count,
        author_id=actor.user_id,
        reply_to_id=body.reply_to_id,
        body=body.body,
        revision=1,
        created_at=now,
    )
    session.add(post)
    await session.flush()
    await notifications.notify_new_post(
        session,
        post,
        topic_id=topic.id,
        reply_to_author=reply_to_author,
        first_post=False,
        now=now,
    )
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="post.created",
        target_type="post",
        target_id=post.id,
        details={"thread_id": str(thread.id), "seq": post.seq, "bytes": _size(post.body)},
    )
    return post


async def edit_post(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    post_id: uuid.UUID,
    new_body: str,
) -> Post:
    post, thread, topic = await access_post(session, scope, post_id, lock=True)
    enforce(
        policy.can_edit_post(
            scope,
            author_id=post.author_id,
            deleted=post.deleted_at is not None,
            hidden=post.hidden_at is not None,
        )
    )
    enforce(
        policy.can_contribute(
            archived=topic.archived_at is not None,
            locked=thread.locked_at is not None,
            quarantined=thread.quarantined_at is not None,
        )
    )
    if new_body == post.body:
        return post
    now = utcnow()
    # The superseded version is kept whole; the post row always holds the current one.
    session.add(
        PostRevision(
            id=new_id(),
            post_id=post.id,
            revision=post.revision,
            body=post.body,
            editor_id=post.author_id,
            created_at=post.edited_at or post.created_at,
        )
    )
    previous = post.body
    post.body = new_body
    post.revision += 1
    post.edited_at = now
    await session.flush()
    await notifications.notify_added_mentions(session, post, previous_body=previous, now=now)
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="post.edited",
        target_type="post",
        target_id=post.id,
        details={"thread_id": str(thread.id), "revision": post.revision, "bytes": _size(new_body)},
    )
    return post


async def delete_post(
    session: AsyncSession, *, actor: Actor, scope: DiscussionScope, post_id: uuid.UUID
) -> None:
    """Soft: the row and its revisions stay (a review may need them); others see a
    placeholder. Deleting twice is a no-op."""
    post, thread, _topic = await access_post(session, scope, post_id, lock=True)
    enforce(policy.can_delete_post(scope, author_id=post.author_id))
    if post.deleted_at is not None:
        return
    post.deleted_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="post.deleted",
        target_type="post",
        target_id=post.id,
        details={"thread_id": str(thread.id)},
    )


# --- Flags and moderation -----------------------------------------------------------------


async def flag_post(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    post_id: uuid.UUID,
    reason: str,
) -> PostFlag:
    post, thread, _topic = await access_post(session, scope, post_id)
    enforce(
        policy.can_flag_post(scope, author_id=post.author_id, deleted=post.deleted_at is not None)
    )
    if post.hidden_at is not None:
        raise Conflict("A moderator already hid this post.", code="post_hidden")
    existing = await session.scalar(
        select(PostFlag.id).where(PostFlag.post_id == post.id, PostFlag.flagger_id == actor.user_id)
    )
    if existing is not None:
        raise Conflict("You already flagged this post.", code="already_flagged")
    flag = PostFlag(
        id=new_id(),
        post_id=post.id,
        flagger_id=actor.user_id,
        reason=reason,
        status="open",
        created_at=utcnow(),
    )
    session.add(flag)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same member, concurrently
        raise Conflict("You already flagged this post.", code="already_flagged") from exc
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="post.flagged",
        target_type="post",
        target_id=post.id,
        reason=reason,
        details={"flag_id": str(flag.id), "thread_id": str(thread.id)},
    )
    return flag


async def set_post_hidden(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    post_id: uuid.UUID,
    hidden: bool,
    reason: str,
) -> Post:
    post, thread, _topic = await access_post(session, scope, post_id, lock=True)
    if hidden == (post.hidden_at is not None):
        state = "hidden" if hidden else "not hidden"
        raise Conflict(f"This post is already {state}.", code="already_" + state.replace(" ", "_"))
    now = utcnow()
    resolved = 0
    if hidden:
        post.hidden_at, post.hidden_by, post.hidden_reason = now, actor.user_id, reason
        resolved = await repository.resolve_open_flags(
            session, post.id, by=actor.user_id, reason=reason, now=now
        )
    else:
        post.hidden_at, post.hidden_by, post.hidden_reason = None, None, None
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="post.hidden" if hidden else "post.unhidden",
        target_type="post",
        target_id=post.id,
        reason=reason,
        details={"thread_id": str(thread.id), "flags_resolved": resolved},
    )
    return post


async def dismiss_flag(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    flag_id: uuid.UUID,
    reason: str,
) -> PostFlag:
    found = await repository.flag_in_context(session, flag_id)
    if found is None:
        raise NotFound()
    flag, _post, thread, topic = found
    enforce(
        policy.can_open_thread(
            scope, Tier(topic.tier), quarantined=thread.quarantined_at is not None
        )
    )
    if flag.status != "open":
        raise Conflict(f"This flag is already {flag.status}.", code="flag_resolved")
    flag.status = "dismissed"
    flag.resolved_at = utcnow()
    flag.resolved_by = actor.user_id
    flag.resolution_reason = reason
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="flag.dismissed",
        target_type="flag",
        target_id=flag.id,
        reason=reason,
        details={"post_id": str(flag.post_id)},
    )
    return flag


_THREAD_ACTIONS = {
    # action: (field, new state, audit action, conflict code when already in that state)
    "lock": ("locked", True, "thread.locked", "already_locked"),
    "unlock": ("locked", False, "thread.unlocked", "not_locked"),
    "quarantine": ("quarantined", True, "thread.quarantined", "already_quarantined"),
    "release": ("quarantined", False, "thread.released", "not_quarantined"),
}


async def moderate_thread(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    thread_id: uuid.UUID,
    action: str,
    reason: str | None,
) -> tuple[Thread, Topic]:
    """Lock/unlock (no new posts or edits) and quarantine/release (a DURC review hold:
    hidden from all but moderators and admins, nothing deleted, fully reversible)."""
    field, on, audit_action, conflict = _THREAD_ACTIONS[action]
    thread, topic = await access_thread(session, scope, thread_id, lock=True)
    now = utcnow()
    if field == "locked":
        if (thread.locked_at is not None) == on:
            raise Conflict(f"This thread is {'already' if on else 'not'} locked.", code=conflict)
        thread.locked_at, thread.locked_by = (now, actor.user_id) if on else (None, None)
        thread.lock_reason = reason if on else None
    else:
        if (thread.quarantined_at is not None) == on:
            state = "already on" if on else "not on"
            raise Conflict(f"This thread is {state} a review hold.", code=conflict)
        thread.quarantined_at, thread.quarantined_by = (now, actor.user_id) if on else (None, None)
        thread.quarantine_reason = reason if on else None
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action=audit_action,
        target_type="thread",
        target_id=thread.id,
        reason=reason,
        details={"topic_id": str(topic.id)},
    )
    return thread, topic


# --- Watches, notifications, profile ------------------------------------------------------


async def set_topic_watch(
    session: AsyncSession, *, actor: Actor, scope: DiscussionScope, slug: str, watch: bool
) -> None:
    topic = await access_topic(session, scope, slug, content=False)
    await _set_watch(session, TopicWatch, actor.user_id, topic.id, watch)


async def set_thread_watch(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    thread_id: uuid.UUID,
    watch: bool,
) -> None:
    thread, _topic = await access_thread(session, scope, thread_id)
    await _set_watch(session, ThreadWatch, actor.user_id, thread.id, watch)


async def _set_watch(
    session: AsyncSession,
    model: type[TopicWatch] | type[ThreadWatch],
    user_id: uuid.UUID,
    target_id: uuid.UUID,
    watch: bool,
) -> None:
    """Idempotent both ways: watching twice or unwatching what you never watched is fine."""
    key = "topic_id" if model is TopicWatch else "thread_id"
    if not watch:
        await session.execute(
            delete(model).where(model.user_id == user_id, getattr(model, key) == target_id)
        )
        return
    await repository.insert_ignoring_duplicates(
        session, model, {"user_id": user_id, key: target_id, "created_at": utcnow()}
    )


async def mark_read(
    session: AsyncSession, *, scope: DiscussionScope, notification_id: uuid.UUID
) -> None:
    if await repository.visible_notification(session, scope, notification_id) is None:
        raise NotFound()
    await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )


async def mark_all_read(session: AsyncSession, *, actor: Actor) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )


async def update_profile(
    session: AsyncSession, *, actor: Actor, body: ProfileUpdate
) -> DiscussionProfile:
    profile = await handles.ensure_profile(session, actor.user_id, actor.display_name)
    if body.handle is not None and body.handle != profile.handle:
        taken = await session.scalar(
            select(DiscussionProfile.user_id).where(DiscussionProfile.handle == body.handle)
        )
        if taken is not None:
            raise Conflict("This handle is taken.", code="handle_taken")
        profile.handle = body.handle
    if body.email_digest is not None:
        profile.email_digest = body.email_digest
    try:
        await session.flush()
    except IntegrityError as exc:  # the same handle, concurrently
        raise Conflict("This handle is taken.", code="handle_taken") from exc
    return profile
