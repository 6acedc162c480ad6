"""artifacts: shared files, their encrypted versions, release review and download records

Revision ID: a7f1b2c3d4e5
Revises: d1s2c3u4s5s6
Create Date: 2026-11-27 05:00:00

Needs `topics` and `threads` from the discussion migration. Blobs live in artifact storage,
never in the database: a version row holds the blob key, the digest and the wrapped data key.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'a7f1b2c3d4e5'
down_revision: str | None = 'd1s2c3u4s5s6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('artifacts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('topic_id', sa.Uuid(), nullable=False),
    sa.Column('thread_id', sa.Uuid(), nullable=True),
    sa.Column('uploader_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('durc_category', sa.String(length=40), nullable=True),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_artifacts_thread_id_threads'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_artifacts_topic_id_topics')),
    sa.ForeignKeyConstraint(['uploader_id'], ['users.id'], name=op.f('fk_artifacts_uploader_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts'))
    )
    op.create_index(op.f('ix_artifacts_topic_id'), 'artifacts', ['topic_id', 'created_at', 'id'], unique=False)

    op.create_table('artifact_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('artifact_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('uploader_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('plaintext_size', sa.BigInteger(), nullable=False),
    sa.Column('ciphertext_size', sa.BigInteger(), nullable=False),
    sa.Column('blob_key', sa.String(length=255), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('license', sa.String(length=100), nullable=True),
    sa.Column('source_url', sa.String(length=2000), nullable=True),
    sa.Column('source_commit', sa.String(length=64), nullable=True),
    sa.Column('changelog', sa.Text(), nullable=True),
    sa.Column('provenance_blob_key', sa.String(length=255), nullable=True),
    sa.Column('provenance_filename', sa.String(length=255), nullable=True),
    sa.Column('provenance_media_type', sa.String(length=255), nullable=True),
    sa.Column('provenance_sha256', sa.String(length=64), nullable=True),
    sa.Column('provenance_size', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by', sa.Uuid(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_artifact_versions_artifact_id_artifacts')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_artifact_versions_reviewed_by_users')),
    sa.ForeignKeyConstraint(['uploader_id'], ['users.id'], name=op.f('fk_artifact_versions_uploader_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_versions')),
    sa.UniqueConstraint('artifact_id', 'number', name=op.f('uq_artifact_versions_artifact_id')),
    sa.UniqueConstraint('blob_key', name=op.f('uq_artifact_versions_blob_key')),
    sa.UniqueConstraint('provenance_blob_key', name=op.f('uq_artifact_versions_provenance_blob_key'))
    )
    op.create_index(op.f('ix_artifact_versions_key_id'), 'artifact_versions', ['key_id'], unique=False)
    op.create_index(op.f('ix_artifact_versions_status'), 'artifact_versions', ['status', 'created_at'], unique=False)
    op.create_index(op.f('ix_artifact_versions_uploader_id'), 'artifact_versions', ['uploader_id'], unique=False)

    op.create_table('artifact_downloads',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('artifact_id', sa.Uuid(), nullable=False),
    sa.Column('version_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('range_start', sa.BigInteger(), nullable=True),
    sa.Column('range_end', sa.BigInteger(), nullable=True),
    sa.Column('bytes_planned', sa.BigInteger(), nullable=False),
    sa.Column('bytes_served', sa.BigInteger(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('effective_tier', sa.String(length=20), nullable=True),
    sa.Column('countries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_artifact_downloads_artifact_id_artifacts')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_artifact_downloads_user_id_users')),
    sa.ForeignKeyConstraint(['version_id'], ['artifact_versions.id'], name=op.f('fk_artifact_downloads_version_id_artifact_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_downloads'))
    )
    op.create_index(op.f('ix_artifact_downloads_artifact_id'), 'artifact_downloads', ['artifact_id', 'started_at', 'id'], unique=False)
    op.create_index(op.f('ix_artifact_downloads_started_at'), 'artifact_downloads', ['started_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_artifact_downloads_started_at'), table_name='artifact_downloads')
    op.drop_index(op.f('ix_artifact_downloads_artifact_id'), table_name='artifact_downloads')
    op.drop_table('artifact_downloads')
    op.drop_index(op.f('ix_artifact_versions_uploader_id'), table_name='artifact_versions')
    op.drop_index(op.f('ix_artifact_versions_status'), table_name='artifact_versions')
    op.drop_index(op.f('ix_artifact_versions_key_id'), table_name='artifact_versions')
    op.drop_table('artifact_versions')
    op.drop_index(op.f('ix_artifacts_topic_id'), table_name='artifacts')
    op.drop_table('artifacts')
