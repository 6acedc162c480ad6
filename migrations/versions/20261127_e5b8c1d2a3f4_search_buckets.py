"""search buckets: a second GIN index whose terms carry the post's key range (PostgreSQL)

Revision ID: e5b8c1d2a3f4
Revises: a7f1b2c3d4e5
Create Date: 2026-11-27 09:30:00

Relevance search ranks the newest matches. A plain GIN index cannot find "the newest matches"
without reading every match of every word, so a query of two mid-frequency words costs more as
the corpus grows. Here every post's lexemes are also indexed as `lexeme~B`, where B is the
post's bucket (`key >> 13`: 8,192 consecutive posts), plus a marker `~B`. A query for bucket B
reads only that bucket's share of each word, so search walks buckets newest first and stops
as soon as it has enough (see `app.discussion.search`). The plain index stays for the older
remainder, where rare words are cheap anyway.

- `search_bucket(key)` and `search_bucketed(vector, key)` must agree on the bucket width; a test
  checks that they do. Changing it means a new migration that redefines both and reindexes.
- Lexemes are cut to 500 characters (at most 2,000 bytes) so a suffixed lexeme always fits
  PostgreSQL's 2,047-byte limit; a query word is at most 300 characters, so a cut lexeme could
  never have matched one anyway.
- `fastupdate = off`: with a pending list every bucket's scan would re-read it; inserting a
  post's terms directly costs a fraction of a millisecond instead.
- The functions use only `pg_catalog`, so they resolve under any `search_path` (maintenance
  commands run index expressions with a restricted one).

SQLite is untouched: its FTS5 search scans differently (see the discussion migration).
"""
from collections.abc import Sequence

from alembic import op

revision: str = "e5b8c1d2a3f4"
down_revision: str | None = "a7f1b2c3d4e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UPGRADE = [
    "CREATE FUNCTION search_bucket(key bigint) RETURNS bigint "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    "AS $$ SELECT key >> 13 $$",
    "CREATE FUNCTION search_bucketed(vector tsvector, key bigint) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 "
    "AS $$ SELECT pg_catalog.array_to_tsvector(pg_catalog.array_append("
    "ARRAY(SELECT pg_catalog.left(lexeme, 500) || '~' || (key >> 13)::text "
    "FROM pg_catalog.unnest(pg_catalog.tsvector_to_array(vector)) AS lexeme), "
    "'~' || (key >> 13)::text)) $$",
    "CREATE INDEX ix_posts_search_buckets ON posts "
    "USING gin (search_bucketed(search_vector, key)) WITH (fastupdate = off)",
]

_DOWNGRADE = [
    "DROP INDEX IF EXISTS ix_posts_search_buckets",
    "DROP FUNCTION IF EXISTS search_bucketed(tsvector, bigint)",
    "DROP FUNCTION IF EXISTS search_bucket(bigint)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _DOWNGRADE:
            op.execute(statement)
