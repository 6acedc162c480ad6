"""The audit trail: hash chain, tamper detection, concurrency, checkpoints, access."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from sqlalchemy import func, select, text, update

from app.audit import service as audit_service
from app.models import AuditEvent
from tests.helpers import World


async def test_every_state_change_is_chained_and_verifiable(world: World) -> None:
    admin = await world.admin()
    applicant = await world.applicant()
    await world.client.post(
        f"/admin/applications/{applicant.application_id}/decision",
        json={"decision": "approve", "reason": "vetted"},
        headers=admin.headers,
    )
    events = (await world.client.get("/audit/events", headers=admin.headers)).json()["items"]
    actions = [e["action"] for e in events]
    assert actions[:3] == [
        "membership.granted",
        "application.approval_recorded",
        "application.submitted",
    ]
    newest, older = events[0], events[1]
    assert newest["prev_hash"] == older["hash"]
    assert newest["reason"] == "vetted" and newest["request_id"]
    verify = (await world.client.get("/audit/verify", headers=admin.headers)).json()
    assert verify == {"ok": True, "checked": len(events), "first_bad_id": None, "problem": None}


async def test_editing_a_row_is_detected(world: World) -> None:
    admin = await world.admin()
    for _ in range(3):
        await world.applicant()
    async with world.runtime.db.session() as session:
        target = 2
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == target).values(reason="rewritten")
        )
    verify = (await world.client.get("/audit/verify", headers=admin.headers)).json()
    assert verify["ok"] is False and verify["first_bad_id"] == 2


async def test_deleting_a_row_is_detected(world: World) -> None:
    admin = await world.admin()
    for _ in range(3):
        await world.applicant()
    async with world.runtime.db.session() as session:
        await session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    verify = (await world.client.get("/audit/verify", headers=admin.headers)).json()
    assert verify["ok"] is False and verify["first_bad_id"] == 2


async def test_cutting_the_tail_is_caught_by_a_signed_checkpoint(world: World) -> None:
    """A chain alone cannot show that its newest entries were removed; a signed head can."""
    admin = await world.admin()
    for _ in range(3):
        await world.applicant()
    assert (
        await world.client.post("/admin/audit/checkpoints", headers=admin.headers)
    ).status_code == 201
    async with world.runtime.db.session() as session:
        await session.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    verify = (await world.client.get("/audit/verify", headers=admin.headers)).json()
    assert verify["ok"] is False and verify["first_bad_id"] == 3


async def test_concurrent_writers_never_fork_the_chain(world: World) -> None:
    """Many requests writing events at once, each in its own transaction and connection."""
    admin = await world.admin()
    users = [await world.user(f"c{i}") for i in range(12)]

    async def act(i: int) -> int:
        persona = users[i]
        r = await world.client.post(
            "/me/tokens",
            json={"name": f"t{i}", "scopes": ["read"], "expires_in_days": 1},
            headers=persona.headers,
        )
        return r.status_code

    statuses = await asyncio.gather(*(act(i) for i in range(len(users))))
    assert statuses == [201] * len(users)
    verify = (await world.client.get("/audit/verify", headers=admin.headers)).json()
    assert verify["ok"] is True
    async with world.runtime.db.session() as session:
        count = await session.scalar(select(func.count()).select_from(AuditEvent))
        top = await session.scalar(select(func.max(AuditEvent.seq)))
    assert count == top == verify["checked"]


async def test_signed_checkpoints(world: World) -> None:
    admin = await world.admin()
    await world.applicant()
    signed = await world.client.post("/admin/audit/checkpoints", headers=admin.headers)
    assert signed.status_code == 201
    again = await world.client.post("/admin/audit/checkpoints", headers=admin.headers)
    # The admin's own request added no event, so the head is unchanged and already signed.
    assert again.status_code == 409
    listed = (await world.client.get("/audit/checkpoints", headers=admin.headers)).json()
    assert listed[0]["seq"] == signed.json()["seq"] and len(listed[0]["public_key"]) == 64
    assert (await world.client.get("/audit/verify", headers=admin.headers)).json()["ok"]
    # Rewriting the checkpointed event and re-hashing the rest still fails the signature.
    async with world.runtime.db.session() as session:
        await session.execute(text("UPDATE audit_checkpoints SET head_hash = :h"), {"h": "f" * 64})
    verify = (await world.client.get("/audit/verify", headers=admin.headers)).json()
    assert verify["ok"] is False


async def test_secrets_never_reach_the_log(world: World) -> None:
    event = None
    async with world.runtime.db.session() as session:
        event = await audit_service.record(
            session,
            actor_id=None,
            action="test.secret",
            details={"password": "hunter2", "token": "abc", "kept": "yes"},
        )
    assert event.details == {"kept": "yes"}


async def test_auditor_reads_but_members_do_not(world: World) -> None:
    auditor = await world.user("auditor", roles=("auditor",))
    member = await world.member()
    assert (await world.client.get("/audit/events", headers=auditor.headers)).status_code == 200
    assert (await world.client.get("/audit/verify", headers=auditor.headers)).status_code == 200
    denied = await world.client.get("/audit/events", headers=member.headers)
    assert denied.status_code == 403
    admin = await world.admin()
    listed = await world.client.get(
        "/audit/events", params={"action": "access.denied"}, headers=admin.headers
    )
    assert listed.json()["items"][0]["actor_id"] == str(member.user_id)


async def test_audit_events_filter_and_paginate(world: World) -> None:
    admin = await world.admin()
    for _ in range(5):
        await world.applicant()
    seen = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, "action": "application.submitted"}
        if cursor:
            params["cursor"] = cursor
        page = (
            await world.client.get("/audit/events", params=params, headers=admin.headers)
        ).json()
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)


async def test_cli_audit_verify(world: World) -> None:
    await world.applicant()
    env = {
        "EXCHANGE_DATABASE_URL": world.runtime.settings.database_url,
        "EXCHANGE_MASTER_KEY": world.runtime.settings.master_key or "",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["ok"] is True
    async with world.runtime.db.session() as session:
        await session.execute(update(AuditEvent).where(AuditEvent.seq == 1).values(action="x"))
    broken = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert broken.returncode == 1
    assert json.loads(broken.stdout.strip().splitlines()[-1])["first_bad_id"] == 1
