"""discussion: topics, threads, posts, revisions, flags, watches, notifications, full-text search

Revision ID: d1s2c3u4s5s6
Revises: 5c4e3a1b2d10
Create Date: 2026-11-27 04:00:00

Full-text search differs per database and is created here, outside the models:
- PostgreSQL: `posts.search_vector`, a stored generated tsvector (thread title on a thread's
  first post at weight A, the body at weight B) with a GIN index.
- SQLite: `post_search`, an external-content FTS5 table over `posts(headline, body)` keyed by
  `posts.key` (an INTEGER PRIMARY KEY, hence a stable rowid), kept current by triggers, which
  also empty it when posts are deleted. A later migration that rebuilds `posts` in batch mode
  must recreate these triggers.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd1s2c3u4s5s6'
down_revision: str | None = "5c4e3a1b2d10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE post_search USING fts5("
    "headline, body, content='posts', content_rowid='key', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER post_search_ai AFTER INSERT ON posts BEGIN "
    "INSERT INTO post_search(rowid, headline, body) VALUES (new.key, new.headline, new.body); "
    "END",
    "CREATE TRIGGER post_search_ad AFTER DELETE ON posts BEGIN "
    "INSERT INTO post_search(post_search, rowid, headline, body) "
    "VALUES ('delete', old.key, old.headline, old.body); "
    "END",
    "CREATE TRIGGER post_search_au AFTER UPDATE OF headline, body ON posts BEGIN "
    "INSERT INTO post_search(post_search, rowid, headline, body) "
    "VALUES ('delete', old.key, old.headline, old.body); "
    "INSERT INTO post_search(rowid, headline, body) VALUES (new.key, new.headline, new.body); "
    "END",
]

_POSTGRES_FTS = [
    "ALTER TABLE posts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, coalesce(headline, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B')) STORED",
    "CREATE INDEX ix_posts_search_vector ON posts USING gin (search_vector)",
]


def upgrade() -> None:
    op.create_table('discussion_profiles',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('handle', sa.String(length=32), nullable=False),
    sa.Column('email_digest', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_discussion_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_discussion_profiles')),
    sa.UniqueConstraint('handle', name=op.f('uq_discussion_profiles_handle'))
    )
    op.create_table('topics',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('thread_seq', sa.Integer(), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_topics_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('slug', name=op.f('uq_topics_slug'))
    )
    op.create_table('threads',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('topic_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('post_count', sa.Integer(), nullable=False),
    sa.Column('last_post_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_by', sa.Uuid(), nullable=True),
    sa.Column('lock_reason', sa.Text(), nullable=True),
    sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('quarantined_by', sa.Uuid(), nullable=True),
    sa.Column('quarantine_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_threads_author_id_users')),
    sa.ForeignKeyConstraint(['locked_by'], ['users.id'], name=op.f('fk_threads_locked_by_users')),
    sa.ForeignKeyConstraint(['quarantined_by'], ['users.id'], name=op.f('fk_threads_quarantined_by_users')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_threads_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_threads')),
    sa.UniqueConstraint('topic_id', 'seq', name=op.f('uq_threads_topic_id'))
    )
    op.create_index('ix_threads_quarantined', 'threads', ['id'], unique=False, postgresql_where=sa.text('quarantined_at IS NOT NULL'), sqlite_where=sa.text('quarantined_at IS NOT NULL'))
    op.create_table('topic_watches',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('topic_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_watches_topic_id_topics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_topic_watches_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'topic_id', name=op.f('pk_topic_watches'))
    )
    op.create_index(op.f('ix_topic_watches_topic_id'), 'topic_watches', ['topic_id'], unique=False)
    op.create_table('posts',
    sa.Column('key', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('thread_id', sa.Uuid(), nullable=False),
    sa.Column('topic_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('reply_to_id', sa.Uuid(), nullable=True),
    sa.Column('headline', sa.String(length=300), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden_by', sa.Uuid(), nullable=True),
    sa.Column('hidden_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_posts_author_id_users')),
    sa.ForeignKeyConstraint(['hidden_by'], ['users.id'], name=op.f('fk_posts_hidden_by_users')),
    sa.ForeignKeyConstraint(['reply_to_id'], ['posts.id'], name=op.f('fk_posts_reply_to_id_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_posts_thread_id_threads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_posts_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_posts')),
    sa.UniqueConstraint('id', name=op.f('uq_posts_id')),
    sa.UniqueConstraint('thread_id', 'seq', name=op.f('uq_posts_thread_id'))
    )
    op.create_table('thread_watches',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('thread_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_thread_watches_thread_id_threads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_thread_watches_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'thread_id', name=op.f('pk_thread_watches'))
    )
    op.create_index(op.f('ix_thread_watches_thread_id'), 'thread_watches', ['thread_id'], unique=False)
    op.create_table('notifications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_notifications_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_notifications_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('user_id', 'post_id', name=op.f('uq_notifications_user_id'))
    )
    op.create_index(op.f('ix_notifications_user_id'), 'notifications', ['user_id', 'created_at'], unique=False)
    op.create_table('post_flags',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('flagger_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.Uuid(), nullable=True),
    sa.Column('resolution_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['flagger_id'], ['users.id'], name=op.f('fk_post_flags_flagger_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_flags_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], name=op.f('fk_post_flags_resolved_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_flags')),
    sa.UniqueConstraint('post_id', 'flagger_id', name=op.f('uq_post_flags_post_id'))
    )
    op.create_index(op.f('ix_post_flags_status'), 'post_flags', ['status', 'created_at'], unique=False)
    op.create_table('post_revisions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('editor_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['users.id'], name=op.f('fk_post_revisions_editor_id_users')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_revisions_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_revisions')),
    sa.UniqueConstraint('post_id', 'revision', name=op.f('uq_post_revisions_post_id'))
    )
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_FTS, "postgresql": _POSTGRES_FTS}.get(dialect)
    if statements is None:
        raise NotImplementedError(f"full-text search is not implemented for {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("post_search_au", "post_search_ad", "post_search_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS post_search")
    else:
        op.execute("DROP INDEX IF EXISTS ix_posts_search_vector")
        op.execute("ALTER TABLE posts DROP COLUMN IF EXISTS search_vector")
    op.drop_table('post_revisions')
    op.drop_index(op.f('ix_post_flags_status'), table_name='post_flags')
    op.drop_table('post_flags')
    op.drop_index(op.f('ix_notifications_user_id'), table_name='notifications')
    op.drop_table('notifications')
    op.drop_index(op.f('ix_thread_watches_thread_id'), table_name='thread_watches')
    op.drop_table('thread_watches')
    op.drop_table('posts')
    op.drop_index(op.f('ix_topic_watches_topic_id'), table_name='topic_watches')
    op.drop_table('topic_watches')
    op.drop_index('ix_threads_quarantined', table_name='threads')
    op.drop_table('threads')
    op.drop_table('topics')
    op.drop_table('discussion_profiles')
