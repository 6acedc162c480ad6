"""Master key rotation: `exchange keys rotate` re-wraps every data key under the new master
key, leaves every blob byte for byte as it was, and old keys can then be dropped."""

from __future__ import annotations

import base64
import dataclasses
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.artifacts import service
from app.artifacts.crypto import key_id
from app.artifacts.storage import LocalStorage
from app.core.runtime import ARTIFACT_KEK_PURPOSE, Runtime, artifact_key_ring
from app.core.security import derive_key
from app.core.settings import Settings
from app.main import create_app
from app.models import ArtifactVersion, AuditEvent
from tests.artifacts_support import payload, upload
from tests.helpers import World


def _with_keys(runtime: Runtime, storage: LocalStorage, current: str, *retired: str) -> Runtime:
    settings = runtime.settings.model_copy(
        update={"master_key": current, "retired_master_keys": list(retired)}
    )
    return dataclasses.replace(
        runtime, settings=settings, storage=storage, artifact_keys=artifact_key_ring(settings)
    )


async def _client(runtime: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False),
        base_url="http://testserver/api/v1",
    )


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "artifacts")


@pytest.fixture
def blobs(storage: LocalStorage) -> Any:
    async def snapshot() -> dict[str, bytes]:
        return {
            key: b"".join([c async for c in storage.read(key)])
            async for key, _ in storage.list_keys()
        }

    return snapshot


async def test_rotation_rewraps_every_data_key_and_rewrites_no_blob(
    runtime: Runtime, world: World, storage: LocalStorage, blobs: Any
) -> None:
    old_key = runtime.settings.master_key
    assert old_key is not None
    new_key = base64.b64encode(os.urandom(32)).decode()
    member, slug = await world.member(), await world.topic()
    before_rotation = _with_keys(runtime, storage, old_key)
    async with await _client(before_rotation) as client:
        data = [payload(200_000, seed=n) for n in range(3)]
        ids = [
            (await upload(client, member, slug, d, provenance=b"sig %d" % n)).json()["id"]
            for n, d in enumerate(data)
        ]
    stored = await blobs()

    # New key in place, old one retired: everything still reads before rotating.
    rotating = _with_keys(runtime, storage, new_key, old_key)
    async with await _client(rotating) as client:
        for artifact_id, expected in zip(ids, data, strict=True):
            response = await client.get(f"/artifacts/{artifact_id}/content", headers=member.headers)
            assert response.content == expected

    report = await service.rotate_keys(rotating.db, rotating.artifact_keys, batch=2)
    assert report.rewrapped == 3
    assert report.unknown_key == [] and report.unreadable == []
    new_id = key_id(derive_key(base64.b64decode(new_key), ARTIFACT_KEK_PURPOSE))
    assert report.current_key_id == new_id
    async with world.runtime.db.session() as session:
        rows = (await session.scalars(select(ArtifactVersion))).all()
        assert {row.key_id for row in rows} == {new_id}
        actions = (await session.scalars(select(AuditEvent.action))).all()
        assert "artifact.keys_rewrapped" in actions
    assert await blobs() == stored, "rotation must not touch the blobs"
    assert (await service.rotate_keys(rotating.db, rotating.artifact_keys)).rewrapped == 0

    # The old key can go now; a process that only has the old key can no longer read.
    rotated = _with_keys(runtime, storage, new_key)
    async with await _client(rotated) as client:
        for artifact_id, expected in zip(ids, data, strict=True):
            response = await client.get(f"/artifacts/{artifact_id}/content", headers=member.headers)
            assert response.content == expected
        proof = await client.get(
            f"/artifacts/{ids[0]}/versions/1/provenance", headers=member.headers
        )
        assert proof.content == b"sig 0"
    stale = _with_keys(runtime, storage, old_key)
    async with await _client(stale) as client:
        response = await client.get(f"/artifacts/{ids[0]}/content", headers=member.headers)
        assert response.status_code == 500
        assert response.json()["code"] == "artifact_unreadable"


async def test_rotation_reports_keys_it_cannot_open(
    runtime: Runtime, world: World, storage: LocalStorage
) -> None:
    member, slug = await world.member(), await world.topic()
    lost_key = base64.b64encode(os.urandom(32)).decode()
    async with await _client(_with_keys(runtime, storage, lost_key)) as client:
        artifact_id = (await upload(client, member, slug, b"data")).json()["id"]
    # The key that wrapped it is neither current nor retired here.
    ring = artifact_key_ring(runtime.settings)
    report = await service.rotate_keys(runtime.db, ring)
    async with world.runtime.db.session() as session:
        version = await session.scalar(
            select(ArtifactVersion).where(ArtifactVersion.artifact_id == uuid.UUID(artifact_id))
        )
    assert version is not None
    assert report.unknown_key == [str(version.id)]
    assert report.rewrapped == 0


def test_retired_keys_are_validated() -> None:
    good = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(
        master_key=good, retired_master_keys=f"{good}, {base64.b64encode(os.urandom(32)).decode()}"
    )
    assert len(settings.retired_master_key_bytes) == 2
    with pytest.raises(ValueError, match="32 bytes"):
        Settings(master_key=good, retired_master_keys=base64.b64encode(b"short").decode())
