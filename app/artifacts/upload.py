"""Receiving an upload: multipart parts streamed through SHA-256 and STREAM encryption into
blob storage, with the size limit and the quota enforced while the bytes arrive.

Plaintext exists only in the chunk being processed: it is hashed, encrypted and dropped, so
no plaintext reaches a disk, a temporary file or the database. Blobs are committed (durable)
only once the whole body has parsed, and deleted again when anything fails afterwards, so a
failed upload leaves nothing; a crash leaves at worst an uncommitted temp file (purged) or a
committed blob without a row (an orphan, collected after a grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import unicodedata
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from anyio import CancelScope, to_thread
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from app.artifacts.crypto import SegmentEncryptor, ciphertext_size, generate_data_key
from app.artifacts.multipart import (
    PartEnd,
    PartStart,
    boundary_of,
    malformed,
    normalise_media_type,
    read_parts,
)
from app.artifacts.storage import BlobStorage, BlobWriter
from app.core.errors import BadRequest, ProblemError, TooLarge

M = TypeVar("M", bound=BaseModel)

# Plaintext is hashed, encrypted and handed to storage in batches of about this size: a few
# worker-thread hops per MiB rather than one per 64 KiB segment, while the batches in memory
# (one being collected, one in flight) stay small next to the server's 150 MB budget.
WRITE_BATCH = 512 * 1024
MAX_METADATA_BYTES = 64 * 1024
# Multipart framing around the parts (boundaries, part headers) never comes near this.
FRAMING_ALLOWANCE = 64 * 1024
FALLBACK_FILENAME = "artifact"

PROVENANCE_AAD_SUFFIX = b"/provenance"


def blob_key(version_id: uuid.UUID) -> str:
    """Server-generated; client file names never reach a storage path."""
    return f"blobs/{version_id.hex[:2]}/{version_id.hex}"


def provenance_key(version_id: uuid.UUID) -> str:
    return blob_key(version_id) + ".provenance"


def version_id_of_key(key: str) -> uuid.UUID | None:
    """Inverse of `blob_key` / `provenance_key`, for garbage collection; None if foreign."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "blobs":
        return None
    stem, _, suffix = parts[2].partition(".")
    if suffix not in ("", "provenance"):
        return None
    try:
        version_id = uuid.UUID(hex=stem)
    except ValueError:
        return None
    return version_id if parts[1] == version_id.hex[:2] and stem == version_id.hex else None


def blob_aad(artifact_id: uuid.UUID, version_id: uuid.UUID) -> bytes:
    """Binds a blob and its wrapped key to their row: the same bytes for both."""
    return artifact_id.bytes + version_id.bytes


def clean_filename(raw: str | None) -> str:
    """A display name from a client-supplied file name; it never names a storage path.

    Only the last path segment is kept, and control and format characters (NUL, CR/LF,
    bidirectional overrides that disguise extensions) become `_`.
    """
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch if ch.isprintable() else "_" for ch in name).strip()
    if name in ("", ".", ".."):
        return FALLBACK_FILENAME
    return name[:255]


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    quota_left: int
    max_provenance_bytes: int


@dataclass(frozen=True)
class StoredBlob:
    key: str
    sha256: str
    size: int
    ciphertext_size: int
    filename: str
    media_type: str


class StorageUnavailable(ProblemError):
    status, code = 503, "storage_unavailable"


class EncryptingSink:
    """Plaintext in; its SHA-256 and size computed, STREAM ciphertext out to a blob writer.

    Hashing, encryption and the storage write of one batch run off the event loop while the
    loop receives and parses the next batch (SHA-256 and file writes release the GIL, so on
    two cores they overlap with the network). At most one batch is in flight and one is
    being collected, so memory stays at a few batches whatever the file size. Size limits
    are checked on the loop, before a byte over the limit is hashed or stored.
    """

    def __init__(
        self, writer: BlobWriter, data_key: bytes, aad: bytes, limits: UploadLimits
    ) -> None:
        self._writer = writer
        self._limits = limits
        self._encryptor = SegmentEncryptor(data_key, aad)
        self._digest = hashlib.sha256()
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._started = False
        self._inflight: asyncio.Future[None] | None = None
        self.size = 0

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._limits.max_bytes:
            raise TooLarge(f"The file is larger than the limit of {self._limits.max_bytes} bytes.")
        if self.size > self._limits.quota_left:
            raise TooLarge(
                "The file does not fit in your remaining upload quota "
                f"({max(self._limits.quota_left, 0)} bytes).",
                code="quota_exceeded",
            )
        self._batch.append(data)
        self._batch_size += len(data)
        if self._batch_size >= WRITE_BATCH:
            await self._dispatch(final=False)

    async def finish(self) -> tuple[str, int]:
        """Seal the last segment and hand everything to the writer; returns (sha256, size)."""
        await self._dispatch(final=True)
        await self._drain()
        return self._digest.hexdigest(), self.size

    async def close(self) -> None:
        """After a failure: let the batch in flight settle, so the writer can be aborted."""
        task, self._inflight = self._inflight, None
        if task is not None:
            with CancelScope(shield=True), contextlib.suppress(BaseException):
                await task

    async def _dispatch(self, *, final: bool) -> None:
        batch, self._batch, self._batch_size = self._batch, [], 0
        await self._drain()
        self._inflight = asyncio.ensure_future(self._process(batch, final))

    async def _drain(self) -> None:
        # The reference is dropped only once the batch is done, so `close` can still wait.
        if self._inflight is not None:
            await self._inflight
            self._inflight = None

    async def _process(self, batch: list[bytes], final: bool) -> None:
        ciphertext = await to_thread.run_sync(self._seal, batch, final)
        try:
            await self._writer.write(ciphertext)
        except Exception as exc:
            raise StorageUnavailable("Artifact storage failed; nothing was kept.") from exc

    def _seal(self, batch: list[bytes], final: bool) -> bytes:
        """Worker thread, one batch at a time and in order: hash, then encrypt.

        Both in the same thread on purpose: hashing in a thread of its own measured slower
        on two cores, each GIL hand-back between SHA-256 calls waiting behind the encryptor.
        """
        out: list[bytes] = []
        if not self._started:
            out.append(self._encryptor.header())
            self._started = True
        for chunk in batch:
            self._digest.update(chunk)
            out.extend(self._encryptor.update_segments(chunk))
        if final:
            out.append(self._encryptor.finalize())
        return b"".join(out)


@dataclass
class ReceivedUpload(Generic[M]):
    """A committed (durable) blob, its metadata and data key, not yet on any row."""

    metadata: M
    file: StoredBlob
    provenance: StoredBlob | None
    data_key: bytes = field(repr=False)

    def keys(self) -> list[str]:
        keys = [self.file.key]
        if self.provenance is not None:
            keys.append(self.provenance.key)
        return keys

    async def discard(self, storage: BlobStorage) -> None:
        """Undo the upload's blobs when its row cannot be written."""
        await _delete_quietly(storage, self.keys())


async def _delete_quietly(storage: BlobStorage, keys: list[str]) -> None:
    # Shielded: the usual reason to get here is a cancelled request. Best effort: a blob
    # left behind is an orphan that `exchange storage gc` removes later.
    with CancelScope(shield=True):
        for key in keys:
            with contextlib.suppress(Exception):
                await storage.delete(key)


def metadata_error(exc: ValidationError) -> RequestValidationError:
    errors = [
        {**error, "loc": ("body", "metadata", *error.get("loc", ()))}
        for error in exc.errors(include_url=False, include_context=False)
    ]
    return RequestValidationError(errors)


def parse_metadata(raw: bytes, model: type[M]) -> M:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise malformed("The metadata part must be UTF-8 JSON.") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise metadata_error(exc) from None


def _missing(part: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", part), "msg": "Field required", "type": "missing", "input": None}]
    )


async def _guarded(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    except ClientDisconnect:
        raise BadRequest("The upload was interrupted.", code="upload_incomplete") from None


async def _write_small_blob(
    storage: BlobStorage, key: str, data_key: bytes, aad: bytes, data: bytes
) -> int:
    encryptor = SegmentEncryptor(data_key, aad)
    sealed = encryptor.header() + encryptor.update(data) + encryptor.finalize()
    async with await storage.open_writer(key) as writer:
        await writer.write(sealed)
        await writer.commit()
    return len(sealed)


T = TypeVar("T")


async def _storage_step(step: Awaitable[T]) -> T:
    """Storage failures (disk full, S3 down) are a 503, not a crash."""
    try:
        return await step
    except ProblemError:
        raise
    except Exception as exc:
        raise StorageUnavailable("Artifact storage failed; nothing was kept.") from exc


async def receive_upload(
    chunks: AsyncIterable[bytes],
    *,
    content_type: str | None,
    content_length: int | None,
    storage: BlobStorage,
    artifact_id: uuid.UUID,
    version_id: uuid.UUID,
    limits: UploadLimits,
    metadata_model: type[M],
    metadata_required: bool,
) -> ReceivedUpload[M]:
    """Parts: `file` (required), `metadata` (JSON), `provenance` (optional, verbatim)."""
    boundary = boundary_of(content_type)
    ceiling = limits.max_bytes + limits.max_provenance_bytes + MAX_METADATA_BYTES
    if content_length is not None and content_length > ceiling + FRAMING_ALLOWANCE:
        # Refused before a byte is read: the declared body cannot fit under the limit.
        raise TooLarge(f"The file is larger than the limit of {limits.max_bytes} bytes.")
    overhead = limits.max_provenance_bytes + MAX_METADATA_BYTES + FRAMING_ALLOWANCE
    if content_length is not None and content_length > max(limits.quota_left, 0) + overhead:
        raise TooLarge(
            "The file does not fit in your remaining upload quota "
            f"({max(limits.quota_left, 0)} bytes).",
            code="quota_exceeded",
        )

    data_key = generate_data_key()
    aad = blob_aad(artifact_id, version_id)
    key = blob_key(version_id)
    metadata: M | None = None
    metadata_buffer: bytearray | None = None
    provenance_buffer: bytearray | None = None
    provenance_start: PartStart | None = None
    file_start: PartStart | None = None
    writer: BlobWriter | None = None
    sink: EncryptingSink | None = None
    digest: tuple[str, int] | None = None
    current: str | None = None
    seen: set[str] = set()
    committed: list[str] = []
    try:
        async for event in read_parts(_guarded(chunks), boundary):
            if isinstance(event, PartStart):
                if event.name in seen or event.name not in ("file", "metadata", "provenance"):
                    raise malformed(f"Unexpected or repeated part {event.name!r}.")
                seen.add(event.name)
                current = event.name
                if current == "file":
                    file_start = event
                    writer = await _storage_step(storage.open_writer(key))
                    sink = EncryptingSink(writer, data_key, aad, limits)
                elif current == "metadata":
                    metadata_buffer = bytearray()
                else:
                    provenance_start = event
                    provenance_buffer = bytearray()
            elif isinstance(event, PartEnd):
                if current == "file" and sink is not None:
                    digest = await sink.finish()
                elif current == "metadata" and metadata_buffer is not None:
                    metadata = parse_metadata(bytes(metadata_buffer), metadata_model)
                current = None
            elif current == "file" and sink is not None:
                await sink.write(event)
            elif current == "metadata" and metadata_buffer is not None:
                metadata_buffer += event
                if len(metadata_buffer) > MAX_METADATA_BYTES:
                    raise TooLarge(f"The metadata part is larger than {MAX_METADATA_BYTES} bytes.")
            elif current == "provenance" and provenance_buffer is not None:
                provenance_buffer += event
                if len(provenance_buffer) > limits.max_provenance_bytes:
                    raise TooLarge(
                        f"The provenance file is larger than {limits.max_provenance_bytes} bytes."
                    )
        if writer is None or digest is None or file_start is None:
            raise _missing("file")
        if metadata is None:
            if metadata_required:
                raise _missing("metadata")
            metadata = parse_metadata(b"{}", metadata_model)
        # The body parsed completely: only now does the blob become durable and visible.
        await _storage_step(writer.commit())
        committed.append(key)
        sha256, size = digest
        stored = StoredBlob(
            key=key,
            sha256=sha256,
            size=size,
            ciphertext_size=ciphertext_size(size),
            filename=clean_filename(file_start.filename),
            media_type=normalise_media_type(file_start.content_type),
        )
        provenance: StoredBlob | None = None
        if provenance_buffer is not None and provenance_start is not None:
            data = bytes(provenance_buffer)
            pkey = provenance_key(version_id)
            sealed_size = await _storage_step(
                _write_small_blob(storage, pkey, data_key, aad + PROVENANCE_AAD_SUFFIX, data)
            )
            committed.append(pkey)
            provenance = StoredBlob(
                key=pkey,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                ciphertext_size=sealed_size,
                filename=clean_filename(provenance_start.filename or "provenance"),
                media_type=normalise_media_type(provenance_start.content_type),
            )
        return ReceivedUpload(metadata, stored, provenance, data_key)
    except BaseException:
        if sink is not None:
            await sink.close()
        if writer is not None:
            await writer.abort()
        await _delete_quietly(storage, committed)
        raise
