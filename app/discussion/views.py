"""Rows to response models. Whether a post's text is shown is asked of the policy per row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Response
from pydantic_core import to_json

from app import policy
from app.discussion.schemas import (
    AuthorRead,
    FlagRead,
    ModFlagRead,
    NotificationRead,
    PostRead,
    ThreadBrief,
    ThreadRead,
    TopicAdminRead,
    TopicBrief,
    TopicRead,
    excerpt,
)
from app.models import Topic
from app.policy import DiscussionScope, Tier


def topic_read(topic: Topic, scope: DiscussionScope | None) -> TopicRead:
    tier = Tier(topic.tier)
    return TopicRead(
        id=topic.id,
        slug=topic.slug,
        title=topic.title,
        description=topic.description,
        tier=tier.value,
        archived=topic.archived_at is not None,
        step_up_required=scope is not None and policy.can_open_topic(scope, tier) is not None,
        created_at=topic.created_at,
        updated_at=topic.updated_at,
    )


def topic_admin_read(topic: Topic) -> TopicAdminRead:
    return TopicAdminRead(
        **topic_read(topic, None).model_dump(),
        created_by=topic.created_by,
        thread_count=topic.thread_seq,
    )


def topic_brief(slug: str, title: str, tier: str) -> TopicBrief:
    return TopicBrief(slug=slug, title=title, tier=Tier(tier).value)


def author(user_id: Any, name: Any, handle: Any) -> AuthorRead:
    return AuthorRead(id=user_id, display_name=name, handle=handle)


def thread_read(row: Any, topic_slug: str) -> ThreadRead:
    """From a row of `repository.THREAD_COLUMNS`."""
    return ThreadRead(
        id=row.id,
        topic=topic_slug,
        seq=row.seq,
        title=row.title,
        author=author(row.author_id, row.author_name, row.author_handle),
        created_at=row.created_at,
        post_count=row.post_count,
        last_post_at=row.last_post_at,
        locked=row.locked_at is not None,
        lock_reason=row.lock_reason,
        quarantined=row.quarantined_at is not None,
        quarantine_reason=row.quarantine_reason,
    )


def post_read(row: Any, scope: DiscussionScope) -> PostRead:
    """From a row of `repository.POST_COLUMNS`."""
    deleted, hidden = row.deleted_at is not None, row.hidden_at is not None
    shown = policy.can_read_post_text(
        scope, author_id=row.author_id, deleted=deleted, hidden=hidden
    )
    return PostRead(
        id=row.id,
        thread_id=row.thread_id,
        seq=row.seq,
        author=author(row.author_id, row.author_name, row.author_handle),
        reply_to_id=row.reply_to_id,
        body=row.body if shown else None,
        created_at=row.created_at,
        edited_at=row.edited_at,
        revision=row.revision,
        deleted=deleted,
        hidden=hidden,
        hidden_reason=row.hidden_reason if shown else None,
    )


def flag_read(row: Any) -> FlagRead:
    return FlagRead(
        id=row.flag_id,
        post_id=row.post_id,
        thread_id=row.thread_id,
        topic=row.topic_slug,
        reason=row.reason,
        status=row.status,
        created_at=row.flagged_at,
        flagger=author(row.flagger_id, row.flagger_name, row.flagger_handle),
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_reason=row.resolution_reason,
    )


def mod_flag_read(row: Any) -> ModFlagRead:
    """From a `repository.flag_queue` row; only moderators get here (they read any text)."""
    return ModFlagRead(
        **flag_read(row).model_dump(),
        post_author=author(row.author_id, row.author_name, row.author_handle),
        post_excerpt=excerpt(row.body),
        post_hidden=row.hidden_at is not None,
        post_deleted=row.deleted_at is not None,
    )


def search_page(rows: Sequence[Any], next_cursor: str | None) -> Response:
    """A `Page[SearchHit]` as JSON, written directly from the rows: a page holds up to 50 hits,
    and building and then serialising four models per hit cost more than the query that found
    them. The shape is the model's: the route declares it, and a test validates responses
    against it."""
    items = [
        {
            # Ids as text: asyncpg's UUID type takes to_json's slow path (15 us a hit).
            "post_id": str(values["id"]),
            "seq": values["seq"],
            "author": {
                "id": str(values["author_id"]),
                "display_name": values["author_name"],
                "handle": values["author_handle"],
            },
            "created_at": values["created_at"],
            "excerpt": excerpt(values["body"]),
            "hidden": values["hidden"],
            "thread": {"id": str(values["thread_id"]), "title": values["thread_title"]},
            "topic": {
                "slug": values["topic_slug"],
                "title": values["topic_title"],
                "tier": values["topic_tier"],
            },
            "score": values["score"],
        }
        # A Row's mapping reads several times faster than its attributes.
        for values in (row._mapping for row in rows)
    ]
    return Response(
        to_json({"items": items, "next_cursor": next_cursor}), media_type="application/json"
    )


def notification_read(row: Any) -> NotificationRead:
    return NotificationRead(
        id=row.id,
        kind=row.kind,
        created_at=row.created_at,
        read=row.read_at is not None,
        actor=(
            author(row.actor_id, row.actor_name, row.actor_handle)
            if row.actor_id is not None and row.actor_name is not None
            else None
        ),
        topic=topic_brief(row.topic_slug, row.topic_title, row.topic_tier),
        thread=ThreadBrief(id=row.thread_id, title=row.thread_title),
        post_id=row.post_id,
        post_seq=row.post_seq,
        excerpt=excerpt(row.body),
    )
