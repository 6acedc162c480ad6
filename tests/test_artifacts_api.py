"""Artifact sharing through the API, run once on local storage and once on S3 (a moto server
on loopback): round trips, ranges, limits, encryption at rest, tampering, release review and
the export record."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from app.artifacts.crypto import HEADER_SIZE
from app.artifacts.storage import BlobStorage, LocalStorage, S3Storage
from app.core.runtime import Runtime
from app.main import create_app
from app.models import ArtifactDownload, ArtifactVersion, AuditEvent, Base
from tests.artifacts.s3server import CREDENTIALS, moto_server
from tests.artifacts_support import (
    MARKER,
    metadata,
    new_version,
    payload,
    raw_get,
    upload,
)
from tests.helpers import Persona, World

MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto-api")) as url:
        yield url


def _s3_storage(endpoint: str) -> S3Storage:
    import boto3
    from botocore.config import Config

    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"

    def factory() -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            config=Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
            **CREDENTIALS,
        )

    factory().create_bucket(Bucket=bucket)
    # The smallest part S3 allows, so a few MB already exercise multipart uploads.
    return S3Storage(bucket, "exchange", client_factory=factory, part_size=5 * MB)


@pytest.fixture(scope="module", params=["local", "s3"])
def art_runtime(request: pytest.FixtureRequest, runtime: Runtime) -> Runtime:
    if request.param == "local":
        return runtime
    endpoint = request.getfixturevalue("s3_endpoint")
    return dataclasses.replace(runtime, storage=_s3_storage(endpoint))


@pytest.fixture(scope="module")
def art_app(art_runtime: Runtime) -> Any:
    return create_app(runtime=art_runtime)


@pytest.fixture
async def client(art_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Overrides the suite's client: every request here goes to the app on this backend."""
    transport = httpx.ASGITransport(app=art_app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/api/v1", timeout=60
    ) as c:
        yield c


@pytest.fixture
def storage(art_runtime: Runtime) -> BlobStorage:
    return art_runtime.storage


async def stored_keys(storage: BlobStorage) -> list[str]:
    return sorted([key async for key, _ in storage.list_keys()])


async def read_blob(storage: BlobStorage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key)])


async def write_blob(storage: BlobStorage, key: str, data: bytes) -> None:
    async with await storage.open_writer(key) as writer:
        await writer.write(data)
        await writer.commit()


async def version_row(world: World, artifact_id: str, number: int = 1) -> ArtifactVersion:
    async with world.runtime.db.session() as session:
        row = await session.scalar(
            select(ArtifactVersion).where(
                ArtifactVersion.artifact_id == uuid.UUID(artifact_id),
                ArtifactVersion.number == number,
            )
        )
        assert row is not None
        return row


async def downloads(world: World, artifact_id: str) -> list[ArtifactDownload]:
    async with world.runtime.db.session() as session:
        rows = await session.scalars(
            select(ArtifactDownload)
            .where(ArtifactDownload.artifact_id == uuid.UUID(artifact_id))
            .order_by(ArtifactDownload.started_at)
        )
        return list(rows.all())


async def audit_actions(world: World) -> list[str]:
    async with world.runtime.db.session() as session:
        return list(
            (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))).all()
        )


@dataclasses.dataclass
class Lab:
    admin: Persona
    second_admin: Persona
    member: Persona
    reader: Persona
    general: str
    restricted: str


@pytest.fixture
async def lab(world: World) -> Lab:
    """Two admins who are also vetted US members (a reviewer must reach the topic), two
    members, a general and a restricted topic."""
    admin = await world.member("admin-a", roles=("admin",), mfa=True)
    second = await world.member("admin-b", roles=("admin",), mfa=True)
    member = await world.member("uploader")
    reader = await world.member("reader")
    general = await world.topic(tier="general")
    restricted = await world.topic(tier="restricted")
    return Lab(admin, second, member, reader, general, restricted)


# --- Round trips --------------------------------------------------------------------------


async def test_a_3mb_file_round_trips_with_the_same_sha256(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    data = payload(3 * MB + 12345)
    digest = hashlib.sha256(data).hexdigest()
    created = (await upload(client, lab.member, lab.general, data)).json()
    assert created["sha256"] == digest
    assert created["size"] == len(data)
    assert created["status"] == "available"
    assert created["filename"] == "harness.tar.gz"

    response = await client.get(f"/artifacts/{created['id']}/content", headers=lab.reader.headers)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == digest
    assert response.headers["etag"] == f'"{digest}"'
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-type"] == "application/octet-stream"

    listed = await client.get(f"/topics/{lab.general}/artifacts", headers=lab.reader.headers)
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]


async def test_an_empty_file_round_trips(client: httpx.AsyncClient, lab: Lab) -> None:
    created = (await upload(client, lab.member, lab.general, b"")).json()
    assert created["size"] == 0
    assert created["sha256"] == hashlib.sha256(b"").hexdigest()
    response = await client.get(f"/artifacts/{created['id']}/content", headers=lab.reader.headers)
    assert response.status_code == 200
    assert response.content == b""
    ranged = await client.get(
        f"/artifacts/{created['id']}/content",
        headers={**lab.reader.headers, "Range": "bytes=0-10"},
    )
    assert ranged.status_code == 416
    assert ranged.headers["content-range"] == "bytes */0"


# --- Ranges and conditional requests ------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-200000", 1000, 200000),  # across several 64 KiB segments
        ("bytes=65535-65536", 65535, 65536),  # straddles one segment boundary
        ("bytes=-500", None, None),  # the last 500 bytes
        ("bytes=2000000-", 2000000, None),  # open-ended
        ("bytes=100-99999999", 100, None),  # end clamped to the size
    ],
)
async def test_a_range_request_returns_exactly_the_asked_bytes(
    client: httpx.AsyncClient,
    lab: Lab,
    world: World,
    header: str,
    start: int | None,
    end: int | None,
) -> None:
    data = payload(3 * MB)
    created = (await upload(client, lab.member, lab.general, data)).json()
    response = await client.get(
        f"/artifacts/{created['id']}/content", headers={**lab.reader.headers, "Range": header}
    )
    assert response.status_code == 206, response.text
    size = len(data)
    first = size - 500 if start is None else start
    last = size - 1 if end is None else end
    assert response.content == data[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["etag"] == f'"{created["sha256"]}"'
    [record] = await downloads(world, created["id"])
    assert (record.range_start, record.range_end) == (first, last)
    assert record.bytes_served == last - first + 1
    assert record.outcome == "complete"


async def test_ranges_the_server_does_not_honour(client: httpx.AsyncClient, lab: Lab) -> None:
    data = payload(200_000)
    created = (await upload(client, lab.member, lab.general, data)).json()
    path = f"/artifacts/{created['id']}/content"
    several = await client.get(path, headers={**lab.reader.headers, "Range": "bytes=0-1,5-6"})
    assert several.status_code == 200
    assert several.content == data
    outside = await client.get(path, headers={**lab.reader.headers, "Range": "bytes=200000-"})
    assert outside.status_code == 416
    assert outside.headers["content-range"] == "bytes */200000"
    assert outside.json()["code"] == "range_not_satisfiable"
    stale = await client.get(
        path, headers={**lab.reader.headers, "Range": "bytes=0-9", "If-Range": '"other"'}
    )
    assert stale.status_code == 200
    assert stale.content == data
    fresh = await client.get(
        path,
        headers={**lab.reader.headers, "Range": "bytes=0-9", "If-Range": f'"{created["sha256"]}"'},
    )
    assert fresh.status_code == 206
    assert fresh.content == data[:10]


async def test_head_and_if_none_match_send_no_bytes_and_record_nothing(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    data = payload(100_000)
    created = (await upload(client, lab.member, lab.general, data)).json()
    path = f"/artifacts/{created['id']}/content"
    head = await client.head(path, headers=lab.reader.headers)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(data))
    assert head.headers["etag"] == f'"{created["sha256"]}"'
    assert head.content == b""
    ranged_head = await client.head(path, headers={**lab.reader.headers, "Range": "bytes=10-19"})
    assert ranged_head.status_code == 206
    assert ranged_head.headers["content-range"] == f"bytes 10-19/{len(data)}"
    cached = await client.get(
        path, headers={**lab.reader.headers, "If-None-Match": f'"{created["sha256"]}"'}
    )
    assert cached.status_code == 304
    assert cached.content == b""
    assert await downloads(world, created["id"]) == []


# --- Limits -------------------------------------------------------------------------------


def _with_settings(runtime: Runtime, **changes: Any) -> Any:
    changed = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update=changes))
    return create_app(runtime=changed)


async def _client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 50000)),
        base_url="http://testserver/api/v1",
        timeout=60,
    )


def _partials(storage: BlobStorage) -> list[Path]:
    if isinstance(storage, LocalStorage) and storage.partial_dir.exists():
        return list(storage.partial_dir.iterdir())
    return []


async def _nothing_kept(world: World, storage: BlobStorage, before: list[str]) -> None:
    assert await stored_keys(storage) == before
    assert _partials(storage) == []
    async with world.runtime.db.session() as session:
        assert (await session.scalars(select(ArtifactVersion))).all() == []


async def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(
    art_runtime: Runtime, lab: Lab, world: World, storage: BlobStorage
) -> None:
    before = await stored_keys(storage)
    async with await _client_for(_with_settings(art_runtime, max_artifact_bytes=MB)) as small:
        # Declared too large: refused before the body is read.
        response = await upload(small, lab.member, lab.general, payload(2 * MB), expect=413)
        assert response.json()["code"] == "too_large"

        # No Content-Length (chunked): refused while streaming, once the limit is crossed.
        boundary = "----exchange-test-boundary"

        async def body() -> AsyncIterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
                f"{metadata()}\r\n--{boundary}\r\nContent-Disposition: form-data; "
                f'name="file"; filename="big.bin"\r\n\r\n'
            ).encode()
            for _ in range(40):
                yield payload(64 * 1024)
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = await small.post(
            f"/topics/{lab.general}/artifacts",
            content=body(),
            headers={
                **lab.member.headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["code"] == "too_large"
    await _nothing_kept(world, storage, before)


async def test_the_quota_and_the_rate_limit_apply_per_member(
    art_runtime: Runtime, lab: Lab, world: World
) -> None:
    app = _with_settings(
        art_runtime, artifact_quota_bytes=3 * MB, artifact_uploads_per_member="3/hour"
    )
    async with await _client_for(app) as limited:
        await upload(limited, lab.member, lab.general, payload(2 * MB))
        over = await upload(limited, lab.member, lab.general, payload(2 * MB), expect=413)
        assert over.json()["code"] == "quota_exceeded"
        # Another member has their own quota.
        await upload(limited, lab.reader, lab.general, payload(2 * MB))
        await upload(limited, lab.member, lab.general, payload(100))
        throttled = await upload(limited, lab.member, lab.general, payload(100), expect=429)
        assert throttled.json()["code"] == "rate_limited"
        assert "retry-after" in throttled.headers


# --- Names, metadata, bad bodies ----------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b"../../etc/passwd", "passwd"),
        (b"..\\..\\windows\\system32\\evil.dll", "evil.dll"),
        (b"nul\x00byte.bin", "nul_byte.bin"),
        ("invoice\u202egpj.exe".encode(), "invoice_gpj.exe"),
        (b"..", "artifact"),
        ("résumé 数据.bin".encode(), "résumé 数据.bin"),
        (b"\xff\xfe.bin", "\ufffd\ufffd.bin"),
        # A raw CR/LF ends the part header: whatever is left of the name is still harmless.
        (b"report\r\nX-Injected: yes.pdf", None),
    ],
)
async def test_file_names_are_metadata_only(
    client: httpx.AsyncClient,
    lab: Lab,
    world: World,
    storage: BlobStorage,
    sent: bytes,
    kept: str | None,
) -> None:
    boundary = b"----names"
    body = (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
        + metadata().encode()
        + b"\r\n--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + sent
        + b'"\r\n\r\n'
        + b"0123456789\r\n--"
        + boundary
        + b"--\r\n"
    )
    response = await client.post(
        f"/topics/{lab.general}/artifacts",
        content=body,
        headers={**lab.member.headers, "Content-Type": "multipart/form-data; boundary=----names"},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    name = created["filename"]
    if kept is not None:
        assert name == kept
    assert "/" not in name and "\\" not in name
    assert all(ch.isprintable() for ch in name)
    row = await version_row(world, created["id"])
    assert row.blob_key == f"blobs/{row.id.hex[:2]}/{row.id.hex}"
    download = await client.get(f"/artifacts/{created['id']}/content", headers=lab.reader.headers)
    assert download.content == b"0123456789"
    disposition = download.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "\x00" not in disposition
    assert disposition.startswith('attachment; filename="')
    assert "filename*=UTF-8''" in disposition
    if isinstance(storage, LocalStorage):
        assert not (storage.root.parent / "passwd").exists()


@pytest.mark.parametrize(
    ("meta", "code"),
    [
        ("{not json", "malformed_json"),
        (json.dumps({"description": "no title"}), "validation_error"),
        (metadata(roles=["admin"]), "validation_error"),
        (metadata(license="MIT OR"), "validation_error"),
        (metadata(source_url="javascript:alert(1)"), "validation_error"),
        (metadata(source_commit="not-a-commit"), "validation_error"),
        (metadata(durc_category="whatever"), "validation_error"),
        (metadata(title="bad\x00title"), "validation_error"),
    ],
)
async def test_bad_metadata_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient, lab: Lab, world: World, storage: BlobStorage, meta: str, code: str
) -> None:
    before = await stored_keys(storage)
    response = await upload(client, lab.member, lab.general, b"data", meta=meta, expect=422)
    assert response.json()["code"] == code
    await _nothing_kept(world, storage, before)


async def test_malformed_bodies_are_refused_and_leave_nothing(
    client: httpx.AsyncClient, lab: Lab, world: World, storage: BlobStorage
) -> None:
    before = await stored_keys(storage)
    path = f"/topics/{lab.general}/artifacts"
    as_json = await client.post(path, json={"title": "x"}, headers=lab.member.headers)
    assert as_json.status_code == 415
    no_file = await client.post(
        path, files={"metadata": (None, metadata())}, headers=lab.member.headers
    )
    assert no_file.status_code == 422
    assert no_file.json()["errors"][0]["loc"] == ["body", "file"]
    no_metadata = await client.post(
        path, files={"file": ("a.bin", b"abc")}, headers=lab.member.headers
    )
    assert no_metadata.status_code == 422
    stranger = await client.post(
        path,
        files={"metadata": (None, metadata()), "file": ("a", b"a"), "roles": (None, "admin")},
        headers=lab.member.headers,
    )
    assert stranger.json()["code"] == "malformed_multipart"
    truncated = await client.post(
        path,
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
        headers={**lab.member.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert truncated.status_code == 422
    assert truncated.json()["code"] == "malformed_multipart"
    await _nothing_kept(world, storage, before)


async def test_a_linked_thread_must_be_in_the_topic(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    here, _post = await world.thread(lab.general, lab.member)
    elsewhere, _ = await world.thread(lab.restricted, lab.member)
    linked = await upload(client, lab.member, lab.general, b"x", meta=metadata(thread_id=str(here)))
    assert linked.json()["thread_id"] == str(here)
    for thread in (elsewhere, uuid.uuid4()):
        refused = await upload(
            client, lab.member, lab.general, b"x", meta=metadata(thread_id=str(thread)), expect=422
        )
        assert refused.json()["code"] == "invalid_thread"


async def test_archived_topics_take_no_uploads(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    from app.models import Topic
    from app.models.base import utcnow

    async with world.runtime.db.session() as session:
        topic = await session.scalar(select(Topic).where(Topic.slug == lab.general))
        assert topic is not None
        topic.archived_at = utcnow()
    refused = await upload(client, lab.member, lab.general, b"x", expect=409)
    assert refused.json()["code"] == "topic_archived"


# --- Encryption at rest -------------------------------------------------------------------


async def _database_text(world: World) -> str:
    """Every row of every table, as text."""
    parts: list[str] = []
    async with world.runtime.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


async def test_scanning_storage_and_database_finds_no_plaintext(
    client: httpx.AsyncClient, lab: Lab, world: World, storage: BlobStorage
) -> None:
    data = payload(3 * MB)
    created = (
        await upload(client, lab.member, lab.general, data, provenance=b"sig " + MARKER)
    ).json()
    await new_version(client, lab.member, created["id"], payload(MB, seed=2))
    # Read it back too: nothing on the way out may leave plaintext behind either.
    await client.get(f"/artifacts/{created['id']}/content", headers=lab.reader.headers)

    keys = await stored_keys(storage)
    assert keys, "the blobs should be in storage"
    for key in keys:
        blob = await read_blob(storage, key)
        assert MARKER not in blob, key
        assert blob.startswith(b"DXAE")
    if isinstance(storage, LocalStorage):
        for path in storage.root.rglob("*"):
            if path.is_file():
                assert MARKER not in path.read_bytes(), path
    row = await version_row(world, created["id"])
    assert len(await read_blob(storage, row.blob_key)) == row.ciphertext_size
    assert MARKER.decode() not in await _database_text(world)
    url = world.runtime.settings.database_url
    if url.startswith("sqlite"):
        # Close every pooled connection first: opening and closing the database file with a
        # plain file descriptor drops this process's POSIX locks on it (SQLite's documented
        # hazard), after which another process may checkpoint and unlink the live WAL.
        await world.runtime.db.engine.dispose()
        database = Path(url.removeprefix("sqlite:///"))
        for path in (database, Path(f"{database}-wal")):
            if path.exists():
                assert MARKER not in path.read_bytes(), path
    else:
        async with world.runtime.db.session() as session:
            dump = await session.scalar(
                text(
                    "SELECT string_agg(t::text, '') FROM ("
                    "SELECT row_to_json(v)::text AS t FROM artifact_versions v "
                    "UNION ALL SELECT row_to_json(a)::text FROM artifacts a) x"
                )
            )
            assert MARKER.decode() not in (dump or "")


# --- Tampering ----------------------------------------------------------------------------


async def test_a_flipped_byte_mid_blob_aborts_the_transfer_after_only_true_bytes(
    client: httpx.AsyncClient, art_app: Any, lab: Lab, world: World, storage: BlobStorage
) -> None:
    data = payload(2 * MB)
    created = (await upload(client, lab.member, lab.general, data)).json()
    row = await version_row(world, created["id"])
    blob = bytearray(await read_blob(storage, row.blob_key))
    blob[HEADER_SIZE + 20 * (64 * 1024 + 16) + 100] ^= 0x01  # inside segment 20
    await write_blob(storage, row.blob_key, bytes(blob))

    sent = await raw_get(art_app, f"/artifacts/{created['id']}/content", lab.reader.headers)
    assert sent.status == 200  # headers had left: the only honest signal now is an abort
    assert sent.error is not None and not sent.complete
    assert len(sent.body) < len(data)
    assert data.startswith(sent.body), "only authentic plaintext may have been sent"
    [record] = await downloads(world, created["id"])
    assert record.outcome == "failed"
    assert record.bytes_served == len(sent.body)
    assert "artifact.transfer_failed" in await audit_actions(world)

    # A range inside the damaged segment fails before anything is sent.
    start = 20 * 64 * 1024 + 10
    ranged = await client.get(
        f"/artifacts/{created['id']}/content",
        headers={**lab.reader.headers, "Range": f"bytes={start}-{start + 99}"},
    )
    assert ranged.status_code == 500
    assert ranged.json()["code"] == "artifact_unreadable"


async def test_damaged_truncated_or_swapped_blobs_send_nothing(
    client: httpx.AsyncClient, lab: Lab, world: World, storage: BlobStorage
) -> None:
    data_a, data_b = payload(300_000, seed=1), payload(300_000, seed=2)
    a = (await upload(client, lab.member, lab.general, data_a)).json()
    b = (await upload(client, lab.member, lab.general, data_b)).json()
    c = (await upload(client, lab.member, lab.general, payload(300_000, seed=3))).json()
    row_a, row_b, row_c = [await version_row(world, x["id"]) for x in (a, b, c)]
    blob_a, blob_b = (
        await read_blob(storage, row_a.blob_key),
        await read_blob(storage, row_b.blob_key),
    )
    await write_blob(storage, row_a.blob_key, blob_b)
    await write_blob(storage, row_b.blob_key, blob_a)
    blob_c = await read_blob(storage, row_c.blob_key)
    await write_blob(storage, row_c.blob_key, blob_c[: len(blob_c) - 16])

    for artifact in (a, b, c):
        response = await client.get(
            f"/artifacts/{artifact['id']}/content", headers=lab.reader.headers
        )
        assert response.status_code == 500
        assert response.json()["code"] == "artifact_unreadable"
        assert await downloads(world, artifact["id"]) == []
    assert (await audit_actions(world)).count("artifact.unreadable") == 3

    # A flipped byte in the header or the first segment: refused before any byte too.
    for offset in (5, HEADER_SIZE + 7):
        damaged = bytearray(blob_a)
        damaged[offset] ^= 0x80
        await write_blob(storage, row_a.blob_key, bytes(damaged))
        response = await client.get(f"/artifacts/{a['id']}/content", headers=lab.reader.headers)
        assert response.status_code == 500


# --- Release review -----------------------------------------------------------------------


async def test_restricted_artifacts_wait_for_a_second_admin(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    data = payload(MB)
    created = (await upload(client, lab.admin, lab.restricted, data)).json()
    assert created["status"] == "pending_review"
    path = f"/artifacts/{created['id']}/content"
    for who in (lab.reader, lab.member):
        blocked = await client.get(path, headers=who.headers)
        assert blocked.status_code == 409
        assert blocked.json()["code"] == "pending_review"
    # The uploader, although an admin, cannot release their own upload.
    own = await client.post(
        f"/admin/artifacts/{created['id']}/review",
        json={"decision": "release", "reason": "mine"},
        headers=lab.admin.headers,
    )
    assert own.status_code == 403
    # The reviewer fetches the pending bytes to look at them...
    reviewed = await client.get(path, headers=lab.second_admin.headers)
    assert reviewed.status_code == 200
    assert reviewed.content == data
    queue = await client.get("/admin/artifacts", headers=lab.second_admin.headers)
    assert [item["artifact_id"] for item in queue.json()["items"]] == [created["id"]]
    # ...and releases them.
    released = await client.post(
        f"/admin/artifacts/{created['id']}/review",
        json={"decision": "release", "reason": "checked: no uplift beyond published work"},
        headers=lab.second_admin.headers,
    )
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "available"
    assert (await client.get(path, headers=lab.reader.headers)).content == data
    again = await client.post(
        f"/admin/artifacts/{created['id']}/review",
        json={"decision": "reject", "reason": "changed my mind"},
        headers=lab.second_admin.headers,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "not_pending_review"
    [version] = (
        await client.get(f"/artifacts/{created['id']}/versions", headers=lab.reader.headers)
    ).json()
    assert version["review"]["decision"] == "release"
    assert version["review"]["reviewed_by"] == str(lab.second_admin.user_id)
    assert "artifact.released" in await audit_actions(world)


async def test_rejected_artifacts_are_kept_but_served_to_nobody(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    created = (await upload(client, lab.member, lab.restricted, payload(1000))).json()
    rejected = await client.post(
        f"/admin/artifacts/{created['id']}/review",
        json={"decision": "reject", "reason": "operational uplift"},
        headers=lab.admin.headers,
    )
    assert rejected.json()["status"] == "rejected"
    for who in (lab.member, lab.admin, lab.second_admin):
        response = await client.get(f"/artifacts/{created['id']}/content", headers=who.headers)
        assert response.status_code == 409
        assert response.json()["code"] == "artifact_rejected"
    kept = await client.get(f"/artifacts/{created['id']}", headers=lab.member.headers)
    assert kept.json()["status"] == "rejected"


async def test_a_reviewer_must_reach_the_topic(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    created = (await upload(client, lab.member, lab.restricted, payload(1000))).json()
    outsider = await world.admin()  # the role, but no membership: reaches no topic
    response = await client.post(
        f"/admin/artifacts/{created['id']}/review",
        json={"decision": "release", "reason": "blind"},
        headers=outsider.headers,
    )
    assert response.status_code == 404
    assert (await client.get("/admin/artifacts", headers=outsider.headers)).json()["items"] == []


# --- Access at the moment of download -----------------------------------------------------


async def test_a_member_whose_country_was_just_suspended_gets_nothing(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    await world.country("JP", status="certified", tier="general")
    partner = await world.member("jp", citizenships=("JP",), residence="JP", affiliation="JP")
    created = (await upload(client, lab.member, lab.general, payload(1000))).json()
    path = f"/artifacts/{created['id']}/content"
    assert (await client.get(path, headers=partner.headers)).status_code == 200
    await world.country("JP", status="suspended", tier="general")
    for route in (path, f"/artifacts/{created['id']}", f"/topics/{lab.general}/artifacts"):
        assert (await client.get(route, headers=partner.headers)).status_code == 404
    # Restricted content never reached them in the first place.
    hidden = (await upload(client, lab.member, lab.restricted, payload(10))).json()
    await world.country("JP", status="certified", tier="general")
    assert (
        await client.get(f"/artifacts/{hidden['id']}", headers=partner.headers)
    ).status_code == 404


async def test_us_only_artifacts_need_a_session_that_passed_totp(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    us_only = await world.topic(tier="us_only")
    strong = await world.member("strong", mfa=True)
    created = (await upload(client, strong, us_only, payload(1000))).json()
    assert created["status"] == "pending_review"
    weak = await client.get(f"/artifacts/{created['id']}", headers=lab.reader.headers)
    assert weak.status_code == 403
    assert weak.json()["code"] == "mfa_required"
    refused = await upload(client, lab.reader, us_only, b"x", expect=403)
    assert refused.json()["code"] == "mfa_required"


# --- Export records -----------------------------------------------------------------------


async def test_the_download_list_shows_each_download_with_the_countries(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    await world.country("DE", status="certified", tier="restricted")
    partner = await world.member("de", citizenships=("DE", "US"), residence="US", affiliation="DE")
    data = payload(200_000)
    created = (await upload(client, lab.member, lab.general, data)).json()
    path = f"/artifacts/{created['id']}/content"
    await client.get(path, headers=lab.reader.headers)
    await client.get(path, headers={**partner.headers, "Range": "bytes=0-999"})

    auditor = await world.user("auditor", roles=("auditor",))
    listing = await client.get(f"/artifacts/{created['id']}/downloads", headers=auditor.headers)
    assert listing.status_code == 200, listing.text
    ranged, full = listing.json()["items"]  # newest first
    assert full["user_id"] == str(lab.reader.user_id)
    assert full["bytes_served"] == len(data) and full["outcome"] == "complete"
    assert full["range_start"] is None
    assert full["effective_tier"] == "us_only"
    assert {(c["code"], c["relation"]) for c in full["countries"]} == {
        ("US", "citizenship"),
        ("US", "residence"),
        ("US", "affiliation"),
    }
    assert ranged["user_id"] == str(partner.user_id)
    assert (ranged["range_start"], ranged["range_end"], ranged["bytes_served"]) == (0, 999, 1000)
    assert ranged["effective_tier"] == "restricted"
    assert {
        "code": "DE",
        "relation": "citizenship",
        "status": "certified",
        "tier": "restricted",
    } in ranged["countries"]
    assert ranged["email"] == partner.email
    assert ranged["version"] == 1 and ranged["sha256"] == created["sha256"]

    # The uploader sees who, not how to reach them; other members see nothing.
    own = (
        await client.get(f"/artifacts/{created['id']}/downloads", headers=lab.member.headers)
    ).json()
    assert [item["email"] for item in own["items"]] == [None, None]
    assert (
        await client.get(f"/artifacts/{created['id']}/downloads", headers=lab.reader.headers)
    ).status_code == 403
    # A suspension later does not rewrite the record.
    await world.country("DE", status="suspended", tier="restricted")
    later = (
        await client.get(f"/artifacts/{created['id']}/downloads", headers=auditor.headers)
    ).json()
    assert later["items"][0]["effective_tier"] == "restricted"


async def test_the_compliance_export_as_csv_and_json_lines(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    created = (
        await upload(
            client, lab.member, lab.general, payload(5000), meta=metadata(title="=HYPERLINK(1)")
        )
    ).json()
    await client.get(f"/artifacts/{created['id']}/content", headers=lab.reader.headers)
    await client.get(
        f"/artifacts/{created['id']}/content", headers={**lab.member.headers, "Range": "bytes=-10"}
    )
    lines = await client.get("/admin/exports/downloads", headers=lab.admin.headers)
    assert lines.status_code == 200, lines.text
    assert lines.headers["content-type"] == "application/x-ndjson"
    records = [json.loads(line) for line in lines.text.splitlines()]
    assert [r["user_id"] for r in records] == [str(lab.reader.user_id), str(lab.member.user_id)]
    assert records[1]["range_start"] == 4990 and records[1]["bytes_served"] == 10
    assert records[0]["countries"][0]["code"] == "US"
    assert records[0]["artifact_title"] == "=HYPERLINK(1)"

    as_csv = await client.get(
        "/admin/exports/downloads", params={"format": "csv"}, headers=lab.admin.headers
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 2
    assert rows[0]["artifact_title"] == "'=HYPERLINK(1)"  # never a live formula
    assert rows[0]["countries"].startswith("US:")

    future = await client.get(
        "/admin/exports/downloads",
        params={"since": "2999-01-01T00:00:00Z"},
        headers=lab.admin.headers,
    )
    assert future.text == ""
    assert "artifact.downloads_exported" in await audit_actions(world)
    refused = await client.get("/admin/exports/downloads", headers=lab.member.headers)
    assert refused.status_code == 403


# --- Versions and provenance --------------------------------------------------------------


async def test_versions_keep_their_chain_of_digests(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    first, second = payload(100_000, seed=1), payload(150_000, seed=2)
    created = (await upload(client, lab.member, lab.general, first)).json()
    updated = (
        await new_version(
            client,
            lab.member,
            created["id"],
            second,
            meta={"changelog": "Retrained.", "source_commit": "fedcba9876543210"},
        )
    ).json()
    assert updated["version"] == 2
    assert updated["sha256"] == hashlib.sha256(second).hexdigest()
    assert updated["license"] == "Apache-2.0"  # carried over
    assert updated["source_commit"] == "fedcba9876543210"
    versions = (
        await client.get(f"/artifacts/{created['id']}/versions", headers=lab.reader.headers)
    ).json()
    assert [v["number"] for v in versions] == [1, 2]
    assert versions[0]["previous_sha256"] is None
    assert versions[1]["previous_sha256"] == versions[0]["sha256"] == created["sha256"]
    path = f"/artifacts/{created['id']}/content"
    assert (await client.get(path, headers=lab.reader.headers)).content == second
    old = await client.get(path, params={"version": 1}, headers=lab.reader.headers)
    assert old.content == first
    assert old.headers["etag"] == f'"{created["sha256"]}"'
    assert (
        await client.get(path, params={"version": 3}, headers=lab.reader.headers)
    ).status_code == 404
    other = await new_version(client, lab.reader, created["id"], b"hijack", expect=403)
    assert other.json()["code"] == "forbidden"


async def test_a_new_version_in_a_restricted_topic_is_reviewed_again(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    created = (await upload(client, lab.member, lab.restricted, payload(1000, seed=1))).json()
    review = {"decision": "release", "reason": "ok"}
    await client.post(
        f"/admin/artifacts/{created['id']}/review", json=review, headers=lab.admin.headers
    )
    updated = (await new_version(client, lab.member, created["id"], payload(1000, seed=2))).json()
    assert updated["status"] == "pending_review"
    path = f"/artifacts/{created['id']}/content"
    assert (await client.get(path, headers=lab.reader.headers)).status_code == 409
    assert (
        await client.get(path, params={"version": 1}, headers=lab.reader.headers)
    ).status_code == 200


async def test_provenance_is_stored_and_served_verbatim_with_its_digest(
    client: httpx.AsyncClient, lab: Lab, world: World
) -> None:
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": []}).encode()
    created = (
        await upload(client, lab.member, lab.general, payload(1000), provenance=statement)
    ).json()
    assert created["provenance"]["sha256"] == hashlib.sha256(statement).hexdigest()
    assert created["provenance"]["size"] == len(statement)
    response = await client.get(
        f"/artifacts/{created['id']}/versions/1/provenance", headers=lab.reader.headers
    )
    assert response.status_code == 200
    assert response.content == statement
    assert response.headers["etag"] == f'"{hashlib.sha256(statement).hexdigest()}"'
    kinds = [d.kind for d in await downloads(world, created["id"])]
    assert kinds == ["provenance"]
    bare = (await upload(client, lab.member, lab.general, payload(10))).json()
    missing = await client.get(
        f"/artifacts/{bare['id']}/versions/1/provenance", headers=lab.reader.headers
    )
    assert missing.status_code == 404


async def test_a_range_reads_only_the_segments_it_needs(
    client: httpx.AsyncClient,
    lab: Lab,
    storage: BlobStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = payload(2 * MB)
    created = (await upload(client, lab.member, lab.general, data)).json()
    reads: list[tuple[int, int | None]] = []
    real_read = storage.read

    def recording_read(key: str, offset: int = 0, length: int | None = None) -> Any:
        reads.append((offset, length))
        return real_read(key, offset, length)

    monkeypatch.setattr(storage, "read", recording_read)
    start = 2 * MB - 100  # in the last segment
    response = await client.get(
        f"/artifacts/{created['id']}/content",
        headers={**lab.reader.headers, "Range": f"bytes={start}-{start + 49}"},
    )
    assert response.content == data[start : start + 50]
    segment = 64 * 1024 + 16
    last = (2 * MB - 1) // (64 * 1024)
    # The header, then exactly the one segment holding the range: nothing before it.
    assert reads == [(0, HEADER_SIZE), (HEADER_SIZE + last * segment, segment)]


async def test_lists_page_by_cursor(client: httpx.AsyncClient, lab: Lab) -> None:
    ids = [
        (await upload(client, lab.member, lab.general, b"%d" % n)).json()["id"] for n in range(3)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (
            await client.get(
                f"/topics/{lab.general}/artifacts", params=params, headers=lab.reader.headers
            )
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first
    from app.core.pagination import encode_cursor

    naive = encode_cursor(["2026-01-01T00:00:00", str(uuid.uuid4())])
    for path in (f"/topics/{lab.general}/artifacts", f"/artifacts/{ids[0]}/downloads"):
        bad = await client.get(path, params={"cursor": naive}, headers=lab.member.headers)
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_cursor"


async def test_storage_gc_on_this_backend(
    client: httpx.AsyncClient, lab: Lab, world: World, storage: BlobStorage
) -> None:
    from datetime import timedelta

    from app.artifacts import gc
    from app.artifacts.upload import blob_key

    created = (await upload(client, lab.member, lab.general, payload(1000))).json()
    orphan = blob_key(uuid.uuid4())
    await write_blob(storage, orphan, b"DXAE ciphertext of a crashed upload")
    foreign = "bench-plain/not-ours"
    await write_blob(storage, foreign, b"not an artifact blob")
    report = await gc.collect(world.runtime.db, storage, grace=timedelta(0))
    # Earlier tests' blobs are orphans too here (their rows were cleaned away): all go.
    assert orphan in report.orphans_deleted
    assert report.missing_blobs == []
    remaining = await stored_keys(storage)
    assert orphan not in remaining and foreign in remaining
    row = await version_row(world, created["id"])
    assert row.blob_key in remaining
    await storage.delete(foreign)
