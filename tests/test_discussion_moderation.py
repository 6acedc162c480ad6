"""Flags, hiding, locking and quarantine: who may, what others see, and the audit trail."""

from __future__ import annotations

from typing import Any

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
from tests.helpers import World


async def _audit(world: World, action: str) -> list[dict[str, Any]]:
    admin = await world.admin()
    page = ok(
        await world.client.get("/audit/events", params={"action": action}, headers=admin.headers)
    )
    return list(page["items"])


async def test_flag_queue_hide_and_audit(world: World) -> None:
    author = await us_member(world, "author")
    flagger = await us_member(world, "flagger")
    second = await us_member(world, "second")
    mod = await moderator(world)
    await world.topic("lab")
    thread = await create_thread(world, author, "lab", "T", "fine")
    bad = await reply(world, author, thread["id"], "dangerous protocol details")
    c = world.client

    flag = ok(
        await c.post(
            f"/posts/{bad['id']}/flags",
            json={"reason": "operational uplift"},
            headers=flagger.headers,
        ),
        201,
    )
    assert flag["status"] == "open" and flag["topic"] == "lab"
    problem(
        await c.post(
            f"/posts/{bad['id']}/flags", json={"reason": "again"}, headers=flagger.headers
        ),
        409,
        "already_flagged",
    )
    problem(
        await c.post(f"/posts/{bad['id']}/flags", json={"reason": "mine"}, headers=author.headers),
        403,
        "own_post",
    )
    ok(
        await c.post(
            f"/posts/{bad['id']}/flags", json={"reason": "me too"}, headers=second.headers
        ),
        201,
    )
    # Members do not see the queue; moderators do, with what they need to judge.
    problem(await c.get("/mod/flags", headers=flagger.headers), 403, "forbidden")
    queue = ok(await c.get("/mod/flags", headers=mod.headers))
    assert [f["reason"] for f in queue["items"]] == ["operational uplift", "me too"]
    assert queue["items"][0]["post_excerpt"] == "dangerous protocol details"
    paged = await all_pages(c, "/mod/flags", mod.headers, limit=1)
    assert [f["id"] for f in paged] == [f["id"] for f in queue["items"]]

    hidden = ok(
        await c.post(
            f"/mod/posts/{bad['id']}/hide",
            json={"reason": "DURC: step-by-step"},
            headers=mod.headers,
        )
    )
    assert hidden["hidden"] is True and hidden["body"] == "dangerous protocol details"
    problem(
        await c.post(f"/mod/posts/{bad['id']}/hide", json={"reason": "x"}, headers=mod.headers),
        409,
        "already_hidden",
    )
    # Others see that something was hidden, not what; the author sees text and reason.
    others = ok(await c.get(f"/posts/{bad['id']}", headers=flagger.headers))
    assert others["body"] is None and others["hidden"] and others["hidden_reason"] is None
    own = ok(await c.get(f"/posts/{bad['id']}", headers=author.headers))
    assert own["body"] == "dangerous protocol details"
    assert own["hidden_reason"] == "DURC: step-by-step"
    problem(
        await c.patch(f"/posts/{bad['id']}", json={"body": "laundered"}, headers=author.headers),
        409,
        "post_hidden",
    )
    hits = ok(await c.get("/search", params={"q": "protocol"}, headers=flagger.headers))
    assert hits["items"] == []
    mod_hits = ok(await c.get("/search", params={"q": "protocol"}, headers=mod.headers))
    assert [h["post_id"] for h in mod_hits["items"]] == [bad["id"]]
    # Hiding resolved the open flags.
    assert (ok(await c.get("/mod/flags", headers=mod.headers)))["items"] == []
    actioned = ok(await c.get("/mod/flags", params={"status": "actioned"}, headers=mod.headers))
    assert {f["status"] for f in actioned["items"]} == {"actioned"}
    assert len(actioned["items"]) == 2

    events = await _audit(world, "post.hidden")
    assert events[0]["reason"] == "DURC: step-by-step"
    assert events[0]["actor_id"] == str(mod.user_id)
    assert events[0]["target_id"] == bad["id"]
    assert events[0]["details"]["flags_resolved"] == 2

    shown = ok(
        await c.post(
            f"/mod/posts/{bad['id']}/unhide",
            json={"reason": "reviewed: benign"},
            headers=mod.headers,
        )
    )
    assert shown["hidden"] is False
    assert (await _audit(world, "post.unhidden"))[0]["reason"] == "reviewed: benign"


async def test_dismiss_flag(world: World) -> None:
    author = await us_member(world, "author")
    flagger = await us_member(world, "flagger")
    mod = await moderator(world)
    await world.topic("lab")
    thread = await create_thread(world, author, "lab")
    flag = ok(
        await world.client.post(
            f"/posts/{thread['first_post']['id']}/flags",
            json={"reason": "spam?"},
            headers=flagger.headers,
        ),
        201,
    )
    dismissed = ok(
        await world.client.post(
            f"/mod/flags/{flag['id']}/dismiss", json={"reason": "not spam"}, headers=mod.headers
        )
    )
    assert dismissed["status"] == "dismissed" and dismissed["resolution_reason"] == "not spam"
    problem(
        await world.client.post(
            f"/mod/flags/{flag['id']}/dismiss", json={"reason": "again"}, headers=mod.headers
        ),
        409,
        "flag_resolved",
    )
    assert (await _audit(world, "flag.dismissed"))[0]["reason"] == "not spam"


async def test_lock_blocks_posts_and_edits(world: World) -> None:
    author = await us_member(world, "author")
    mod = await moderator(world)
    await world.topic("lab")
    thread = await create_thread(world, author, "lab")
    locked = ok(
        await world.client.post(
            f"/mod/threads/{thread['id']}/lock",
            json={"reason": "cooling off"},
            headers=mod.headers,
        )
    )
    assert locked["locked"] is True and locked["lock_reason"] == "cooling off"
    for who in (author, mod):
        problem(
            await world.client.post(
                f"/threads/{thread['id']}/posts", json={"body": "more"}, headers=who.headers
            ),
            409,
            "thread_locked",
        )
    problem(
        await world.client.patch(
            f"/posts/{thread['first_post']['id']}", json={"body": "edit"}, headers=author.headers
        ),
        409,
        "thread_locked",
    )
    problem(
        await world.client.post(f"/mod/threads/{thread['id']}/lock", headers=mod.headers),
        409,
        "already_locked",
    )
    # The API contract's bare `POST /mod/threads/{id}/lock` (no body) works too.
    ok(await world.client.post(f"/mod/threads/{thread['id']}/unlock", headers=mod.headers))
    await reply(world, author, thread["id"], "after unlock")
    relocked = await world.client.post(f"/mod/threads/{thread['id']}/lock", headers=mod.headers)
    assert (ok(relocked))["lock_reason"] is None
    actions = [e["reason"] for e in await _audit(world, "thread.locked")]
    assert actions == [None, "cooling off"]
    assert len(await _audit(world, "thread.unlocked")) == 1


async def test_quarantine_hides_thread_from_all_but_moderators(world: World) -> None:
    author = await us_member(world, "author")
    reader = await us_member(world, "reader")
    mod = await moderator(world)
    admin_member = await world.member("adm", roles=("admin",), mfa=True)
    await world.topic("lab")
    keep = await create_thread(world, author, "lab", "Keep", "ordinary")
    held = await create_thread(world, author, "lab", "Held", "gain-of-function quagmire")
    ok(await world.client.put(f"/threads/{held['id']}/watch", headers=reader.headers), 204)
    await reply(world, author, held["id"], "more quagmire")
    assert (
        len((ok(await world.client.get("/me/notifications", headers=reader.headers)))["items"]) == 1
    )

    response = await world.client.post(
        f"/mod/threads/{held['id']}/quarantine",
        json={"reason": "DURC review"},
        headers=mod.headers,
    )
    assert (ok(response))["quarantined"] is True
    # Gone for members: direct ids, lists, search, notifications, watches.
    for path in [
        f"/threads/{held['id']}",
        f"/threads/{held['id']}/posts",
        f"/posts/{held['first_post']['id']}",
    ]:
        for who in (reader, author):
            problem(await world.client.get(path, headers=who.headers), 404, "not_found")
    listed = ok(await world.client.get("/topics/lab/threads", headers=reader.headers))
    assert [t["id"] for t in listed["items"]] == [keep["id"]]
    hits = ok(await world.client.get("/search", params={"q": "quagmire"}, headers=reader.headers))
    assert hits["items"] == []
    notes = ok(await world.client.get("/me/notifications", headers=reader.headers))
    assert notes["items"] == []
    assert ok(await world.client.get("/me/watches", headers=reader.headers)) == [
        w
        for w in ok(await world.client.get("/me/watches", headers=reader.headers))
        if w["thread"] is None or w["thread"]["id"] != held["id"]
    ]
    # Moderators and admins (who reach the tier) still see it; nothing was deleted.
    for who in (mod, admin_member):
        seen = ok(await world.client.get(f"/threads/{held['id']}", headers=who.headers))
        assert seen["quarantined"] and seen["quarantine_reason"] == "DURC review"
        posts = await all_pages(world.client, f"/threads/{held['id']}/posts", who.headers)
        assert [p["body"] for p in posts] == ["gain-of-function quagmire", "more quagmire"]
    mod_list = ok(await world.client.get("/topics/lab/threads", headers=mod.headers))
    assert {t["id"] for t in mod_list["items"]} == {keep["id"], held["id"]}
    problem(
        await world.client.post(
            f"/threads/{held['id']}/posts", json={"body": "x"}, headers=mod.headers
        ),
        409,
        "thread_quarantined",
    )
    # A quarantine needs a reason.
    problem(
        await world.client.post(f"/mod/threads/{keep['id']}/quarantine", headers=mod.headers),
        422,
        "validation_error",
    )
    # Reversible.
    ok(
        await world.client.post(
            f"/mod/threads/{held['id']}/release", json={"reason": "cleared"}, headers=mod.headers
        )
    )
    ok(await world.client.get(f"/threads/{held['id']}", headers=reader.headers))
    assert (
        len((ok(await world.client.get("/me/notifications", headers=reader.headers)))["items"]) == 1
    )
    quarantined = await _audit(world, "thread.quarantined")
    released = await _audit(world, "thread.released")
    assert quarantined[0]["reason"] == "DURC review" and released[0]["reason"] == "cleared"


async def test_moderation_needs_role_and_reach(world: World) -> None:
    """The role adds powers within the moderator's own reach and never widens it."""
    admin = await world.admin()
    us = await us_member(world)
    jp_mod = await jp_member(world, "jpmod", roles=("moderator",))
    bare_mod = await world.user("baremod", roles=("moderator",))
    await create_topic(world, admin, "closed", "restricted")
    thread = await create_thread(world, us, "closed", "T", "restricted words")
    post_id = thread["first_post"]["id"]
    await world.client.post(
        f"/posts/{post_id}/flags",
        json={"reason": "r"},
        headers=(await us_member(world, "f")).headers,
    )
    for who in (jp_mod, bare_mod, admin):
        problem(
            await world.client.post(
                f"/mod/posts/{post_id}/hide", json={"reason": "x"}, headers=who.headers
            ),
            404,
            "not_found",
        )
        queue = ok(await world.client.get("/mod/flags", headers=who.headers))
        assert queue["items"] == []
    # A member without the role gets 403, and the refusal is audited.
    problem(
        await world.client.post(f"/mod/threads/{thread['id']}/lock", headers=us.headers),
        403,
        "forbidden",
    )
    denied = await _audit(world, "access.denied")
    assert denied[0]["actor_id"] == str(us.user_id)
