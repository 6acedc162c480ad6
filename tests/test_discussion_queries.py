"""Query counts on the hot endpoints (no N+1: the same count for 3 rows as for 40), the single
round trip that loads the caller, and an audit chain that stays intact under concurrent
posting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.core.runtime import Runtime
from tests.discussion_support import count_queries, create_thread, reply, us_member
from tests.helpers import Persona, World


async def _populate(world: World, author: Persona, others: list[Persona], rows: int) -> str:
    """`rows` threads in topic `lab`, the first with `rows` posts and `rows` notifications
    for `author` (replies by different people, each mentioning nobody)."""
    await world.topic("lab")
    first = await create_thread(world, author, "lab", "hot thread", "needle start")
    for index in range(rows - 1):
        await world.thread("lab", others[index % len(others)], title=f"t{index}", body="needle")
        await reply(world, others[index % len(others)], first["id"], f"needle reply {index}")
    return str(first["id"])


@pytest.mark.parametrize("rows", [3, 40])
async def test_hot_endpoints_use_a_fixed_number_of_queries(
    world: World, runtime: Runtime, rows: int
) -> None:
    author = await us_member(world, "author")
    others = [await us_member(world, f"o{i}") for i in range(4)]
    thread_id = await _populate(world, author, others, rows)
    expected = {
        # caller (one statement), topic, page
        "/topics/lab/threads": 3,
        # caller, thread with its topic, page
        f"/threads/{thread_id}/posts": 3,
        # caller, ranked page (visibility inside the same statement); PostgreSQL first sets
        # per-statement planning for search (SET LOCAL, no query)
        "/search": 3 if runtime.db.engine.dialect.name == "postgresql" else 2,
        # caller, page (read-time visibility inside the same statement)
        "/me/notifications": 2,
        # caller, page
        "/topics": 2,
    }
    for path, count in expected.items():
        with count_queries(runtime) as statements:
            params = {"limit": 50} | ({"q": "needle"} if path == "/search" else {})
            response = await world.client.get(path, params=params, headers=author.headers)
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) >= min(rows, 1)
        assert len(statements) == count, (path, statements)


async def test_caller_is_loaded_in_one_statement(world: World, runtime: Runtime) -> None:
    """Session, revocation, user, roles, membership and every country: one round trip."""
    member = await world.member(
        "multi",
        citizenships=("US", "JP", "DE"),
        residence="JP",
        affiliation="DE",
        roles=("moderator", "auditor"),
    )
    with count_queries(runtime) as statements:
        response = await world.client.get("/topics", headers=member.headers)
    assert response.status_code == 200
    assert len(statements) == 2
    me = (await world.client.get("/me", headers=member.headers)).json()
    assert me["roles"] == ["auditor", "moderator"]
    assert {limit["country"] for limit in me["eligibility"]["limited_by"]} == {"JP", "DE"}
    # A personal access token: one statement too (plus an hourly last-used stamp).
    created = await world.client.post(
        "/me/tokens",
        json={"name": "s", "scopes": ["read"], "expires_in_days": 1},
        headers=member.headers,
    )
    pat = {"Authorization": f"Bearer {created.json()['token']}"}
    await world.client.get("/topics", headers=pat)
    with count_queries(runtime) as statements:
        response = await world.client.get("/topics", headers=pat)
    assert response.status_code == 200
    assert len(statements) == 2


async def test_audit_chain_intact_under_concurrent_posting(world: World) -> None:
    admin = await world.admin()
    writers = [await us_member(world, f"w{i}") for i in range(4)]
    await world.topic("lab")
    threads = [await create_thread(world, w, "lab") for w in writers[:2]]

    async def burst(who: Persona, index: int) -> Any:
        thread = threads[index % 2]
        if index % 3 == 0:
            return await world.client.post(
                "/topics/lab/threads",
                json={"title": f"c{index}", "body": "b"},
                headers=who.headers,
            )
        return await world.client.post(
            f"/threads/{thread['id']}/posts", json={"body": f"p{index}"}, headers=who.headers
        )

    responses = await asyncio.gather(*(burst(writers[i % 4], i) for i in range(24)))
    assert [r.status_code for r in responses] == [201] * 24
    verify = (await world.client.get("/audit/verify", headers=admin.headers)).json()
    assert verify["ok"] is True, verify
    assert verify["checked"] >= 26
    for thread in threads:
        posts = (
            await world.client.get(f"/threads/{thread['id']}/posts", headers=writers[0].headers)
        ).json()["items"]
        assert [p["seq"] for p in posts] == list(range(1, len(posts) + 1))
    listed = (await world.client.get("/topics/lab/threads", headers=writers[0].headers)).json()
    assert [t["seq"] for t in listed["items"]] == list(range(len(listed["items"]), 0, -1))
