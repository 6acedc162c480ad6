"""Topics, threads, posts and what hangs off them: revisions, flags, watches, notifications.

Full-text search objects are not declared here because they differ per database and the
ORM never selects them: PostgreSQL has a generated `posts.search_vector` tsvector column with
a GIN index and a second, bucketed GIN index (`search_bucketed(search_vector, key)`, see
`app.discussion.search`), SQLite an external-content FTS5 table `post_search` kept current by
triggers. The migrations create them; `include_schema_name` / `include_schema_object` keep
them out of the models-versus-migrations drift comparison.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, new_id

# Names of the per-database full-text objects (see the module docstring).
SEARCH_TABLE = "post_search"
SEARCH_COLUMN = "search_vector"
SEARCH_INDEX = "ix_posts_search_vector"
SEARCH_BUCKET_INDEX = "ix_posts_search_buckets"

# An integer key that SQLite aliases to the rowid (only an INTEGER PRIMARY KEY does), so the
# FTS5 index can point at posts by a stable rowid; BIGINT elsewhere.
PostKey = BigInteger().with_variant(Integer(), "sqlite")


class DiscussionProfile(Base):
    """A member's `@handle` (unique, case-folded) and notification preferences."""

    __tablename__ = "discussion_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    handle: Mapped[str] = mapped_column(String(32), unique=True)
    email_digest: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(String(20))  # general, restricted, us_only
    # Last thread number handed out; incremented under this row's lock (see Thread.seq).
    thread_seq: Mapped[int] = mapped_column(default=0)
    archived_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (
        UniqueConstraint("topic_id", "seq"),
        # Quarantined threads are few: search excludes them through this small index instead
        # of joining every thread.
        Index(
            "ix_threads_quarantined",
            "id",
            postgresql_where=text("quarantined_at IS NOT NULL"),
            sqlite_where=text("quarantined_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    topic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    # Position in the topic, assigned while holding the topic row lock, so numbers appear in
    # commit order: a reader paging by seq never skips a thread committed late.
    seq: Mapped[int]
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    # Posts handed out so far (the last post seq); incremented under this row's lock.
    post_count: Mapped[int] = mapped_column(default=0)
    last_post_at: Mapped[datetime]
    locked_at: Mapped[datetime | None]
    locked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    lock_reason: Mapped[str | None] = mapped_column(Text)
    quarantined_at: Mapped[datetime | None]
    quarantined_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    quarantine_reason: Mapped[str | None] = mapped_column(Text)


class Post(Base):
    """Markdown exactly as written; never rendered server-side.

    `id` (random UUID) is the public identifier; `key` is internal (search index rowid) and
    never leaves the server, since a global counter would reveal activity in hidden topics.
    """

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("id"), UniqueConstraint("thread_id", "seq"))

    key: Mapped[int] = mapped_column(PostKey, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(default=new_id)
    thread_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    # The thread's topic, copied (threads never move): search filters the topics the caller
    # may open on the post row itself, before ranking, without joining threads.
    topic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    # Position in the thread, assigned under the thread row lock (commit order, no gaps).
    seq: Mapped[int]
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL")
    )
    # The thread title on its first post, so search finds threads by title; NULL otherwise.
    headline: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    hidden_at: Mapped[datetime | None]
    hidden_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)


class PostRevision(Base):
    """A superseded version of a post; the current version lives on the post itself."""

    __tablename__ = "post_revisions"
    __table_args__ = (UniqueConstraint("post_id", "revision"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    revision: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    # When this version was written (not when it was superseded).
    created_at: Mapped[datetime]


class PostFlag(Base):
    __tablename__ = "post_flags"
    __table_args__ = (
        UniqueConstraint("post_id", "flagger_id"),
        Index(None, "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    flagger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # open, actioned, dismissed
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolution_reason: Mapped[str | None] = mapped_column(Text)


class TopicWatch(Base):
    __tablename__ = "topic_watches"
    __table_args__ = (Index(None, "topic_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime]


class ThreadWatch(Base):
    __tablename__ = "thread_watches"
    __table_args__ = (Index(None, "thread_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime]


class Notification(Base):
    """Only ids and a kind: every word shown with it is read, and access checked, at read
    time, so a notification never outlives the recipient's right to see what it points at."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "post_id"), Index(None, "user_id", "created_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # reply, mention, new_thread, new_post
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]


def include_schema_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic `include_name` hook: skip SQLite's FTS5 table and its shadow tables."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLE))


def include_schema_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic `include_object` hook: skip the per-database full-text objects."""
    if type_ == "table" and name is not None and name.startswith(SEARCH_TABLE):
        return False
    if type_ == "column" and name == SEARCH_COLUMN and reflected:
        return False
    return not (type_ == "index" and name in (SEARCH_INDEX, SEARCH_BUCKET_INDEX))
