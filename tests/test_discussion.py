"""Topics by tier, threads and posts: visibility everywhere, revisions, deletion, validation,
step-up MFA, and pagination that stays exact while others post."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from app.core.pagination import encode_cursor
from app.core.runtime import Runtime
from app.main import create_app
from tests.discussion_support import (
    all_pages,
    create_thread,
    create_topic,
    jp_member,
    moderator,
    ok,
    problem,
    reply,
    us_member,
)
from tests.helpers import Persona, World, totp_now

# --- The "done" scenario ------------------------------------------------------------------


async def test_us_and_certified_member_share_general_but_not_restricted(world: World) -> None:
    admin = await world.admin()
    us = await us_member(world)
    jp = await jp_member(world)
    await create_topic(world, admin, "open-lab", "general")
    await create_topic(world, admin, "closed-lab", "restricted")
    c = world.client

    # Both see the general topic; only the US member sees the restricted one.
    us_page = ok(await c.get("/topics", headers=us.headers))
    us_topics = {t["slug"] for t in us_page["items"]}
    jp_page = ok(await c.get("/topics", headers=jp.headers))
    jp_topics = {t["slug"] for t in jp_page["items"]}
    assert us_topics == {"open-lab", "closed-lab"}
    assert jp_topics == {"open-lab"}

    # They talk in the general topic.
    shared = await create_thread(world, us, "open-lab", "Evaluation harness", "Shared notes.")
    answer = await reply(world, jp, shared["id"], "Thanks!")
    posts = await all_pages(c, f"/threads/{shared['id']}/posts", us.headers)
    assert [p["id"] for p in posts] == [shared["first_post"]["id"], answer["id"]]

    # The US member posts in the restricted topic, mentioning the JP member by handle.
    jp_handle = (ok(await c.get("/me/discussion-profile", headers=jp.headers)))["handle"]
    secret = await create_thread(
        world, us, "closed-lab", "Uplift measurements", f"Results zanzibarite @{jp_handle}"
    )
    secret_post = secret["first_post"]["id"]
    edited = await c.patch(
        f"/posts/{secret_post}",
        json={"body": f"Results zanzibarite v2 @{jp_handle}"},
        headers=us.headers,
    )
    ok(edited)

    # Invisible to the JP member in lists ...
    listing = await c.get("/topics/closed-lab/threads", headers=jp.headers)
    problem(listing, 404, "not_found")
    # ... by direct ids, for every kind of id that belongs to the topic ...
    for method, path, body in [
        ("GET", "/topics/closed-lab", None),
        ("PUT", "/topics/closed-lab/watch", None),
        ("POST", "/topics/closed-lab/threads", {"title": "x", "body": "y"}),
        ("GET", f"/threads/{secret['id']}", None),
        ("GET", f"/threads/{secret['id']}/posts", None),
        ("POST", f"/threads/{secret['id']}/posts", {"body": "y"}),
        ("PUT", f"/threads/{secret['id']}/watch", None),
        ("GET", f"/posts/{secret_post}", None),
        ("GET", f"/posts/{secret_post}/revisions", None),
        ("PATCH", f"/posts/{secret_post}", {"body": "y"}),
        ("DELETE", f"/posts/{secret_post}", None),
        ("POST", f"/posts/{secret_post}/flags", {"reason": "r"}),
    ]:
        kwargs: dict[str, Any] = {"headers": jp.headers}
        if body is not None:
            kwargs["json"] = body
        response = await c.request(method, path, **kwargs)
        problem(response, 404, "not_found")
        missing = (
            path.replace(str(secret["id"]), str(uuid.uuid4()))
            .replace(secret_post, str(uuid.uuid4()))
            .replace("closed-lab", "no-such-topic")
        )
        # Byte for byte the answer a missing object gets (apart from the path echoed back).
        other = await c.request(method, missing, **kwargs)
        assert other.status_code == 404
        assert {k: v for k, v in other.json().items() if k != "instance"} == {
            k: v for k, v in response.json().items() if k != "instance"
        }
    # ... in search (also with the topic filter) ...
    hits = ok(await c.get("/search", params={"q": "zanzibarite"}, headers=jp.headers))
    assert hits == {"items": [], "next_cursor": None}
    filtered = await c.get(
        "/search", params={"q": "zanzibarite", "topic": "closed-lab"}, headers=jp.headers
    )
    problem(filtered, 404, "not_found")
    us_hits = ok(await c.get("/search", params={"q": "zanzibarite"}, headers=us.headers))
    assert [h["post_id"] for h in us_hits["items"]] == [secret_post]
    # ... and in notifications, although the mention did create one.
    notes = ok(await c.get("/me/notifications", headers=jp.headers))
    assert all(n["thread"]["id"] != secret["id"] for n in notes["items"])


async def test_raising_a_topic_tier_hides_it_at_once(world: World) -> None:
    admin = await world.admin()
    us = await us_member(world)
    jp = await jp_member(world)
    await create_topic(world, admin, "ops", "general")
    thread = await create_thread(world, us, "ops", "Plan", "Body")
    ok(await world.client.put("/topics/ops/watch", headers=jp.headers), 204)
    jp_reply = await reply(world, jp, thread["id"], "from jp")
    await reply(world, us, thread["id"], "answer", reply_to=jp_reply["id"])
    notes = ok(await world.client.get("/me/notifications", headers=jp.headers))
    assert [n["kind"] for n in notes["items"]] == ["reply"]

    raised = await world.client.patch(
        "/admin/topics/ops",
        json={"tier": "restricted", "reason": "sensitive"},
        headers=admin.headers,
    )
    assert (ok(raised))["tier"] == "restricted"
    problem(await world.client.get("/topics/ops", headers=jp.headers), 404, "not_found")
    problem(
        await world.client.get(f"/threads/{thread['id']}", headers=jp.headers), 404, "not_found"
    )
    notes = ok(await world.client.get("/me/notifications", headers=jp.headers))
    assert notes["items"] == []
    watches = ok(await world.client.get("/me/watches", headers=jp.headers))
    assert watches == []
    # The US member still reads everything.
    ok(await world.client.get(f"/threads/{thread['id']}", headers=us.headers))
    events = ok(
        await world.client.get(
            "/audit/events", params={"action": "topic.updated"}, headers=admin.headers
        )
    )
    assert events["items"][0]["reason"] == "sensitive"
    assert events["items"][0]["details"]["changes"]["tier"] == {
        "from": "general",
        "to": "restricted",
    }


async def test_losing_tier_hides_notifications_at_read_time(world: World) -> None:
    admin = await world.admin()
    us = await us_member(world)
    jp = await jp_member(world)
    await create_topic(world, admin, "shared", "general")
    jp_handle = (ok(await world.client.get("/me/discussion-profile", headers=jp.headers)))["handle"]
    await create_thread(world, us, "shared", "Hello", f"Welcome @{jp_handle}")
    notes = ok(await world.client.get("/me/notifications", headers=jp.headers))
    assert [n["kind"] for n in notes["items"]] == ["mention"]
    assert notes["items"][0]["excerpt"].startswith("Welcome")

    # Japan's certification is suspended: the notification is no longer shown.
    await world.country("JP", status="suspended", tier="general")
    notes = ok(await world.client.get("/me/notifications", headers=jp.headers))
    assert notes["items"] == []
    await world.country("JP", status="certified", tier="general")
    notes = ok(await world.client.get("/me/notifications", headers=jp.headers))
    assert len(notes["items"]) == 1


# --- Topics -------------------------------------------------------------------------------


async def test_topic_admin_lifecycle_and_archive(world: World) -> None:
    admin = await world.admin()
    us = await us_member(world)
    created = await create_topic(world, admin, "robust-ml", "restricted", "Robust ML")
    assert created["thread_count"] == 0 and created["created_by"] == str(admin.user_id)
    problem(
        await world.client.post(
            "/admin/topics",
            json={"slug": "robust-ml", "title": "t", "description": "d", "tier": "general"},
            headers=admin.headers,
        ),
        409,
        "slug_taken",
    )
    for bad in ["Robust", "a", "-x", "x--y", "x_y", "x" * 65]:
        response = await world.client.post(
            "/admin/topics",
            json={"slug": bad, "title": "t", "description": "d", "tier": "general"},
            headers=admin.headers,
        )
        problem(response, 422, "validation_error")
    thread = await create_thread(world, us, "robust-ml")
    archived = await world.client.patch(
        "/admin/topics/robust-ml", json={"archived": True}, headers=admin.headers
    )
    assert (ok(archived))["archived"] is True
    listed = ok(await world.client.get("/topics", headers=us.headers))
    assert listed["items"] == []
    listed = ok(
        await world.client.get("/topics", params={"include_archived": True}, headers=us.headers)
    )
    assert [t["slug"] for t in listed["items"]] == ["robust-ml"]
    # Archived topics stay readable but take no new threads or posts.
    ok(await world.client.get(f"/threads/{thread['id']}/posts", headers=us.headers))
    problem(
        await world.client.post(
            "/topics/robust-ml/threads", json={"title": "t", "body": "b"}, headers=us.headers
        ),
        409,
        "topic_archived",
    )
    problem(
        await world.client.post(
            f"/threads/{thread['id']}/posts", json={"body": "b"}, headers=us.headers
        ),
        409,
        "topic_archived",
    )
    every = ok(await world.client.get("/admin/topics", headers=admin.headers))
    assert [t["slug"] for t in every["items"]] == ["robust-ml"]
    assert every["items"][0]["thread_count"] == 1
    actions = [
        e["action"]
        for e in (ok(await world.client.get("/audit/events", headers=admin.headers)))["items"]
    ]
    assert "topic.created" in actions and "topic.archived" in actions
    problem(
        await world.client.patch("/admin/topics/nope", json={}, headers=admin.headers),
        404,
        "not_found",
    )


async def test_topic_list_paginates(world: World) -> None:
    us = await us_member(world)
    for index in range(5):
        await world.topic(f"t-{index}")
    slugs = [t["slug"] for t in await all_pages(world.client, "/topics", us.headers, limit=2)]
    assert slugs == [f"t-{i}" for i in range(5)]


# --- Step-up MFA --------------------------------------------------------------------------


async def test_step_up_tier_needs_totp_session(world: World) -> None:
    admin = await world.admin()
    await create_topic(world, admin, "homeland", "us_only")
    plain = await us_member(world, "plain")
    strong = await us_member(world, "strong", mfa=True)
    # Visible (listed, metadata readable) but the session is not strong enough for content.
    listed = ok(await world.client.get("/topics", headers=plain.headers))
    assert [(t["slug"], t["step_up_required"]) for t in listed["items"]] == [("homeland", True)]
    ok(await world.client.get("/topics/homeland", headers=plain.headers))
    for method, path, body in [
        ("GET", "/topics/homeland/threads", None),
        ("POST", "/topics/homeland/threads", {"title": "t", "body": "b"}),
    ]:
        kwargs: dict[str, Any] = {"headers": plain.headers}
        if body:
            kwargs["json"] = body
        problem(await world.client.request(method, path, **kwargs), 403, "mfa_required")
    thread = await create_thread(world, strong, "homeland", "Only here", "quokkaflux")
    problem(
        await world.client.get(f"/threads/{thread['id']}", headers=plain.headers),
        403,
        "mfa_required",
    )
    problem(
        await world.client.get(
            "/search", params={"q": "quokkaflux", "topic": "homeland"}, headers=plain.headers
        ),
        403,
        "mfa_required",
    )
    # Lists leave step-up content out rather than failing.
    hits = ok(await world.client.get("/search", params={"q": "quokkaflux"}, headers=plain.headers))
    assert hits["items"] == []
    strong_hits = ok(
        await world.client.get("/search", params={"q": "quokkaflux"}, headers=strong.headers)
    )
    assert len(strong_hits["items"]) == 1
    # A member below the tier still gets 404, never the step-up answer.
    jp = await jp_member(world)
    problem(await world.client.get("/topics/homeland", headers=jp.headers), 404, "not_found")


async def test_step_up_can_be_switched_off(world: World, runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"step_up_tier": "none"})
    relaxed = create_app(runtime=Runtime.build(settings, runtime.db))
    transport = httpx.ASGITransport(app=relaxed)
    await world.topic("homeland", tier="us_only")
    plain = await us_member(world)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as client:
        response = await client.get("/topics/homeland/threads", headers=plain.headers)
        assert response.status_code == 200, response.text
        topics = (await client.get("/topics", headers=plain.headers)).json()
        assert topics["items"][0]["step_up_required"] is False


async def test_step_up_from_login_with_totp(world: World) -> None:
    """A real login with a TOTP code yields a session that opens step-up content."""
    await world.topic("homeland", tier="us_only")
    member = await us_member(world, mfa=True)
    assert member.totp_secret is not None
    login = await world.login(member.email, totp_code=totp_now(member.totp_secret))
    token = (ok(login))["access_token"]
    response = await world.client.get(
        "/topics/homeland/threads", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text


# --- Threads and posts --------------------------------------------------------------------


async def test_thread_and_post_shapes(world: World) -> None:
    us = await us_member(world)
    await world.topic("lab")
    body = "# Heading\n\n<script>alert(1)</script> **bold** `code`\n\ttabbed"
    created = await create_thread(world, us, "lab", "Title", body)
    assert created["topic"] == "lab" and created["seq"] == 1 and created["post_count"] == 1
    assert created["first_post"]["body"] == body  # stored and returned exactly as written
    assert created["first_post"]["seq"] == 1
    detail = ok(await world.client.get(f"/threads/{created['id']}", headers=us.headers))
    assert detail["topic_detail"] == {"slug": "lab", "title": "A topic", "tier": "general"}
    second = await reply(world, us, created["id"], "Reply", reply_to=created["first_post"]["id"])
    assert second["seq"] == 2 and second["reply_to_id"] == created["first_post"]["id"]
    fetched = ok(await world.client.get(f"/posts/{second['id']}", headers=us.headers))
    assert fetched == second
    threads = ok(await world.client.get("/topics/lab/threads", headers=us.headers))
    assert threads["items"][0]["post_count"] == 2
    assert threads["next_cursor"] is None


async def test_reply_to_must_be_in_the_same_thread(world: World) -> None:
    admin = await world.admin()
    us = await us_member(world)
    jp = await jp_member(world)
    await create_topic(world, admin, "open", "general")
    await create_topic(world, admin, "closed", "restricted")
    open_thread = await create_thread(world, jp, "open")
    other_thread = await create_thread(world, jp, "open")
    hidden_thread = await create_thread(world, us, "closed")
    for target in [
        other_thread["first_post"]["id"],
        hidden_thread["first_post"]["id"],
        str(uuid.uuid4()),
    ]:
        response = await world.client.post(
            f"/threads/{open_thread['id']}/posts",
            json={"body": "x", "reply_to_id": target},
            headers=jp.headers,
        )
        problem(response, 422, "invalid_reply")


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("title", "x" * 301, "title over 300 characters"),
        ("title", "tab\there", "control character in a title"),
        ("title", "   ", "blank title"),
        ("body", "a" * (64 * 1024 + 1), "body over 64 KiB"),
        ("body", "é" * (32 * 1024 + 1), "body over 64 KiB in UTF-8 bytes"),
        ("body", "nul\x00byte", "NUL"),
        ("body", "bell\x07", "control character"),
        ("body", "carriage\rreturn", "carriage return"),
        ("body", "c1\x85control", "C1 control character"),
        ("body", "", "empty body"),
    ],
)
async def test_thread_input_is_validated(world: World, field: str, value: str, why: str) -> None:
    us = await us_member(world)
    await world.topic("lab")
    payload = {"title": "ok", "body": "ok"} | {field: value}
    response = await world.client.post("/topics/lab/threads", json=payload, headers=us.headers)
    problem(response, 422, "validation_error")


async def test_limits_are_inclusive(world: World) -> None:
    us = await us_member(world)
    await world.topic("lab")
    body = "é" * (32 * 1024)  # exactly 64 KiB in UTF-8
    created = await create_thread(world, us, "lab", "t" * 300, body + "")
    assert created["first_post"]["body"] == body
    assert created["title"] == "t" * 300


async def test_edit_keeps_every_revision(world: World) -> None:
    us = await us_member(world)
    other = await us_member(world, "other")
    await world.topic("lab")
    thread = await create_thread(world, us, "lab", "T", "version one")
    post_id = thread["first_post"]["id"]
    for text in ["version two", "version three"]:
        edited = ok(
            await world.client.patch(f"/posts/{post_id}", json={"body": text}, headers=us.headers)
        )
        assert edited["body"] == text
    assert edited["revision"] == 3 and edited["edited_at"] is not None
    # Editing to the same text writes no revision.
    same = await world.client.patch(
        f"/posts/{post_id}", json={"body": "version three"}, headers=us.headers
    )
    assert (ok(same))["revision"] == 3
    revisions = await all_pages(world.client, f"/posts/{post_id}/revisions", other.headers, 2)
    assert [(r["revision"], r["body"], r["current"]) for r in revisions] == [
        (1, "version one", False),
        (2, "version two", False),
        (3, "version three", True),
    ]
    # Only the author edits; others get 403 on a post they can see.
    problem(
        await world.client.patch(f"/posts/{post_id}", json={"body": "x"}, headers=other.headers),
        403,
        "forbidden",
    )


async def test_soft_delete_shows_placeholder_to_others(world: World) -> None:
    us = await us_member(world)
    other = await us_member(world, "other")
    mod = await moderator(world)
    await world.topic("lab")
    thread = await create_thread(world, us, "lab", "T", "first")
    victim = await reply(world, us, thread["id"], "regrettable words")
    problem(
        await world.client.delete(f"/posts/{victim['id']}", headers=other.headers), 403, "forbidden"
    )
    ok(await world.client.delete(f"/posts/{victim['id']}", headers=us.headers), 204)
    # Deleting twice is a no-op.
    ok(await world.client.delete(f"/posts/{victim['id']}", headers=us.headers), 204)
    seen = ok(await world.client.get(f"/posts/{victim['id']}", headers=other.headers))
    assert seen["deleted"] is True and seen["body"] is None
    listed = await all_pages(world.client, f"/threads/{thread['id']}/posts", other.headers)
    assert [p["body"] for p in listed] == ["first", None]
    problem(
        await world.client.get(f"/posts/{victim['id']}/revisions", headers=other.headers),
        403,
        "post_removed",
    )
    # The author and moderators still read it (a review needs the original).
    own = ok(await world.client.get(f"/posts/{victim['id']}", headers=us.headers))
    assert own["body"] == "regrettable words"
    modview = ok(await world.client.get(f"/posts/{victim['id']}", headers=mod.headers))
    assert modview["body"] == "regrettable words"
    problem(
        await world.client.patch(f"/posts/{victim['id']}", json={"body": "x"}, headers=us.headers),
        409,
        "post_deleted",
    )
    hits = ok(await world.client.get("/search", params={"q": "regrettable"}, headers=mod.headers))
    assert hits["items"] == []


# --- Pagination ---------------------------------------------------------------------------


async def test_thread_pages_are_exact_while_others_post(world: World) -> None:
    """Every post exactly once, in order, while writers keep posting during the read."""
    writers = [await us_member(world, f"w{i}") for i in range(3)]
    reader = await us_member(world, "reader")
    await world.topic("busy")
    thread = await create_thread(world, writers[0], "busy", "Busy", "post 0")
    thread_id = thread["id"]
    for index in range(1, 8):
        await reply(world, writers[index % 3], thread_id, f"post {index}")

    async def write(who: Persona, count: int) -> list[str]:
        ids = []
        for index in range(count):
            ids.append((await reply(world, who, thread_id, f"{who.email} {index}"))["id"])
            await asyncio.sleep(0)
        return ids

    async def read() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        empty_pages = 0
        while empty_pages < 3:
            params: dict[str, Any] = {"limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = ok(
                await world.client.get(
                    f"/threads/{thread_id}/posts", params=params, headers=reader.headers
                )
            )
            items.extend(page["items"])
            cursor = page["next_cursor"]
            empty_pages = empty_pages + 1 if not page["items"] else 0
            await asyncio.sleep(0)
        return items

    reader_task = asyncio.create_task(read())
    written = await asyncio.gather(*(write(w, 6) for w in writers))
    seen = await reader_task
    # Catch up from the last cursor once the writers are done.
    seen_ids = [p["id"] for p in seen]
    rest = await all_pages(world.client, f"/threads/{thread_id}/posts", reader.headers, 50)
    everything = [p["id"] for p in rest]
    assert len(seen_ids) == len(set(seen_ids)), "a post came back twice"
    assert seen_ids == everything[: len(seen_ids)], "order differs from the final order"
    seqs = [p["seq"] for p in rest]
    assert seqs == list(range(1, len(rest) + 1))
    assert set(everything) >= {i for ids in written for i in ids}
    assert len(everything) == 8 + 18


async def test_thread_list_newest_first_and_stable(world: World) -> None:
    us = await us_member(world)
    await world.topic("many")
    created = [(await create_thread(world, us, "many", f"T{i}"))["id"] for i in range(7)]
    first = ok(
        await world.client.get("/topics/many/threads", params={"limit": 3}, headers=us.headers)
    )
    # New threads arrive while paging: they only ever appear on the first page.
    await create_thread(world, us, "many", "late")
    rest: list[str] = []
    cursor = first["next_cursor"]
    while cursor:
        page = ok(
            await world.client.get(
                "/topics/many/threads", params={"limit": 3, "cursor": cursor}, headers=us.headers
            )
        )
        rest.extend(t["id"] for t in page["items"])
        cursor = page["next_cursor"]
    assert [t["id"] for t in first["items"]] + rest == list(reversed(created))


@pytest.mark.parametrize("cursor", ["!!!", "e30", "WzEsMl0", "WyJ4Il0", "W3RydWVd"])
async def test_bad_cursors_are_422(world: World, cursor: str) -> None:
    us = await us_member(world)
    await world.topic("lab")
    thread = await create_thread(world, us, "lab")
    for path in [
        "/topics/lab/threads",
        f"/threads/{thread['id']}/posts",
        "/search",
        "/me/notifications",
        "/topics",
    ]:
        params = {"cursor": cursor} | ({"q": "post"} if path == "/search" else {})
        response = await world.client.get(path, params=params, headers=us.headers)
        if (path, cursor) in {("/topics", "WyJ4Il0"), ("/search", "WzEsMl0")}:
            assert response.status_code == 200  # ["x"]: a slug; [1, 2]: a (score, key)
            continue
        problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("/topics", ["\x00"]),
        ("/topics", ["UPPER"]),
        ("/topics/lab/threads", [2**70]),
        ("/topics/lab/threads", [-5]),
        ("/topics/lab/threads", [True]),
        ("/search", [1e308, 2**70]),
        ("/search", [float("nan"), 1]),
        ("/me/notifications", ["2026-01-01T00:00:00", str(uuid.UUID(int=0))]),
        ("/me/notifications", ["0001-01-01T00:00:00+05:00", str(uuid.UUID(int=0))]),
        ("/me/notifications", ["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
    ],
)
async def test_cursors_out_of_range_are_422(world: World, path: str, values: list[Any]) -> None:
    """Well-formed cursors whose values the database could not compare are refused too."""
    us = await us_member(world)
    await world.topic("lab")
    params = {"cursor": encode_cursor(values)} | ({"q": "x"} if path == "/search" else {})
    response = await world.client.get(path, params=params, headers=us.headers)
    problem(response, 422, "invalid_cursor")
