"""Watches, mentions, replies; read-time visibility; mark read; the e-mail digest."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from typer.testing import CliRunner

from app.core.runtime import Runtime
from app.discussion import repository
from app.discussion.digest import run as run_digest
from app.discussion.handles import handle_base, mentioned_handles
from tests.discussion_support import (
    create_thread,
    jp_member,
    moderator,
    ok,
    reply,
    us_member,
)
from tests.helpers import Persona, World


async def _handle(world: World, who: Persona) -> str:
    profile = ok(await world.client.get("/me/discussion-profile", headers=who.headers))
    return str(profile["handle"])


async def _notes(world: World, who: Persona, **params: Any) -> list[dict[str, Any]]:
    page = ok(await world.client.get("/me/notifications", params=params, headers=who.headers))
    return list(page["items"])


def test_mentions_outside_code_only() -> None:
    body = (
        "Hi @Alice_B and @bob, not bob@example.org nor @@carol.\n"
        "`@inline` and\n```\n@fenced\n```\n    @indented\n@alice_b again, @x too short"
    )
    assert mentioned_handles(body) == ["alice_b", "bob"]
    assert handle_base("Zoë Ünal-Smith") == "zoe_unal_smith"
    assert handle_base("研究者") != ""
    assert handle_base("!!!") == "member"


async def test_watch_reply_and_mention_notifications(world: World) -> None:
    alice = await us_member(world, "alice")
    bob = await us_member(world, "bob")
    carol = await us_member(world, "carol")
    await world.topic("lab")
    ok(await world.client.put("/topics/lab/watch", headers=bob.headers), 204)
    ok(await world.client.put("/topics/lab/watch", headers=bob.headers), 204)  # idempotent

    thread = await create_thread(world, alice, "lab", "New idea", "Opening")
    notes = await _notes(world, bob)
    assert [(n["kind"], n["thread"]["title"], n["excerpt"]) for n in notes] == [
        ("new_thread", "New idea", "Opening")
    ]
    assert notes[0]["actor"]["id"] == str(alice.user_id)
    # The author watches their thread: a reply notifies them; the replier is not notified.
    bob_post = await reply(world, bob, thread["id"], "A reply")
    assert [n["kind"] for n in await _notes(world, alice)] == ["new_post"]
    # A reply to bob's post, mentioning carol: bob gets "reply", carol "mention",
    # alice (watching) "new_post"; nobody twice.
    carol_handle = await _handle(world, carol)
    await reply(
        world, alice, thread["id"], f"@{carol_handle.upper()} see this", reply_to=bob_post["id"]
    )
    assert [n["kind"] for n in await _notes(world, bob)] == ["reply", "new_thread"]
    assert [n["kind"] for n in await _notes(world, carol)] == ["mention"]
    # An edit that adds a mention notifies the newly mentioned once.
    bob_handle = await _handle(world, bob)
    edited = await world.client.patch(
        f"/posts/{bob_post['id']}",
        json={"body": f"A reply, cc @{carol_handle} @{bob_handle}"},
        headers=bob.headers,
    )
    ok(edited)
    assert [n["kind"] for n in await _notes(world, carol)] == ["mention", "mention"]
    ok(
        await world.client.patch(
            f"/posts/{bob_post['id']}", json={"body": f"again @{carol_handle}"}, headers=bob.headers
        )
    )
    assert len(await _notes(world, carol)) == 2

    # Unwatching stops new-thread notifications.
    ok(await world.client.delete("/topics/lab/watch", headers=bob.headers), 204)
    await create_thread(world, alice, "lab", "Second")
    assert len(await _notes(world, bob)) == 2
    watches = ok(await world.client.get("/me/watches", headers=alice.headers))
    assert {w["thread"]["title"] for w in watches} == {"New idea", "Second"}


async def test_mark_read_and_unread_filter(world: World) -> None:
    alice = await us_member(world, "alice")
    bob = await us_member(world, "bob")
    await world.topic("lab")
    thread = await create_thread(world, alice, "lab")
    for index in range(3):
        await reply(world, bob, thread["id"], f"r{index}")
    notes = await _notes(world, alice)
    assert len(notes) == 3 and not any(n["read"] for n in notes)
    ok(
        await world.client.post(f"/me/notifications/{notes[0]['id']}/read", headers=alice.headers),
        204,
    )
    unread = await _notes(world, alice, unread=True)
    assert [n["id"] for n in unread] == [n["id"] for n in notes[1:]]
    # Someone else's notification is as missing as a made-up one.
    response = await world.client.post(
        f"/me/notifications/{notes[1]['id']}/read", headers=bob.headers
    )
    assert response.status_code == 404
    ok(await world.client.post("/me/notifications/read-all", headers=alice.headers), 204)
    assert await _notes(world, alice, unread=True) == []
    page = ok(
        await world.client.get("/me/notifications", params={"limit": 2}, headers=alice.headers)
    )
    rest = ok(
        await world.client.get(
            "/me/notifications",
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=alice.headers,
        )
    )
    assert [n["id"] for n in page["items"] + rest["items"]] == [n["id"] for n in notes]
    assert rest["next_cursor"] is None


async def test_deleted_and_hidden_posts_leave_notifications(world: World) -> None:
    alice = await us_member(world, "alice")
    bob = await us_member(world, "bob")
    mod = await moderator(world)
    await world.topic("lab")
    thread = await create_thread(world, alice, "lab")
    first = await reply(world, bob, thread["id"], "to be deleted")
    second = await reply(world, bob, thread["id"], "to be hidden")
    assert len(await _notes(world, alice)) == 2
    ok(await world.client.delete(f"/posts/{first['id']}", headers=bob.headers), 204)
    ok(
        await world.client.post(
            f"/mod/posts/{second['id']}/hide", json={"reason": "x"}, headers=mod.headers
        )
    )
    assert await _notes(world, alice) == []


async def test_profile_handle_change(world: World) -> None:
    alice = await us_member(world, "alice")
    bob = await us_member(world, "bob")
    bob_handle = await _handle(world, bob)
    response = await world.client.patch(
        "/me/discussion-profile", json={"handle": bob_handle}, headers=alice.headers
    )
    assert response.status_code == 409 and response.json()["code"] == "handle_taken"
    changed = ok(
        await world.client.patch(
            "/me/discussion-profile",
            json={"handle": "Alice_Q", "email_digest": True},
            headers=alice.headers,
        )
    )
    assert changed == {"handle": "alice_q", "email_digest": True}
    for bad in [
        {"handle": "a"},
        {"handle": "no spaces"},
        {"email_digest": "yes"},
        {"email_digest": 1},
        {"other": 1},
    ]:
        response = await world.client.patch(
            "/me/discussion-profile", json=bad, headers=alice.headers
        )
        assert response.status_code == 422, bad


async def test_email_digest_counts_only_visible_and_carries_no_content(
    world: World, runtime: Runtime
) -> None:
    us = await us_member(world)
    jp = await jp_member(world)
    await world.topic("open")
    await world.topic("closed", tier="restricted")
    jp_handle = await _handle(world, jp)
    ok(
        await world.client.patch(
            "/me/discussion-profile", json={"email_digest": True}, headers=jp.headers
        )
    )
    await create_thread(world, us, "open", "Visible", f"secretword-one @{jp_handle}")
    await create_thread(world, us, "closed", "Hidden", f"secretword-two @{jp_handle}")
    assert await run_digest(runtime) == 1
    mails = [m for m in world.mails() if jp.email in m]
    assert len(mails) == 1
    assert "You have 1 new notification " in mails[0]
    assert "secretword" not in mails[0] and "Visible" not in mails[0]
    # Each notification is counted once.
    assert await run_digest(runtime) == 0


async def _digest_subscriber_with_two_mentions(world: World) -> Persona:
    us = await us_member(world)
    jp = await jp_member(world)
    await world.topic("open")
    jp_handle = await _handle(world, jp)
    ok(
        await world.client.patch(
            "/me/discussion-profile", json={"email_digest": True}, headers=jp.headers
        )
    )
    thread = await create_thread(world, us, "open", "First", f"hello @{jp_handle}")
    await reply(world, us, thread["id"], f"again @{jp_handle}")
    return jp


async def test_overlapping_digest_runs_count_each_notification_in_one_mail(
    world: World, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two runs at once (two cron hosts): both read the same unstamped notifications before
    # either stamps them; only the run that claims them under the row lock mails them.
    # (SQLite needs no barrier: BEGIN IMMEDIATE already queues the second run entirely.)
    jp = await _digest_subscriber_with_two_mentions(world)
    if runtime.db.engine.dialect.name == "postgresql":
        both_read = asyncio.Barrier(2)
        read = repository.undigested

        async def read_then_wait(*args: Any) -> list[uuid.UUID]:
            ids = await read(*args)
            await asyncio.wait_for(both_read.wait(), timeout=10)
            return ids

        monkeypatch.setattr(repository, "undigested", read_then_wait)
    sent = await asyncio.gather(run_digest(runtime), run_digest(runtime))
    assert sorted(sent) == [0, 1]
    mails = [m for m in world.mails() if jp.email in m]
    assert len(mails) == 1
    assert "You have 2 new notifications " in mails[0]


async def test_the_digest_command(
    world: World, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import cli
    from app.core.settings import get_settings

    jp = await _digest_subscriber_with_two_mentions(world)
    settings = runtime.settings
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("EXCHANGE_MAIL_DIR", settings.mail_dir)
    monkeypatch.setenv("EXCHANGE_MASTER_KEY", settings.master_key)
    monkeypatch.setenv("EXCHANGE_ARGON2_MEMORY_KIB", "1024")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        # The command runs its own event loop, so it gets a thread of its own.
        result = await asyncio.to_thread(runner.invoke, cli, ["discussion", "digest"])
        assert result.exit_code == 0, result.output
        assert "1 digest(s) sent" in result.output
        result = await asyncio.to_thread(runner.invoke, cli, ["discussion", "digest"])
        assert "0 digest(s) sent" in result.output
    finally:
        get_settings.cache_clear()
    assert len([m for m in world.mails() if jp.email in m]) == 1
