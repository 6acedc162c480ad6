"""Crash safety: an artifact row appears only once its bytes are durable, and whatever step
fails (the rename, the commit, the whole server killed mid-upload) nothing partial becomes
visible; `exchange storage gc` removes what a crash leaves behind and reports lost blobs."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.artifacts import gc
from app.artifacts.storage import LocalStorage
from app.core import uow
from app.core.runtime import Runtime
from app.main import create_app
from app.models import Artifact, ArtifactVersion
from tests.artifacts_support import MARKER, metadata, payload, upload
from tests.helpers import World

MB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def local(runtime: Runtime, tmp_path: Path) -> Runtime:
    """The suite's runtime with a storage folder of this test's own."""
    return dataclasses.replace(runtime, storage=LocalStorage(tmp_path / "artifacts"))


@pytest.fixture
async def client(local: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    # Server errors come back as 500 answers instead of being raised into the test.
    transport = httpx.ASGITransport(
        app=create_app(runtime=local), raise_app_exceptions=False, client=("203.0.113.7", 50000)
    )
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/api/v1", timeout=60
    ) as c:
        yield c


async def keys(storage: LocalStorage) -> list[str]:
    return sorted([key async for key, _ in storage.list_keys()])


def partials(storage: LocalStorage) -> list[Path]:
    return list(storage.partial_dir.iterdir()) if storage.partial_dir.exists() else []


async def count_rows(world: World) -> tuple[int, int]:
    async with world.runtime.db.session() as session:
        artifacts = await session.scalar(select(func.count()).select_from(Artifact))
        versions = await session.scalar(select(func.count()).select_from(ArtifactVersion))
    return int(artifacts or 0), int(versions or 0)


async def test_a_failed_rename_leaves_no_artifact_and_no_bytes(
    client: httpx.AsyncClient, local: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, slug = await world.member(), await world.topic()

    def no_rename(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("app.artifacts.storage.os.replace", no_rename)
    response = await upload(client, member, slug, payload(3 * MB), expect=503)
    assert response.json()["code"] == "storage_unavailable"
    assert await count_rows(world) == (0, 0)
    assert isinstance(local.storage, LocalStorage)
    assert await keys(local.storage) == []
    assert partials(local.storage) == []  # the temp file was removed with the aborted write


async def test_a_failed_commit_leaves_only_an_orphan_that_gc_removes(
    client: httpx.AsyncClient, local: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, slug = await world.member(), await world.topic()
    storage = local.storage
    assert isinstance(storage, LocalStorage)
    real_commit = uow.UnitOfWork.commit
    calls = {"n": 0}

    async def failing_commit(self: uow.UnitOfWork) -> None:
        calls["n"] += 1
        raise ConnectionError("database went away at commit")

    monkeypatch.setattr(uow.UnitOfWork, "commit", failing_commit)
    response = await upload(client, member, slug, payload(2 * MB), expect=500)
    assert calls["n"] == 1
    monkeypatch.setattr(uow.UnitOfWork, "commit", real_commit)
    assert await count_rows(world) == (0, 0)
    [orphan] = await keys(storage)  # durable bytes, but no row points at them: invisible

    young = await gc.collect(local.db, storage, grace=timedelta(hours=1))
    assert young.orphans_within_grace == 1 and young.orphans_deleted == []
    dry = await gc.collect(local.db, storage, grace=timedelta(0), dry_run=True)
    assert dry.orphans_deleted == [orphan] and await keys(storage) == [orphan]
    report = await gc.collect(local.db, storage, grace=timedelta(0))
    assert report.orphans_deleted == [orphan]
    assert report.missing_blobs == []
    assert await keys(storage) == []
    assert response.status_code == 500


async def test_gc_keeps_referenced_blobs_and_reports_missing_ones(
    client: httpx.AsyncClient, local: Runtime, world: World
) -> None:
    member, slug = await world.member(), await world.topic()
    storage = local.storage
    assert isinstance(storage, LocalStorage)
    kept = (await upload(client, member, slug, payload(1000), provenance=b"sig")).json()
    lost = (await upload(client, member, slug, payload(1000))).json()
    async with world.runtime.db.session() as session:
        row = await session.scalar(
            select(ArtifactVersion).where(ArtifactVersion.artifact_id == uuid.UUID(lost["id"]))
        )
        assert row is not None
        lost_key = row.blob_key
    await storage.delete(lost_key)
    # An abandoned temp file of a crashed upload, long untouched, and a fresh one.
    storage.partial_dir.mkdir(parents=True, exist_ok=True)
    stale, fresh = storage.partial_dir / "old.part", storage.partial_dir / "new.part"
    stale.write_bytes(b"ciphertext")
    fresh.write_bytes(b"ciphertext")
    old = time.time() - 3 * 3600
    os.utime(stale, (old, old))

    report = await gc.collect(local.db, storage, grace=timedelta(hours=1))
    assert report.orphans_deleted == []
    assert report.missing_blobs == [{"version_id": str(row.id), "key": lost_key}]
    assert report.partials_purged == 1
    assert partials(storage) == [fresh]
    assert len(await keys(storage)) == 2  # the kept artifact's blob and its provenance
    download = await client.get(f"/artifacts/{kept['id']}/content", headers=member.headers)
    assert download.status_code == 200


def test_the_storage_gc_and_keys_rotate_commands(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import cli
    from app.core.settings import get_settings

    monkeypatch.setenv("EXCHANGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("EXCHANGE_STORAGE_URL", str(tmp_path / "cli-artifacts"))
    monkeypatch.setenv("EXCHANGE_MASTER_KEY", settings.master_key)
    monkeypatch.setenv("EXCHANGE_ARGON2_MEMORY_KIB", "1024")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(cli, ["storage", "gc", "--grace-hours", "0"])
        assert result.exit_code == 0, result.output
        assert '"orphans_deleted": []' in result.output
        result = runner.invoke(cli, ["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert '"rewrapped": 0' in result.output
    finally:
        get_settings.cache_clear()


# --- SIGKILL of a real server mid-upload --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(settings: Any, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`uvicorn app.main:app` on loopback against the suite's database, storage of its own."""
    port = _free_port()
    storage = tmp_path / "served-artifacts"
    env = {
        **os.environ,
        "EXCHANGE_DATABASE_URL": settings.database_url,
        "EXCHANGE_STORAGE_URL": str(storage),
        "EXCHANGE_MASTER_KEY": settings.master_key,
        "EXCHANGE_VAR_DIR": str(tmp_path / "var"),
        "EXCHANGE_AUDIT_CHECKPOINT_MINUTES": "0",
        "EXCHANGE_ARGON2_MEMORY_KIB": "1024",
        "EXCHANGE_ARGON2_TIME_COST": "1",
        "EXCHANGE_ARGON2_PARALLELISM": "1",
    }
    env.pop("EXCHANGE_BOOTSTRAP_ADMIN_EMAIL", None)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        yield process, port, storage
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


async def test_sigkill_mid_upload_leaves_no_visible_artifact(
    server: tuple[subprocess.Popen[bytes], int, Path], world: World, runtime: Runtime
) -> None:
    process, port, root = server
    member, slug = await world.member(), await world.topic()
    boundary = "crash-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
        f'{metadata()}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.bin"\r\n\r\n'
    ).encode()
    declared = len(head) + 64 * MB + 100
    partial_dir = root / ".partial"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        request = (
            f"POST /api/v1/topics/{slug}/artifacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {member.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        ).encode()
        sock.sendall(request + head)
        chunk = payload(MB)
        sent = 0
        deadline = time.monotonic() + 60
        # Keep sending until the server has demonstrably written ciphertext to a temp file.
        while True:
            sock.sendall(chunk)
            sent += 1
            files = list(partial_dir.glob("*.part")) if partial_dir.exists() else []
            if files and files[0].stat().st_size >= 2 * MB:
                break
            assert sent < 60 and time.monotonic() < deadline, "no temp file appeared"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    assert await count_rows(world) == (0, 0)
    storage = LocalStorage(root)
    assert await keys(storage) == []  # nothing visible: only an uncommitted temp file
    [leftover] = partials(storage)
    assert MARKER not in leftover.read_bytes()  # ciphertext, never plaintext
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    report = await gc.collect(runtime.db, storage, grace=timedelta(hours=1))
    assert report.partials_purged == 1
    assert partials(storage) == []
