"""Shared helpers for the discussion tests: people, topics through the API, query counting."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from app.core.runtime import Runtime
from app.models import Notification, PostFlag
from app.models.base import utcnow
from tests.helpers import Persona, World


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The response's JSON (None when empty), after checking its status."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.json()


async def us_member(world: World, prefix: str = "us", **kwargs: Any) -> Persona:
    return await world.member(prefix, **kwargs)


async def jp_member(world: World, prefix: str = "jp", **kwargs: Any) -> Persona:
    """A member whose every country is Japan, certified for `general` only."""
    await world.country("JP", status="certified", tier="general")
    return await world.member(
        prefix, citizenships=("JP",), residence="JP", affiliation="JP", **kwargs
    )


async def moderator(world: World, prefix: str = "mod", **kwargs: Any) -> Persona:
    """A US member who also holds the moderator role (moderation needs reach, see policy)."""
    return await world.member(prefix, roles=("moderator",), **kwargs)


async def create_topic(
    world: World, admin: Persona, slug: str, tier: str = "general", title: str | None = None
) -> dict[str, Any]:
    response = await world.client.post(
        "/admin/topics",
        json={
            "slug": slug,
            "title": title or f"Topic {slug}",
            "description": "What this topic is for.",
            "tier": tier,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_thread(
    world: World, who: Persona, slug: str, title: str = "A thread", body: str = "Opening post."
) -> dict[str, Any]:
    response = await world.client.post(
        f"/topics/{slug}/threads", json={"title": title, "body": body}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def reply(
    world: World,
    who: Persona,
    thread_id: uuid.UUID | str,
    body: str,
    reply_to: uuid.UUID | str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body}
    if reply_to is not None:
        payload["reply_to_id"] = str(reply_to)
    response = await world.client.post(
        f"/threads/{thread_id}/posts", json=payload, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def all_pages(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    limit: int = 50,
    **query: Any,
) -> list[dict[str, Any]]:
    """Follow next_cursor to the end (an empty page or a null cursor)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **query}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if not page["items"] or page["next_cursor"] is None:
            return items
        cursor = page["next_cursor"]


@contextmanager
def count_queries(runtime: Runtime) -> Iterator[list[str]]:
    """Statements sent to the database while the block runs (transaction control excluded:
    it is the same for every request and not a query)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().split(" ", 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}:
            statements.append(statement)

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def discussion_scene(world: World, author: Persona, bystander: Persona) -> dict[str, Any]:
    """Objects for the authorization table, written directly: a general topic, a thread and
    post by `author`, a flag on that post by `bystander`, and a notification for `author`."""
    slug = await world.topic("scene-lab")
    thread_id, post_id = await world.thread(slug, author, title="Scene", body="scene words")
    flag_id, notification_id = uuid.uuid4(), uuid.uuid4()
    async with world.runtime.db.session() as session:
        session.add(
            PostFlag(
                id=flag_id,
                post_id=post_id,
                flagger_id=bystander.user_id,
                reason="scene flag",
                status="open",
                created_at=utcnow(),
            )
        )
        session.add(
            Notification(
                id=notification_id,
                user_id=author.user_id,
                kind="reply",
                post_id=post_id,
                actor_id=bystander.user_id,
                created_at=utcnow(),
            )
        )
    return {
        "slug": slug,
        "thread_id": thread_id,
        "post_id": post_id,
        "flag_id": flag_id,
        "notification_id": notification_id,
    }
