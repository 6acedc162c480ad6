"""Generate a discussion corpus in a PostgreSQL database of its own (minutes, not hours).

    python bench/discussion_data.py --posts 10000
    python bench/discussion_data.py --posts 1000000 [--server postgresql://postgres@127.0.0.1/postgres]

Creates (or re-creates) `exchange_bench_10k` / `exchange_bench_1m`, migrates it with the real
migrations, and loads with COPY: 500 authors, four topics (general, general, restricted,
us_only), threads of 1-99 posts (one probe thread of exactly 500 posts in `bench-general`
whatever the size), bodies of 30-90 Zipf-distributed words from a 6,000-word vocabulary,
five rare terms in exactly 40 posts each, and one US member for the benchmarks' tokens.
The GIN indexes are dropped during the load and rebuilt after it (one sort instead of a million
index updates; at 1M the bucketed one takes about three minutes), foreign-key triggers are off
during COPY (the generator guarantees them), and the database is vacuumed and analysed at the
end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
from discussion_common import (
    AUTHORS,
    DEFAULT_SERVER,
    MEMBER_EMAIL,
    PROBE_POSTS,
    PROBE_TOPIC,
    RARE_DF,
    RARE_TERMS,
    TOPICS,
    database_name,
    database_url,
    vocabulary,
)

from app.migrate import upgrade

BATCH = 20_000
START = datetime(2025, 1, 1, tzinfo=UTC)


def _log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)


class Corpus:
    def __init__(self, posts: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary()
        self.cumulative = list(itertools.accumulate(1 / (i + 1) for i in range(len(self.words))))
        self.total_posts = posts
        # Post numbers (0-based, in load order) that receive each rare term.
        self.rare: dict[int, list[str]] = {}
        for term in RARE_TERMS:
            for index in self.rng.sample(range(posts), RARE_DF):
                self.rare.setdefault(index, []).append(term)

    def text(self, low: int, high: int) -> str:
        count = self.rng.randint(low, high)
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=count))

    def body(self, index: int) -> str:
        text = self.text(30, 90)
        extra = self.rare.get(index)
        return f"{text} {' '.join(extra)}" if extra else text


def _thread_sizes(posts: int, rng: random.Random) -> list[int]:
    sizes = [PROBE_POSTS]
    left = posts - PROBE_POSTS
    while left > 0:
        size = min(left, rng.randint(1, 99))
        sizes.append(size)
        left -= size
    return sizes


async def _recreate(server: str, name: str) -> None:
    connection = await asyncpg.connect(server)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def load(server: str, posts: int, seed: int) -> None:
    started = time.perf_counter()
    name = database_name(posts)
    url = database_url(server, name)
    await _recreate(server, name)
    await asyncio.to_thread(upgrade, url)
    _log(f"created and migrated {name}", started)

    corpus = Corpus(posts, seed)
    rng = corpus.rng
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET session_replication_role = replica")
        # The search indexes, as the migrations made them, are dropped for the load and built
        # again after it (one sort instead of a million index updates).
        search_indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'posts' "
            "AND indexdef LIKE '%USING gin%' ORDER BY indexname"
        )
        for index in search_indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')

        authors = [uuid.uuid4() for _ in range(AUTHORS)]
        await connection.copy_records_to_table(
            "users",
            columns=["id", "email", "display_name", "created_at"],
            records=[
                (user_id, f"author{i}@example.org", f"Author {i}", START)
                for i, user_id in enumerate(authors)
            ],
        )
        await connection.copy_records_to_table(
            "discussion_profiles",
            columns=["user_id", "handle", "email_digest", "created_at"],
            records=[(user_id, f"author{i}", False, START) for i, user_id in enumerate(authors)],
        )
        topic_ids = {slug: uuid.uuid4() for slug, _tier, _share in TOPICS}
        await connection.copy_records_to_table(
            "topics",
            columns=[
                "id",
                "slug",
                "title",
                "description",
                "tier",
                "thread_seq",
                "created_at",
                "updated_at",
            ],
            records=[
                (topic_ids[slug], slug, f"Benchmark {slug}", "Generated.", tier, 0, START, START)
                for slug, tier, _share in TOPICS
            ],
        )

        sizes = _thread_sizes(posts, rng)
        slugs = [slug for slug, _tier, _share in TOPICS]
        shares = [share for _slug, _tier, share in TOPICS]
        thread_seq = dict.fromkeys(slugs, 0)
        threads: list[tuple[object, ...]] = []
        layout: list[tuple[uuid.UUID, uuid.UUID, int, datetime]] = []  # thread, topic, posts, start
        for index, size in enumerate(sizes):
            slug = PROBE_TOPIC if index == 0 else rng.choices(slugs, weights=shares)[0]
            thread_seq[slug] += 1
            thread_id = uuid.uuid4()
            begun = START + timedelta(minutes=10 * index)
            last = begun + timedelta(seconds=30 * (size - 1))
            threads.append(
                (
                    thread_id,
                    topic_ids[slug],
                    thread_seq[slug],
                    rng.choice(authors),
                    corpus.text(4, 8)[:300],
                    begun,
                    size,
                    last,
                )
            )
            layout.append((thread_id, topic_ids[slug], size, begun))
        await connection.copy_records_to_table(
            "threads",
            columns=[
                "id",
                "topic_id",
                "seq",
                "author_id",
                "title",
                "created_at",
                "post_count",
                "last_post_at",
            ],
            records=threads,
        )
        for slug, seq in thread_seq.items():
            await connection.execute("UPDATE topics SET thread_seq = $1 WHERE slug = $2", seq, slug)
        _log(f"{len(authors)} authors, {len(TOPICS)} topics, {len(threads)} threads", started)

        titles = {row[0]: row[4] for row in threads}

        def post_records() -> Iterator[tuple[object, ...]]:
            number = 0
            for thread_id, topic_id, size, begun in layout:
                for seq in range(1, size + 1):
                    yield (
                        uuid.uuid4(),
                        thread_id,
                        topic_id,
                        seq,
                        rng.choice(authors),
                        titles[thread_id] if seq == 1 else None,
                        corpus.body(number),
                        1,
                        begun + timedelta(seconds=30 * (seq - 1)),
                    )
                    number += 1

        columns = [
            "id",
            "thread_id",
            "topic_id",
            "seq",
            "author_id",
            "headline",
            "body",
            "revision",
            "created_at",
        ]
        records = post_records()
        loaded = 0
        while True:
            batch = list(itertools.islice(records, BATCH))
            if not batch:
                break
            await connection.copy_records_to_table("posts", columns=columns, records=batch)
            loaded += len(batch)
            if loaded % 200_000 == 0 or loaded == posts:
                _log(f"{loaded:,} posts", started)

        await connection.execute("SET maintenance_work_mem = '1GB'")
        for index in search_indexes:
            await connection.execute(index["indexdef"])
            _log(f"built {index['indexname']}", started)
        await _member(connection)
        await connection.execute("SET session_replication_role = origin")
        await connection.execute("VACUUM ANALYZE")
        _log(f"done: {name} has {posts:,} posts", started)
    finally:
        await connection.close()


async def _member(connection: asyncpg.Connection) -> None:
    """One active US member: the benchmarks sign in as them."""
    user_id, application_id, membership_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    await connection.execute(
        "INSERT INTO users (id, email, display_name, email_verified_at, created_at) "
        "VALUES ($1, $2, 'Bench Member', $3, $3)",
        user_id,
        MEMBER_EMAIL,
        now,
    )
    await connection.execute(
        "INSERT INTO applications (id, user_id, status, legal_name, citizenships, "
        "residence_country, affiliation_name, affiliation_country, federal_award_ids, "
        "research_statement, attested_at, screening_result, screening_matches, screened_at, "
        "created_at) VALUES ($1, $2, 'approved', 'Bench Member', '[\"US\"]', 'US', 'Lab', "
        "'US', '[]', 'Benchmarks.', $3, 'clear', '[]', $3, $3)",
        application_id,
        user_id,
        now,
    )
    await connection.execute(
        "INSERT INTO memberships (id, user_id, application_id, status, status_changed_at, "
        "approved_at, expires_at, created_at) VALUES ($1, $2, $3, 'active', $4, $4, $5, $4)",
        membership_id,
        user_id,
        application_id,
        now,
        now + timedelta(days=365),
    )
    for relation in ("citizenship", "residence", "affiliation"):
        await connection.execute(
            "INSERT INTO membership_countries (membership_id, relation, country_code) "
            "VALUES ($1, $2, 'US')",
            membership_id,
            relation,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, required=True)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.posts < PROBE_POSTS + 100:
        parser.error(f"--posts must be at least {PROBE_POSTS + 100}")
    asyncio.run(load(args.server, args.posts, args.seed))


if __name__ == "__main__":
    main()
