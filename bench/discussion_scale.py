"""Does discussion stay as fast at 1,000,000 posts as at 10,000? (PostgreSQL)

    python bench/discussion_data.py --posts 10000
    python bench/discussion_data.py --posts 1000000
    python bench/discussion_scale.py [--rounds 300] [--server postgresql://postgres@127.0.0.1/postgres]

Both databases are served by two instances of the real app in this one process (in-process
ASGI, the full request path: token, caller, scope, query, serialisation), and requests
alternate between them endpoint by endpoint, so drift and noise hit both sides alike.
Reported: p50 and p95 per endpoint and dataset, and the p50 ratio 1M / 10k.
Targets (from the issue): thread and post lists within 1.3x, search within 1.5x.

Search is reported per query class, with its number of matching posts at each size, and every
class counts toward the target:
- rare: a term in exactly 40 posts at either size (a specific technical term);
- pair: two words of ~2-3% document frequency each, both required;
- frequent: one word in ~3% of posts;
- common: one word in ~15% of posts.
Relevance ranking is bounded to the newest 250 matches (`repository.SEARCH_CANDIDATES`). They
are found by walking the bucketed GIN index newest bucket first (8,192 posts per bucket, see
`app.discussion.search`), so the work depends on how densely a query matches, not on how many
posts there are: a frequent word stops in the first bucket, two mid-frequency words after a few
dozen, a rare word after the whole 128-bucket window (the newest 1,048,576 posts; older posts
are searched with one probe of the plain index).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import statistics
import time
from dataclasses import dataclass

import asyncpg
import httpx
from discussion_common import (
    DEFAULT_SERVER,
    PROBE_TOPIC,
    database_name,
    database_url,
    ensure_member_session,
    queries,
    vocabulary,
)

from app.core.pagination import encode_cursor
from app.core.runtime import Runtime
from app.core.settings import Settings
from app.main import create_app

TARGETS = {"threads": 1.3, "posts": 1.3, "search": 1.5}


@dataclass
class Endpoint:
    name: str
    kind: str  # threads, posts, search
    path: str
    params: dict[str, str]


@dataclass
class Dataset:
    label: str
    url: str
    client: httpx.AsyncClient
    runtime: Runtime
    headers: dict[str, str]
    endpoints: list[Endpoint]
    matches: dict[str, int]


async def _dataset(server: str, posts: int, label: str) -> Dataset:
    url = database_url(server, database_name(posts))
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(
        environment="test", database_url=url, master_key=key, audit_checkpoint_minutes=0
    )
    runtime = Runtime.build(settings)
    user_id, session_id = await ensure_member_session(url, mfa_passed=True)
    token = runtime.access_tokens.issue(session_id, user_id)
    connection = await asyncpg.connect(url)
    try:
        probe = await connection.fetchval(
            "SELECT th.id FROM threads th JOIN topics t ON t.id = th.topic_id "
            "WHERE t.slug = $1 AND th.seq = 1",
            PROBE_TOPIC,
        )
        thread_count = await connection.fetchval(
            "SELECT thread_seq FROM topics WHERE slug = $1", PROBE_TOPIC
        )
        terms = queries(vocabulary())
        matches = {}
        for name, text in vars(terms).items():
            matches[name] = await connection.fetchval(
                "SELECT count(*) FROM posts WHERE search_vector @@ "
                "websearch_to_tsquery('english', $1)",
                text,
            )
    finally:
        await connection.close()
    topic_path = f"/topics/{PROBE_TOPIC}/threads"
    endpoints = [
        Endpoint("threads page 1", "threads", topic_path, {"limit": "50"}),
        Endpoint(
            "threads mid-list",
            "threads",
            topic_path,
            {"limit": "50", "cursor": encode_cursor([thread_count // 2 + 1])},
        ),
        Endpoint("posts page 1", "posts", f"/threads/{probe}/posts", {"limit": "50"}),
        Endpoint(
            "posts page 6",
            "posts",
            f"/threads/{probe}/posts",
            {"limit": "50", "cursor": encode_cursor([250])},
        ),
        Endpoint("search rare", "search", "/search", {"q": terms.rare, "limit": "50"}),
        Endpoint("search pair", "search", "/search", {"q": terms.pair, "limit": "50"}),
        Endpoint("search frequent", "search", "/search", {"q": terms.frequent, "limit": "50"}),
        Endpoint("search common", "search", "/search", {"q": terms.common, "limit": "50"}),
    ]
    app = create_app(runtime=runtime)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench/api/v1"
    )
    return Dataset(
        label, url, client, runtime, {"Authorization": f"Bearer {token}"}, endpoints, matches
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main_async(server: str, rounds: int, warmup: int, small: int, large: int) -> int:
    datasets = [
        await _dataset(server, small, f"{small // 1000}k"),
        await _dataset(
            server, large, f"{large // 1000}k" if large < 10**6 else f"{large // 10**6}M"
        ),
    ]
    timings: dict[tuple[str, str], list[float]] = {}
    sizes: dict[tuple[str, str], int] = {}
    for round_number in range(warmup + rounds):
        for index in range(len(datasets[0].endpoints)):
            for dataset in datasets:
                endpoint = dataset.endpoints[index]
                started = time.perf_counter()
                response = await dataset.client.get(
                    endpoint.path, params=endpoint.params, headers=dataset.headers
                )
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{endpoint.name}: {response.status_code} {response.text}")
                if round_number >= warmup:
                    timings.setdefault((dataset.label, endpoint.name), []).append(elapsed)
                    sizes[(dataset.label, endpoint.name)] = len(response.json()["items"])
    small_label, large_label = datasets[0].label, datasets[1].label
    print(f"\nPostgreSQL, in-process ASGI, {rounds} alternating rounds after {warmup} warm-up")
    print(
        f"{'endpoint':<18}{'rows':>6}{'p50 ' + small_label:>12}{'p50 ' + large_label:>12}"
        f"{'p95 ' + small_label:>12}{'p95 ' + large_label:>12}{'ratio':>8}  target"
    )
    failures = 0
    for endpoint in datasets[0].endpoints:
        a = timings[(small_label, endpoint.name)]
        b = timings[(large_label, endpoint.name)]
        ratio = statistics.median(b) / statistics.median(a)
        target = TARGETS[endpoint.kind]
        verdict = f"<= {target}x {'ok' if ratio <= target else 'MISSED'}"
        failures += ratio > target
        rows = sizes[(large_label, endpoint.name)]
        print(
            f"{endpoint.name:<18}{rows:>6}{statistics.median(a):>10.2f}ms"
            f"{statistics.median(b):>10.2f}ms{_pct(a, 0.95):>10.2f}ms{_pct(b, 0.95):>10.2f}ms"
            f"{ratio:>7.2f}x  {verdict}"
        )
    print("\nposts matching each search query:")
    for name in datasets[0].matches:
        print(
            f"  {name:<7} {small_label}: {datasets[0].matches[name]:>7,}   "
            f"{large_label}: {datasets[1].matches[name]:>7,}"
        )
    for dataset in datasets:
        await dataset.client.aclose()
        await dataset.runtime.db.dispose()
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    failures = asyncio.run(
        main_async(args.server, args.rounds, args.warmup, args.small, args.large)
    )
    print("\nall targets met" if failures == 0 else f"\n{failures} target(s) missed")


if __name__ == "__main__":
    main()
