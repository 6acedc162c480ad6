"""Request and response shapes for topics, threads, posts, moderation, search, notifications.

Request bodies refuse unknown fields and use strict booleans. Post bodies are Markdown kept
exactly as written (never rendered or sanitised here: clients render, and escaping belongs to
the renderer); they are bounded in bytes and refuse control characters other than newline and
tab, including the C1 range that some terminals still interpret.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, StrictBool, StringConstraints

from app.core.types import Input, MultiLine, Reason, SingleLine

MAX_POST_BYTES = 64 * 1024
MAX_TITLE_CHARS = 300
EXCERPT_CHARS = 280

_C1 = re.compile(r"[\x80-\x9f]")


def _no_c1(value: str) -> str:
    if _C1.search(value):
        raise ValueError("control characters other than newline and tab are not allowed")
    return value


def _within_post_bytes(value: str) -> str:
    if len(value.encode("utf-8")) > MAX_POST_BYTES:
        raise ValueError(f"a post may hold at most {MAX_POST_BYTES} bytes (UTF-8)")
    return value


Slug = Annotated[
    str,
    StringConstraints(min_length=2, max_length=64, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
]
TierName = Literal["general", "restricted", "us_only"]
Title = Annotated[str, SingleLine(MAX_TITLE_CHARS), AfterValidator(_no_c1)]
Description = Annotated[str, MultiLine(5000), AfterValidator(_no_c1)]
# Characters first (cheap bound before encoding), then the real limit in bytes.
PostBody = Annotated[
    str, MultiLine(MAX_POST_BYTES), AfterValidator(_no_c1), AfterValidator(_within_post_bytes)
]
# Handles are case-folded: `@Alice` and `@alice` name the same member.
Handle = Annotated[
    str,
    BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value),
    StringConstraints(min_length=2, max_length=32, pattern=r"^[a-z0-9_]+$"),
]


# --- Topics -------------------------------------------------------------------------------


class TopicCreate(Input):
    slug: Slug
    title: Title
    description: Description
    tier: TierName


class TopicUpdate(Input):
    title: Title | None = None
    description: Description | None = None
    tier: TierName | None = None
    archived: StrictBool | None = None
    reason: Reason | None = None


class TopicRead(BaseModel):
    id: uuid.UUID
    slug: str
    title: str
    description: str
    tier: TierName
    archived: bool
    # True when this session must pass TOTP before opening the topic's threads.
    step_up_required: bool
    created_at: datetime
    updated_at: datetime


class TopicAdminRead(TopicRead):
    created_by: uuid.UUID | None
    thread_count: int


class TopicBrief(BaseModel):
    slug: str
    title: str
    tier: TierName


# --- Threads and posts --------------------------------------------------------------------


class AuthorRead(BaseModel):
    id: uuid.UUID
    display_name: str
    handle: str | None


class ThreadCreate(Input):
    title: Title
    body: PostBody


class ThreadRead(BaseModel):
    id: uuid.UUID
    topic: str
    seq: int
    title: str
    author: AuthorRead
    created_at: datetime
    post_count: int
    last_post_at: datetime
    locked: bool
    lock_reason: str | None
    # Only moderators ever see a quarantined thread; the reason is theirs.
    quarantined: bool
    quarantine_reason: str | None


class ThreadBrief(BaseModel):
    id: uuid.UUID
    title: str


class PostCreate(Input):
    body: PostBody
    reply_to_id: uuid.UUID | None = None


class PostUpdate(Input):
    body: PostBody


class PostRead(BaseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    seq: int
    author: AuthorRead
    reply_to_id: uuid.UUID | None
    # None when the post was deleted or hidden and the caller is neither its author nor a
    # moderator: others see that something was removed, never what.
    body: str | None
    created_at: datetime
    edited_at: datetime | None
    revision: int
    deleted: bool
    hidden: bool
    hidden_reason: str | None


class ThreadCreated(ThreadRead):
    first_post: PostRead


class ThreadDetail(ThreadRead):
    topic_detail: TopicBrief


class RevisionRead(BaseModel):
    revision: int
    body: str
    editor_id: uuid.UUID
    created_at: datetime
    current: bool


# --- Moderation ---------------------------------------------------------------------------


class FlagCreate(Input):
    reason: Reason


class ReasonRequest(Input):
    reason: Reason


class OptionalReasonRequest(Input):
    reason: Reason | None = None


class FlagRead(BaseModel):
    id: uuid.UUID
    post_id: uuid.UUID
    thread_id: uuid.UUID
    topic: str
    reason: str
    status: Literal["open", "actioned", "dismissed"]
    created_at: datetime
    flagger: AuthorRead
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    resolution_reason: str | None


class ModFlagRead(FlagRead):
    """The queue view adds what a moderator needs to judge the post."""

    post_author: AuthorRead
    post_excerpt: str
    post_hidden: bool
    post_deleted: bool


# --- Search -------------------------------------------------------------------------------


class SearchHit(BaseModel):
    post_id: uuid.UUID
    seq: int
    author: AuthorRead
    created_at: datetime
    excerpt: str
    hidden: bool
    thread: ThreadBrief
    topic: TopicBrief
    score: float


# --- Notifications, watches, profile ------------------------------------------------------


class NotificationRead(BaseModel):
    id: uuid.UUID
    kind: Literal["reply", "mention", "new_thread", "new_post"]
    created_at: datetime
    read: bool
    actor: AuthorRead | None
    topic: TopicBrief
    thread: ThreadBrief
    post_id: uuid.UUID
    post_seq: int
    excerpt: str


class WatchRead(BaseModel):
    kind: Literal["topic", "thread"]
    topic: TopicBrief
    thread: ThreadBrief | None
    created_at: datetime


class ProfileRead(BaseModel):
    handle: str
    email_digest: bool


class ProfileUpdate(Input):
    handle: Handle | None = None
    email_digest: StrictBool | None = None


def excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
