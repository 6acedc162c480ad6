"""HTTP answers for downloads: conditional requests, one byte range, the export record, and
blobs that fail authentication answered (or aborted) without a byte of wrong plaintext."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app import policy
from app.artifacts import delivery, service
from app.artifacts.crypto import IntegrityError, UnknownKeyError, decrypt_stream
from app.artifacts.delivery import ByteRange, DecryptedResponse, Unsatisfiable
from app.artifacts.storage import StorageError
from app.artifacts.upload import PROVENANCE_AAD_SUFFIX, blob_aad
from app.auth import enforce
from app.core.errors import ProblemError
from app.core.runtime import Runtime
from app.models import Artifact, ArtifactVersion
from app.policy import Actor, ArtifactStatus, DiscussionScope


class Unreadable(ProblemError):
    status, code = 500, "artifact_unreadable"


def digest_header(sha256: str) -> str:
    """RFC 9530 Repr-Digest of the whole representation, whatever range is sent."""
    return "sha-256=:" + base64.b64encode(bytes.fromhex(sha256)).decode() + ":"


def base_headers(etag: str, filename: str, sha256: str) -> dict[str, str]:
    return {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Content-Disposition": delivery.content_disposition(filename),
        "X-Content-Type-Options": "nosniff",
        # Export-controlled content: no shared or on-disk caches; clients revalidate with
        # If-None-Match instead.
        "Cache-Control": "private, no-store",
        "Repr-Digest": digest_header(sha256),
    }


async def _open_version(
    session: AsyncSession,
    runtime: Runtime,
    actor: Actor,
    artifact: Artifact,
    version: ArtifactVersion,
    byte_range: ByteRange | None,
) -> tuple[bytes | None, AsyncIterator[bytes]]:
    """Check the blob's size and open its first segment before any header is sent."""
    storage = runtime.storage
    aad = blob_aad(artifact.id, version.id)
    body: AsyncIterator[bytes] | None = None
    try:
        if await storage.size(version.blob_key) != version.ciphertext_size:
            raise IntegrityError("blob size does not match its record")
        data_key = runtime.artifact_keys.unwrap(version.key_id, version.wrapped_key, aad=aad)
        body = delivery.plaintext(
            storage,
            version.blob_key,
            data_key,
            aad,
            plaintext_size=version.plaintext_size,
            byte_range=byte_range,
        )
        first = await delivery.first_chunk(body)
    except (IntegrityError, UnknownKeyError, StorageError) as exc:
        if body is not None:
            await body.aclose()  # type: ignore[attr-defined]
        await service.record_unreadable(
            session,
            actor=actor,
            artifact=artifact,
            version=version,
            problem=f"{type(exc).__name__}: {exc}",
        )
        raise Unreadable(
            "The stored artifact failed its integrity check; nothing was sent.",
            keep_changes=True,
        ) from exc
    return first, body


async def serve_content(
    request: Request,
    session: AsyncSession,
    runtime: Runtime,
    *,
    actor: Actor,
    scope: DiscussionScope,
    artifact_id: uuid.UUID,
    number: int | None,
    head: bool,
) -> Response:
    """GET and HEAD of a version's bytes: conditional requests, one range, the export
    record, and a body that decrypts as it streams."""
    artifact, _topic = await service.access_artifact(session, scope, artifact_id)
    version = await service.version_of(session, artifact, number)
    enforce(policy.can_receive_version(actor, ArtifactStatus(version.status)))
    etag = f'"{version.sha256}"'
    headers = base_headers(etag, version.filename, version.sha256)
    if delivery.etag_matches(request.headers.get("if-none-match"), etag):
        return Response(
            status_code=304,
            headers={"ETag": etag, "Cache-Control": headers["Cache-Control"]},
        )
    size = version.plaintext_size
    byte_range: ByteRange | None = None
    if_range = request.headers.get("if-range")
    # If-Range with a date (or another tag) means "the whole thing if it changed": we only
    # honour the range when the tag is this version's.
    if if_range is None or if_range.strip() == etag:
        try:
            byte_range = delivery.parse_range(request.headers.get("range"), size)
        except Unsatisfiable:
            raise ProblemError(
                f"The range is outside the artifact's {size} bytes.",
                status=416,
                code="range_not_satisfiable",
                headers={"Content-Range": f"bytes */{size}"},
            ) from None
    headers["Content-Length"] = str(byte_range.length if byte_range else size)
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    status_code = 206 if byte_range is not None else 200
    if head:
        return Response(status_code=status_code, headers=headers)
    first, body = await _open_version(session, runtime, actor, artifact, version, byte_range)
    record = await service.start_download(
        session,
        actor=actor,
        artifact=artifact,
        version=version,
        kind="content",
        byte_range=byte_range,
        planned=byte_range.length if byte_range else size,
    )
    actor_id, download_id = actor.user_id, record.id

    async def finish(sent: int, outcome: str, error: BaseException | None) -> None:
        await service.finish_download(
            runtime.db,
            actor_id=actor_id,
            artifact_id=artifact_id,
            download_id=download_id,
            bytes_served=sent,
            outcome=outcome,
            error=error,
        )

    return DecryptedResponse(
        status_code=status_code, headers=headers, first=first, rest=body, on_finish=finish
    )


async def serve_provenance(
    request: Request,
    session: AsyncSession,
    runtime: Runtime,
    *,
    actor: Actor,
    scope: DiscussionScope,
    artifact_id: uuid.UUID,
    number: int,
) -> Response:
    """A version's provenance file, verbatim (it is small: held in memory, sent at once)."""
    artifact, _topic = await service.access_artifact(session, scope, artifact_id)
    version = await service.version_of(session, artifact, number)
    enforce(policy.can_receive_version(actor, ArtifactStatus(version.status)))
    if (
        version.provenance_blob_key is None
        or version.provenance_sha256 is None
        or version.provenance_size is None
    ):
        raise ProblemError("This version has no provenance file.", status=404, code="not_found")
    etag = f'"{version.provenance_sha256}"'
    headers = base_headers(
        etag, version.provenance_filename or "provenance", version.provenance_sha256
    )
    if delivery.etag_matches(request.headers.get("if-none-match"), etag):
        return Response(
            status_code=304, headers={"ETag": etag, "Cache-Control": headers["Cache-Control"]}
        )
    aad = blob_aad(artifact.id, version.id)
    try:
        data_key = runtime.artifact_keys.unwrap(version.key_id, version.wrapped_key, aad=aad)
        pieces = [
            piece
            async for piece in decrypt_stream(
                runtime.storage.read(version.provenance_blob_key),
                data_key,
                aad + PROVENANCE_AAD_SUFFIX,
            )
        ]
    except (IntegrityError, UnknownKeyError, StorageError) as exc:
        await service.record_unreadable(
            session,
            actor=actor,
            artifact=artifact,
            version=version,
            problem=f"provenance {type(exc).__name__}: {exc}",
        )
        raise Unreadable(
            "The stored provenance failed its integrity check; nothing was sent.",
            keep_changes=True,
        ) from exc
    data = b"".join(pieces)
    record = await service.start_download(
        session,
        actor=actor,
        artifact=artifact,
        version=version,
        kind="provenance",
        byte_range=None,
        planned=len(data),
    )
    # Sent in one piece once the transaction commits: recorded as served in full.
    record.bytes_served, record.outcome = len(data), "complete"
    record.finished_at = record.started_at
    return Response(content=data, headers=headers)
