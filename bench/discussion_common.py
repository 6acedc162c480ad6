"""What the discussion benchmarks share: the synthetic corpus, database names, the member
whose token the benchmarks use. Not a benchmark itself."""

from __future__ import annotations

import random
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url  # noqa: E402 - needs the repo root on sys.path

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE_TOPIC = "bench-general"
PROBE_POSTS = 500  # the thread whose pages are listed: the same length in every dataset
TOPICS = [
    # slug, tier, share of threads
    ("bench-general", "general", 0.40),
    ("bench-general-2", "general", 0.20),
    ("bench-restricted", "restricted", 0.25),
    ("bench-us", "us_only", 0.15),
]
# Planted in exactly RARE_DF posts each, whatever the corpus size: a selective query.
RARE_TERMS = ["xenolith", "quillwort", "brachistochrone", "gallimaufry", "sesquipedal"]
RARE_DF = 40
AUTHORS = 500
MEMBER_EMAIL = "bench-member@example.org"


def database_url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def database_name(posts: int) -> str:
    label = f"{posts // 1_000_000}m" if posts % 1_000_000 == 0 else f"{posts // 1000}k"
    return f"exchange_bench_{label}"


def vocabulary(size: int = 6000, seed: int = 7) -> list[str]:
    """Pronounceable pseudo-words, ranked: word i has Zipf weight 1 / (i + 1)."""
    rng = random.Random(seed)
    onsets = [
        "b",
        "c",
        "d",
        "f",
        "g",
        "k",
        "l",
        "m",
        "n",
        "p",
        "r",
        "s",
        "t",
        "v",
        "z",
        "st",
        "tr",
        "pl",
        "gr",
        "br",
        "ch",
        "sh",
        "th",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou", "io"]
    codas = ["", "n", "r", "l", "s", "t", "m", "x"]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        syllables = rng.choice([2, 2, 3, 3, 4])
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))
        word += rng.choice(codas)
        if word not in seen and word not in RARE_TERMS:
            seen.add(word)
            words.append(word)
    return words


@dataclass(frozen=True)
class Queries:
    """Search queries by class; the scale benchmark reports their result sizes with latency."""

    rare: str  # a term planted in exactly RARE_DF posts at any size
    pair: str  # two words of ~2-3% document frequency each, both required
    frequent: str  # one word in ~3% of posts
    common: str  # one word in ~15% of posts


def queries(words: list[str]) -> Queries:
    return Queries(
        rare=RARE_TERMS[0],
        pair=f"{words[200]} {words[300]}",
        frequent=words[200],
        common=words[40],
    )


async def ensure_member_session(url: str, *, mfa_passed: bool) -> tuple[uuid.UUID, uuid.UUID]:
    """The benchmark member (US, active) and a fresh login session; returns (user, session)."""
    connection = await asyncpg.connect(url)
    try:
        user_id = await connection.fetchval("SELECT id FROM users WHERE email = $1", MEMBER_EMAIL)
        if user_id is None:
            raise SystemExit(f"no benchmark member in {url}: run bench/discussion_data.py first")
        session_id = uuid.uuid4()
        now = datetime.now(UTC)
        await connection.execute(
            "INSERT INTO auth_sessions (id, user_id, kind, mfa_passed, auth_method, "
            "expires_at, created_at) VALUES ($1, $2, 'login', $3, 'password', $4, $5)",
            session_id,
            user_id,
            mfa_passed,
            now + timedelta(days=1),
            now,
        )
        return user_id, session_id
    finally:
        await connection.close()
