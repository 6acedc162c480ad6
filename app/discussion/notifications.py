"""Who hears about a new post, and the e-mail digest.

Notifications are rows of ids written in the poster's transaction. Recipients are *not*
filtered by access here: access is decided when a notification is read (or counted for a
digest), because it may change in between (a tier drops, a topic is raised, a thread is
quarantined) and the check that counts is the one at read time.

One notification per recipient and post, by priority: a mention beats a reply to your post,
which beats "new thread in a topic you watch" / "new post in a thread you watch". Nobody is
notified of their own post.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import policy
from app.auth import actor_for_user
from app.core.runtime import Runtime
from app.core.uow import after_commit
from app.discussion import handles, repository
from app.models import DiscussionProfile, Notification, Post, ThreadWatch, TopicWatch, User
from app.models.base import new_id, utcnow


async def _insert(
    session: AsyncSession,
    recipients: dict[uuid.UUID, str],
    *,
    post_id: uuid.UUID,
    actor_id: uuid.UUID,
    now: datetime,
) -> None:
    if not recipients:
        return
    await session.execute(
        insert(Notification),
        [
            {
                "id": new_id(),
                "user_id": user_id,
                "kind": kind,
                "post_id": post_id,
                "actor_id": actor_id,
                "created_at": now,
            }
            for user_id, kind in recipients.items()
        ],
    )


async def notify_new_post(
    session: AsyncSession,
    post: Post,
    *,
    topic_id: uuid.UUID,
    reply_to_author: uuid.UUID | None,
    first_post: bool,
    now: datetime,
) -> None:
    recipients: dict[uuid.UUID, str] = {}
    for user_id in await handles.users_by_handle(session, handles.mentioned_handles(post.body)):
        recipients.setdefault(user_id, "mention")
    if reply_to_author is not None:
        recipients.setdefault(reply_to_author, "reply")
    if first_post:
        watchers = select(TopicWatch.user_id).where(TopicWatch.topic_id == topic_id)
        kind = "new_thread"
    else:
        watchers = select(ThreadWatch.user_id).where(ThreadWatch.thread_id == post.thread_id)
        kind = "new_post"
    for user_id in (await session.scalars(watchers)).all():
        recipients.setdefault(user_id, kind)
    recipients.pop(post.author_id, None)
    await _insert(session, recipients, post_id=post.id, actor_id=post.author_id, now=now)


async def notify_added_mentions(
    session: AsyncSession, post: Post, *, previous_body: str, now: datetime
) -> None:
    """An edit that adds a mention notifies the newly mentioned, once per post."""
    before = set(handles.mentioned_handles(previous_body))
    added = [h for h in handles.mentioned_handles(post.body) if h not in before]
    candidates = set(await handles.users_by_handle(session, added)) - {post.author_id}
    if not candidates:
        return
    already = set(
        (
            await session.scalars(
                select(Notification.user_id).where(
                    Notification.post_id == post.id, Notification.user_id.in_(candidates)
                )
            )
        ).all()
    )
    recipients = dict.fromkeys(candidates - already, "mention")
    await _insert(session, recipients, post_id=post.id, actor_id=post.author_id, now=now)


async def send_digests(session: AsyncSession, runtime: Runtime) -> int:
    """Mail each opted-in member how many unread notifications they have, and nothing else.

    The mail carries counts and a link, never titles or text: mail leaves the access
    controls (it is stored and forwarded by systems outside them), so the content stays
    behind the sign-in. Counts are of what the member may see at sending time.
    Returns the number of mails queued (sent after commit).
    """
    step_up = policy.step_up_tier(runtime.settings.step_up_tier)
    rows = (
        await session.execute(
            select(DiscussionProfile.user_id, User.email)
            .join(User, User.id == DiscussionProfile.user_id)
            .where(DiscussionProfile.email_digest.is_(True))
            .order_by(DiscussionProfile.user_id)
        )
    ).all()
    sent = 0
    now = utcnow()
    for user_id, email in rows:
        actor = await actor_for_user(session, user_id)
        if actor is None:
            continue
        ids = await repository.undigested(session, policy.discussion_scope(actor, step_up))
        if not ids:
            continue
        # Claim, not just stamp: `emailed_at IS NULL` is checked again under the row lock, so
        # when two runs overlap, the one that waited claims nothing it did not see first
        # and no notification is counted in two mails.
        claimed = await session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.emailed_at.is_(None))
            .values(emailed_at=now)
        )
        count = int(getattr(claimed, "rowcount", 0) or 0)
        if count == 0:
            continue
        body = (
            f"You have {count} new notification{'s' if count != 1 else ''} on DURC "
            f"Exchange.\n\nRead them after signing in: "
            f"{runtime.settings.public_url}/api/v1/me/notifications?unread=true\n"
        )

        async def mail(to: str = email, text: str = body) -> None:
            await runtime.mailer.send(to, "DURC Exchange: new notifications", text)

        after_commit(session, mail)
        sent += 1
    return sent
