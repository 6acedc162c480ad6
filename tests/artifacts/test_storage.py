"""Blob storage contract, run against LocalStorage and S3Storage (on a moto server)."""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from app.artifacts.crypto import (
    ciphertext_size,
    decrypt_range,
    decrypt_stream,
    encrypt_stream,
    generate_data_key,
)
from app.artifacts.storage import (
    MIN_PART_SIZE,
    READ_CHUNK_SIZE,
    BlobNotFoundError,
    BlobStorage,
    InvalidKeyError,
    LocalStorage,
    S3Storage,
    StorageError,
    storage_from_url,
    validate_key,
)

from .s3server import CREDENTIALS, moto_server

BAD_KEYS = [
    "",
    "../escape",
    "a/../../escape",
    "..",
    ".",
    "a/./b",
    "/etc/passwd",
    "a//b",
    "a/",
    "a\x00b",
    "a\nb",
    "a\rb",
    "a b",
    "a\\b",
    "C:x",
    "ключ",
    ".hidden",
    ".partial/x",
    "a/.b",
    "x" * 1025,
]


def _boto3_or_skip() -> Any:
    try:
        import boto3
        import moto  # noqa: F401 - only checking that moto_server can run
    except ImportError:
        pytest.skip("S3 contract tests need boto3 and moto[server] installed")
    return boto3


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _boto3_or_skip()
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    # One client for the whole session: boto3 clients are thread-safe and slow to build.
    boto3 = _boto3_or_skip()
    return boto3.session.Session().client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)


@pytest.fixture
def s3_storage(s3_endpoint: str, s3_client: Any) -> S3Storage:
    bucket = f"artifacts-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    return S3Storage(
        bucket,
        "blobs",
        endpoint_url=s3_endpoint,
        client_factory=lambda: s3_client,
        part_size=MIN_PART_SIZE,
    )


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "blobs")
    s3: S3Storage = request.getfixturevalue("s3_storage")
    return s3


async def put(storage: BlobStorage, key: str, data: bytes, chunk: int = 100_000) -> None:
    async with await storage.open_writer(key) as writer:
        for i in range(0, len(data), chunk):
            await writer.write(data[i : i + chunk])
        await writer.commit()
    assert writer.bytes_written == len(data)


async def get(storage: BlobStorage, key: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([c async for c in storage.read(key, offset, length)])


async def keys(storage: BlobStorage, prefix: str = "") -> dict[str, datetime]:
    return {k: ts async for k, ts in storage.list_keys(prefix)}


def visible_files(root: Path) -> list[Path]:
    """Files a reader could mistake for a blob: anything outside the temp directory."""
    return [p for p in root.rglob("*") if p.is_file() and LocalStorage.PARTIAL_DIR not in p.parts]


# ---------------------------------------------------------------------------------------
# Contract, both backends


@pytest.mark.asyncio
async def test_write_commit_read(storage: BlobStorage) -> None:
    data = os.urandom(700_000)
    await put(storage, "ab/cd/blob-1", data)
    assert await storage.exists("ab/cd/blob-1")
    assert await storage.size("ab/cd/blob-1") == len(data)
    chunks = [c async for c in storage.read("ab/cd/blob-1")]
    assert b"".join(chunks) == data
    # Streamed in bounded chunks, never as one piece.
    assert len(chunks) > 1
    assert all(len(c) <= READ_CHUNK_SIZE for c in chunks)


@pytest.mark.asyncio
async def test_empty_blob(storage: BlobStorage) -> None:
    await put(storage, "empty", b"")
    assert await storage.exists("empty")
    assert await storage.size("empty") == 0
    assert await get(storage, "empty") == b""
    assert await get(storage, "empty", 0, 10) == b""


@pytest.mark.asyncio
async def test_ranged_reads(storage: BlobStorage) -> None:
    data = os.urandom(600_000)
    await put(storage, "ranged", data)
    cases = [
        (0, None),
        (0, 1),
        (1, 10),
        (READ_CHUNK_SIZE - 1, 3),
        (123_456, 300_000),
        (599_999, 1),
        (599_999, None),
        (500_000, 1_000_000),  # runs past the end: the tail only
        (600_000, None),  # at the end: nothing
        (700_000, 5),  # past the end: nothing
        (10, 0),
    ]
    for offset, length in cases:
        end = None if length is None else offset + length
        assert await get(storage, "ranged", offset, length) == data[offset:end], (offset, length)
    with pytest.raises(ValueError, match="negative"):
        await get(storage, "ranged", -1)


@pytest.mark.asyncio
async def test_not_visible_before_commit(storage: BlobStorage) -> None:
    writer = await storage.open_writer("pending")
    await writer.write(b"partial bytes")
    assert not await storage.exists("pending")
    assert "pending" not in await keys(storage)
    with pytest.raises(BlobNotFoundError):
        await get(storage, "pending")
    await writer.commit()
    assert await get(storage, "pending") == b"partial bytes"


@pytest.mark.asyncio
async def test_abort_leaves_nothing(storage: BlobStorage) -> None:
    writer = await storage.open_writer("aborted")
    await writer.write(b"x" * 1000)
    await writer.abort()
    await writer.abort()  # idempotent
    assert not await storage.exists("aborted")
    assert await keys(storage) == {}
    with pytest.raises(StorageError):
        await writer.write(b"more")
    with pytest.raises(StorageError):
        await writer.commit()


@pytest.mark.asyncio
async def test_context_manager_aborts_without_commit(storage: BlobStorage) -> None:
    async with await storage.open_writer("forgotten") as writer:
        await writer.write(b"data")
    assert not await storage.exists("forgotten")

    async def failing_upload() -> None:
        async with await storage.open_writer("failed") as writer:
            await writer.write(b"data")
            raise RuntimeError("upload failed")

    with pytest.raises(RuntimeError, match="upload failed"):
        await failing_upload()
    assert not await storage.exists("failed")
    assert await keys(storage) == {}


@pytest.mark.asyncio
async def test_cancelled_upload_is_cleaned_up(storage: BlobStorage) -> None:
    """A client that disconnects mid-upload cancels the request's scope; nothing may stay.

    Under an anyio cancel scope (as Starlette uses) every later await in the scope is
    cancelled again, so the cleanup in ``abort()`` only completes if it is shielded.
    """
    with anyio.CancelScope() as scope:
        async with await storage.open_writer("cancelled") as writer:
            await writer.write(os.urandom(MIN_PART_SIZE + 10))  # S3: multipart is open
            scope.cancel()
            await anyio.sleep(60)
            await writer.commit()
    assert scope.cancelled_caught
    assert not await storage.exists("cancelled")
    assert await keys(storage) == {}
    if isinstance(storage, LocalStorage):
        assert list(storage.partial_dir.iterdir()) == []
    elif isinstance(storage, S3Storage):
        client = await storage.client()
        assert client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", []) == []


@pytest.mark.asyncio
async def test_writer_state_rules(storage: BlobStorage) -> None:
    writer = await storage.open_writer("done")
    await writer.write(b"abc")
    await writer.commit()
    await writer.abort()  # no-op after commit: safe in a finally clause
    assert await get(storage, "done") == b"abc"
    with pytest.raises(StorageError):
        await writer.write(b"def")
    with pytest.raises(StorageError):
        await writer.commit()


@pytest.mark.asyncio
async def test_commit_replaces_existing(storage: BlobStorage) -> None:
    await put(storage, "same", b"first version")
    await put(storage, "same", b"second")
    assert await get(storage, "same") == b"second"
    assert list(await keys(storage)) == ["same"]


@pytest.mark.asyncio
async def test_delete(storage: BlobStorage) -> None:
    await put(storage, "gone/soon", b"abc")
    await storage.delete("gone/soon")
    assert not await storage.exists("gone/soon")
    await storage.delete("gone/soon")  # deleting twice is fine: GC may race
    await storage.delete("never/existed")


@pytest.mark.asyncio
async def test_missing_blob(storage: BlobStorage) -> None:
    assert not await storage.exists("missing")
    with pytest.raises(BlobNotFoundError):
        await storage.size("missing")
    with pytest.raises(BlobNotFoundError):
        await get(storage, "missing")
    with pytest.raises(BlobNotFoundError):
        await get(storage, "missing", 5, 10)


@pytest.mark.asyncio
async def test_list_keys(storage: BlobStorage) -> None:
    before = datetime.now(tz=UTC) - timedelta(seconds=5)
    for key in ["aa/one", "aa/two", "ab/three", "b/four", "top"]:
        await put(storage, key, b"x")
    listed = await keys(storage)
    assert set(listed) == {"aa/one", "aa/two", "ab/three", "b/four", "top"}
    after = datetime.now(tz=UTC) + timedelta(seconds=5)
    for ts in listed.values():
        assert ts.tzinfo is not None
        assert ts.utcoffset() == timedelta(0)
        assert before <= ts <= after
    assert set(await keys(storage, "aa/")) == {"aa/one", "aa/two"}
    assert set(await keys(storage, "a")) == {"aa/one", "aa/two", "ab/three"}
    assert set(await keys(storage, "aa/t")) == {"aa/two"}
    assert await keys(storage, "zz/") == {}
    with pytest.raises(InvalidKeyError):
        await keys(storage, "../")


@pytest.mark.parametrize("bad", BAD_KEYS)
@pytest.mark.asyncio
async def test_invalid_keys_rejected(storage: BlobStorage, bad: str) -> None:
    with pytest.raises(InvalidKeyError):
        await storage.open_writer(bad)
    with pytest.raises(InvalidKeyError):
        await get(storage, bad)
    with pytest.raises(InvalidKeyError):
        await storage.exists(bad)
    with pytest.raises(InvalidKeyError):
        await storage.size(bad)
    with pytest.raises(InvalidKeyError):
        await storage.delete(bad)


@pytest.mark.parametrize("good", ["a", "A-z_0.9", "ab/cd/ef0123456789", "x.bin", "a..b", "v1/-"])
def test_valid_keys(good: str) -> None:
    assert validate_key(good) == good


@pytest.mark.asyncio
async def test_encrypted_artifact_end_to_end(storage: BlobStorage) -> None:
    """The way the artifacts service will use both modules: stream in, range out."""
    data_key, aad = generate_data_key(), b"version-7"
    plaintext = os.urandom(3 * 1024 * 1024 + 77)

    async def upload() -> AsyncIterator[bytes]:
        for i in range(0, len(plaintext), 50_000):
            yield plaintext[i : i + 50_000]

    async with await storage.open_writer("v/7") as writer:
        async for chunk in encrypt_stream(upload(), data_key, aad):
            await writer.write(chunk)
        await writer.commit()
    assert await storage.size("v/7") == ciphertext_size(len(plaintext))
    whole = b"".join([c async for c in decrypt_stream(storage.read("v/7"), data_key, aad)])
    assert hashlib.sha256(whole).digest() == hashlib.sha256(plaintext).digest()
    read = functools.partial(storage.read, "v/7")
    for start, end in [(0, 0), (65_535, 65_536), (1_000_000, 2_500_000), (len(plaintext) - 1,) * 2]:
        ranged = decrypt_range(
            read, data_key, aad, start=start, end=end, plaintext_size=len(plaintext)
        )
        assert b"".join([c async for c in ranged]) == plaintext[start : end + 1]


# ---------------------------------------------------------------------------------------
# LocalStorage specifics


@pytest.mark.asyncio
async def test_local_abort_and_uncommitted_leave_no_visible_file(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    writer = await local.open_writer("ab/partial")
    await writer.write(b"x" * 10_000)
    assert visible_files(tmp_path) == []
    await writer.abort()
    assert visible_files(tmp_path) == []
    assert list(local.partial_dir.iterdir()) == []

    # A writer dropped without commit or abort (a cancelled request) is cleaned up too.
    writer = await local.open_writer("ab/dropped")
    await writer.write(b"y" * 10_000)
    assert len(list(local.partial_dir.iterdir())) == 1
    del writer
    gc.collect()
    assert list(local.partial_dir.iterdir()) == []
    assert visible_files(tmp_path) == []
    assert await keys(local) == {}


@pytest.mark.asyncio
async def test_local_temp_and_hidden_files_never_listed(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    await put(local, "real/blob", b"x")
    writer = await local.open_writer("in/progress")
    await writer.write(b"y")
    (tmp_path / "real" / ".editor-swap").write_bytes(b"z")
    (tmp_path / "real" / "bad name").write_bytes(b"z")
    assert set(await keys(local)) == {"real/blob"}
    await writer.abort()


@pytest.mark.asyncio
async def test_local_commit_is_atomic_and_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalStorage(tmp_path)
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def recording_replace(src: Any, dst: Any) -> None:
        # Nothing is visible under the key until the rename, and the data is synced first.
        assert not Path(dst).exists()
        assert synced
        replaced.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    await put(local, "deep/er/key", b"payload")
    assert len(replaced) == 1
    src, dst = replaced[0]
    assert Path(src).parent == local.partial_dir
    assert dst == str(tmp_path / "deep" / "er" / "key")
    # File, the new directories, and the directory entries of the rename.
    assert len(synced) >= 4


@pytest.mark.asyncio
async def test_local_failed_write_blocks_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalStorage(tmp_path)
    writer = await local.open_writer("k")
    await writer.write(b"ok")

    async def broken(chunk: bytes) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(writer, "_write", broken)
    with pytest.raises(OSError, match="disk full"):
        await writer.write(b"lost")
    with pytest.raises(StorageError, match="earlier write"):
        await writer.commit()
    await writer.abort()
    assert visible_files(tmp_path) == []


@pytest.mark.asyncio
async def test_local_purge_partials(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    assert await local.purge_partials(0) == 0  # no temp directory yet
    writer = await local.open_writer("k")
    await writer.write(b"x")
    stale = next(local.partial_dir.iterdir())
    old = (datetime.now(tz=UTC) - timedelta(hours=2)).timestamp()
    os.utime(stale, (old, old))
    assert await local.purge_partials(3600) == 1
    assert list(local.partial_dir.iterdir()) == []
    await writer.abort()


@pytest.mark.asyncio
async def test_local_read_of_directory_is_not_found(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    await put(local, "dir/blob", b"x")
    assert not await local.exists("dir")
    with pytest.raises(BlobNotFoundError):
        await get(local, "dir")
    with pytest.raises(BlobNotFoundError):
        await local.size("dir")
    with pytest.raises(BlobNotFoundError):
        await get(local, "dir/blob/below-a-file")


def test_local_paths_stay_inside_root(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    assert local.path_for("a/b") == tmp_path / "a" / "b"
    for bad in BAD_KEYS:
        with pytest.raises(InvalidKeyError):
            local.path_for(bad)


# ---------------------------------------------------------------------------------------
# S3Storage specifics


@pytest.mark.asyncio
async def test_s3_multipart_upload(s3_storage: S3Storage) -> None:
    data = os.urandom(2 * MIN_PART_SIZE + 12_345)
    client = await s3_storage.client()
    writer = await s3_storage.open_writer("big")
    for i in range(0, len(data), 1024 * 1024):
        await writer.write(data[i : i + 1024 * 1024])
    uploads = client.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", [])
    assert [u["Key"] for u in uploads] == ["blobs/big"]
    assert not await s3_storage.exists("big")
    await writer.commit()
    assert await s3_storage.size("big") == len(data)
    assert hashlib.sha256(await get(s3_storage, "big")).digest() == hashlib.sha256(data).digest()
    assert await get(s3_storage, "big", MIN_PART_SIZE - 10, 20) == data[MIN_PART_SIZE - 10 :][:20]
    assert client.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", []) == []


@pytest.mark.asyncio
async def test_s3_abort_multipart(s3_storage: S3Storage) -> None:
    client = await s3_storage.client()
    writer = await s3_storage.open_writer("dropped")
    await writer.write(os.urandom(MIN_PART_SIZE + 1))
    assert client.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", [])
    await writer.abort()
    assert client.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", []) == []
    assert not await s3_storage.exists("dropped")


@pytest.mark.asyncio
async def test_s3_prefix_and_foreign_objects(s3_storage: S3Storage) -> None:
    await put(s3_storage, "mine", b"x")
    client = await s3_storage.client()
    head = client.head_object(Bucket=s3_storage.bucket, Key="blobs/mine")
    assert head["ContentLength"] == 1
    client.put_object(Bucket=s3_storage.bucket, Key="outside", Body=b"y")
    client.put_object(Bucket=s3_storage.bucket, Key="blobs/has space", Body=b"y")
    assert set(await keys(s3_storage)) == {"mine"}


@pytest.mark.asyncio
async def test_s3_list_keys_paginates(s3_storage: S3Storage) -> None:
    s3_storage.list_page_size = 2
    for i in range(5):
        await put(s3_storage, f"p/{i}", b"")
    await put(s3_storage, "q/0", b"")
    assert set(await keys(s3_storage, "p/")) == {f"p/{i}" for i in range(5)}
    assert len(await keys(s3_storage)) == 6


@pytest.mark.asyncio
async def test_s3_default_client_from_url(
    s3_endpoint: str, s3_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The production path: boto3's own credential chain, configured by the environment."""
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", CREDENTIALS["region_name"])
    bucket = f"from-url-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    storage = storage_from_url(f"s3://{bucket}/deploy/artifacts", s3_endpoint_url=s3_endpoint)
    assert isinstance(storage, S3Storage)
    await put(storage, "k", b"hello")
    assert await get(storage, "k", 1, 3) == b"ell"
    head = s3_client.head_object(Bucket=bucket, Key="deploy/artifacts/k")
    assert head["ContentLength"] == 5


def test_s3_part_size_floor() -> None:
    with pytest.raises(ValueError, match="part size"):
        S3Storage("bucket", part_size=MIN_PART_SIZE - 1)


# ---------------------------------------------------------------------------------------
# storage_from_url


def test_storage_from_url(tmp_path: Path) -> None:
    local = storage_from_url(f"file://{tmp_path}/blobs")
    assert isinstance(local, LocalStorage)
    assert local.root == tmp_path / "blobs"
    plain = storage_from_url(str(tmp_path / "plain"))
    assert isinstance(plain, LocalStorage)
    assert plain.root == tmp_path / "plain"
    spaced = storage_from_url("file:///srv/my%20artifacts")
    assert isinstance(spaced, LocalStorage)
    assert spaced.root == Path("/srv/my artifacts")

    s3 = storage_from_url("s3://bucket/some/prefix/", s3_endpoint_url="http://127.0.0.1:9000")
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == (
        "bucket",
        "some/prefix/",
        "http://127.0.0.1:9000",
    )
    bare = storage_from_url("s3://bucket")
    assert isinstance(bare, S3Storage)
    assert bare.prefix == ""


@pytest.mark.parametrize(
    "url",
    ["", "s3://", "s3:///prefix", "file://otherhost/x", "http://example.com/x", "s3://b/../x"],
)
def test_storage_from_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - InvalidKeyError is a ValueError too
        storage_from_url(url)
