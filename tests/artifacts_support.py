"""Helpers for the artifact tests: uploads through the API, raw ASGI calls that keep what
was sent before a failure, and the authorization-table scene."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.helpers import Persona, World

MARKER = b"PLAINTEXT-MARKER-" + uuid.uuid4().hex.encode()


def payload(size: int, *, seed: int = 1, marker: bytes = MARKER) -> bytes:
    """Random-looking bytes with the marker at the start, across the first segment
    boundary (64 KiB) and at the end, so any plaintext leak would show it."""
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest()
    data = bytearray(os.urandom(size))
    data[: len(block)] = block
    for offset in (0, 64 * 1024 - len(marker) // 2, size - len(marker)):
        if offset >= 0 and offset + len(marker) <= size:
            data[offset : offset + len(marker)] = marker
    return bytes(data)


def metadata(**overrides: Any) -> str:
    body: dict[str, Any] = {
        "title": "Robustness evaluation harness",
        "description": "Code and weights for the evaluation.",
        "license": "Apache-2.0",
        "source_url": "https://git.example.org/lab/harness",
        "source_commit": "0123456789abcdef0123456789abcdef01234567",
        "durc_category": "dangerous_capability_evaluation",
    }
    body.update(overrides)
    return json.dumps(body)


async def upload(
    client: httpx.AsyncClient,
    who: Persona,
    slug: str,
    data: bytes,
    *,
    filename: str = "harness.tar.gz",
    meta: str | None = None,
    provenance: bytes | None = None,
    expect: int | None = 201,
) -> httpx.Response:
    files: dict[str, Any] = {
        "metadata": (None, meta if meta is not None else metadata(), "application/json"),
        "file": (filename, data, "application/gzip"),
    }
    if provenance is not None:
        files["provenance"] = ("provenance.intoto.jsonl", provenance, "application/json")
    response = await client.post(f"/topics/{slug}/artifacts", files=files, headers=who.headers)
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


async def new_version(
    client: httpx.AsyncClient,
    who: Persona,
    artifact_id: str,
    data: bytes,
    *,
    meta: dict[str, Any] | None = None,
    expect: int | None = 201,
) -> httpx.Response:
    files: dict[str, Any] = {"file": ("harness-v2.tar.gz", data, "application/gzip")}
    if meta is not None:
        files["metadata"] = (None, json.dumps(meta), "application/json")
    response = await client.post(
        f"/artifacts/{artifact_id}/versions", files=files, headers=who.headers
    )
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


@dataclass
class RawResponse:
    """What an ASGI app actually sent, even when it raised half-way."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = False
    error: BaseException | None = None


async def raw_get(
    app: Callable[..., Awaitable[None]],
    path: str,
    headers: dict[str, str],
    *,
    method: str = "GET",
) -> RawResponse:
    """Call the app directly, keeping every body byte sent before an exception."""
    result = RawResponse()
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/api/v1" + raw_path,
        "raw_path": ("/api/v1" + raw_path).encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.9", 50001),
        "server": ("testserver", 80),
        "state": {},
    }
    body_sent = False
    finished = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while not finished:
            import anyio

            await anyio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal finished
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                result.complete = True
                finished = True

    try:
        await app(scope, receive, send)
    except Exception as exc:  # the point: see what went out before it
        result.error = exc
    finally:
        finished = True
    result.body = b"".join(chunks)
    return result


async def artifact_scene(world: World, uploader: Persona, slug: str) -> dict[str, Any]:
    """For the authorization table: an available artifact (with a provenance file) in the
    scene's general topic, uploaded by `uploader` through the API."""
    response = await upload(
        world.client, uploader, slug, b"scene artifact bytes", provenance=b'{"_type":"x"}'
    )
    return {"artifact_id": response.json()["id"], "number": 1}
