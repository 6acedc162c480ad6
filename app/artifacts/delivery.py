"""Serving decrypted bytes over HTTP: Range arithmetic, Content-Disposition, and the
streaming response that records what it actually sent.

A blob that fails authentication is never served as if it were whole. Its first segment is
opened before the response starts, so a swapped, truncated or foreign blob answers a clean
error; a segment that fails later (a flipped byte in the middle) aborts the connection
instead of ending the response normally, so the client sees a failed transfer, not a short
file. Segments before the bad one are authentic (STREAM's online guarantee): no wrong
plaintext is ever sent.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.artifacts.crypto import IntegrityError, decrypt_range, decrypt_stream
from app.artifacts.storage import BlobStorage

log = logging.getLogger(__name__)

SEND_CHUNK = 256 * 1024

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    """A syntactically valid Range that selects no byte of the representation."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One `bytes=` range (RFC 9110 section 14.1.2) clamped to `size`, or None for a full
    response. Headers this server does not honour (other units, several ranges, syntax it
    cannot read) are ignored, as the RFC allows; raises `Unsatisfiable` for 416."""
    if header is None:
        return None
    found = _RANGE.match(header)
    if found is None:
        return None
    first, last = found.group(1), found.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(end, size - 1))


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match / If-Range comparison; ours are strong, so weak prefixes still match
    for If-None-Match (weak comparison, RFC 9110 section 13.1.2)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact name as RFC 8187 `filename*`."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = "".join(
        ch if ch.isprintable() and ch not in '"\\%;' else "_" for ch in fallback
    ).strip()
    if not fallback or set(fallback) <= {"_", "."}:
        fallback = "artifact"
    elif fallback.startswith("."):
        fallback = "artifact" + fallback  # "数据.bin" -> "artifact.bin", not a hidden file
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


async def _coalesce(chunks: AsyncIterator[bytes], target: int) -> AsyncIterator[bytes]:
    pending: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            pending.append(chunk)
            size += len(chunk)
            if size >= target:
                yield b"".join(pending) if len(pending) > 1 else pending[0]
                pending, size = [], 0
        if pending:
            yield b"".join(pending)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def plaintext(
    storage: BlobStorage,
    key: str,
    data_key: bytes,
    aad: bytes,
    *,
    plaintext_size: int,
    byte_range: ByteRange | None,
) -> AsyncIterator[bytes]:
    """Decrypted bytes of a blob (or of one range), reading only the segments needed."""
    if plaintext_size == 0:
        return decrypt_stream(storage.read(key), data_key, aad)
    span = byte_range or ByteRange(0, plaintext_size - 1)

    def read(offset: int, length: int | None) -> AsyncIterator[bytes]:
        return storage.read(key, offset, length)

    return _coalesce(
        decrypt_range(
            read,
            data_key,
            aad,
            start=span.start,
            end=span.end,
            plaintext_size=plaintext_size,
        ),
        SEND_CHUNK,
    )


async def first_chunk(body: AsyncIterator[bytes]) -> bytes | None:
    """Open the body's first piece now, before any header is sent; None if it is empty."""
    try:
        return await body.__anext__()
    except StopAsyncIteration:
        return None


class TransferAborted(Exception):
    """Raised out of the response after its headers left, so the server drops the
    connection and the client cannot mistake a failed transfer for a complete one."""


Finish = Callable[[int, str, BaseException | None], Awaitable[None]]
"""(bytes sent, outcome, error) -> None; outcome is complete, aborted or failed."""


class DecryptedResponse(Response):
    """Streams `first` then `rest`, watching for the client going away, and reports what
    was sent to `on_finish` whatever happens (shielded from cancellation)."""

    def __init__(
        self,
        *,
        status_code: int,
        headers: dict[str, str],
        first: bytes | None,
        rest: AsyncIterator[bytes],
        on_finish: Finish,
    ) -> None:
        super().__init__(status_code=status_code, headers=headers)
        self._first = first
        self._rest = rest
        self._on_finish = on_finish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent = 0
        outcome = "aborted"
        failure: BaseException | None = None

        async def watch_disconnect(cancel: anyio.CancelScope) -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    cancel.cancel()
                    return

        async def stream() -> None:
            nonlocal sent
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if self._first:
                await send({"type": "http.response.body", "body": self._first, "more_body": True})
                sent += len(self._first)
            async for chunk in self._rest:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(watch_disconnect, group.cancel_scope)
                try:
                    await stream()
                    outcome = "complete"
                except OSError:
                    # ASGI 2.4 servers signal a vanished client this way.
                    outcome = "aborted"
                except Exception as exc:  # storage or integrity failure mid-stream
                    outcome, failure = "failed", exc
                group.cancel_scope.cancel()
            if outcome == "complete":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            with anyio.CancelScope(shield=True):
                aclose = getattr(self._rest, "aclose", None)
                if aclose is not None:
                    try:
                        await aclose()
                    except Exception:
                        log.exception("closing an artifact stream failed")
                await self._on_finish(sent, outcome, failure)
        if failure is not None:
            if isinstance(failure, IntegrityError):
                log.error("artifact failed authentication mid-stream: %s", failure)
            raise TransferAborted("artifact transfer aborted") from failure
