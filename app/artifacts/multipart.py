"""A streaming `multipart/form-data` reader over an ASGI request body.

FastAPI's `UploadFile` spools large parts to a plaintext temporary file, which artifact
uploads must never produce. This reader drives python-multipart's callback parser chunk by
chunk and hands out events (`PartStart`, data, `PartEnd`) as they are found, so the caller
can encrypt and store each piece of a file before the next network chunk is even read:
nothing here holds more than one network chunk of the body.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.core.errors import ProblemError, Unprocessable

# A request part may carry a handful of headers (Content-Disposition, Content-Type, ...);
# more, or longer ones, are refused by the parser rather than buffered.
MAX_PART_HEADERS = 8
MAX_HEADER_BYTES = 8 * 1024
MAX_PARTS = 8

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


class UnsupportedMediaType(ProblemError):
    status, code = 415, "unsupported_media_type"


def malformed(detail: str) -> Unprocessable:
    return Unprocessable(detail, code="malformed_multipart")


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a `multipart/form-data` Content-Type, or 415."""
    media, options = parse_options_header(content_type or "")
    if media != b"multipart/form-data":
        raise UnsupportedMediaType("The request body must be multipart/form-data.")
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 70:
        raise malformed("The multipart boundary is missing or too long.")
    return boundary


@dataclass(frozen=True)
class PartStart:
    name: str
    filename: str | None
    content_type: str | None


@dataclass(frozen=True)
class PartEnd:
    name: str


Event = PartStart | bytes | PartEnd


def normalise_media_type(value: str | None) -> str:
    """A declared media type kept as metadata: `type/subtype` only, else octet-stream."""
    media = (value or "").split(";", 1)[0].strip().lower()
    return media if _MEDIA_TYPE.match(media) else "application/octet-stream"


class _Collector:
    """Receives python-multipart's synchronous callbacks; events are drained after each
    chunk by the async reader."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.ended = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._current: str | None = None
        self._parts = 0

    def part_begin(self) -> None:
        self._headers = {}
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise malformed(f"At most {MAX_PARTS} parts are accepted.")

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def header_end(self) -> None:
        name = bytes(self._header_field).decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def headers_finished(self) -> None:
        disposition = self._headers.get("content-disposition", b"").decode("latin-1")
        kind, options = parse_options_header(disposition)
        if kind != b"form-data" or b"name" not in options:
            raise malformed("Every part needs Content-Disposition: form-data with a name.")
        name = _text(options[b"name"])
        raw_filename = options.get(b"filename")
        content_type = self._headers.get("content-type")
        self._current = name
        self.events.append(
            PartStart(
                name=name,
                filename=_text(raw_filename) if raw_filename is not None else None,
                content_type=content_type.decode("latin-1") if content_type else None,
            )
        )

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self.events.append(data[start:end])

    def part_end(self) -> None:
        if self._current is not None:
            self.events.append(PartEnd(self._current))
        self._current = None

    def end(self) -> None:
        self.ended = True


def _text(raw: bytes) -> str:
    # Browsers send UTF-8 in quoted parameters (RFC 7578 section 4.2); the parser hands us
    # the bytes as latin-1. Anything undecodable becomes U+FFFD: names are metadata only.
    return raw.decode("utf-8", errors="replace")


async def read_parts(chunks: AsyncIterable[bytes], boundary: bytes) -> AsyncIterator[Event]:
    """Yield the parts of a multipart body as they stream in.

    Raises `malformed_multipart` (422) on a syntax error or a body that ends before its
    closing boundary; bytes after the closing boundary (the epilogue) are ignored.
    """
    collector = _Collector()
    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": collector.part_begin,
            "on_part_data": collector.part_data,
            "on_part_end": collector.part_end,
            "on_header_field": collector.header_field,
            "on_header_value": collector.header_value,
            "on_header_end": collector.header_end,
            "on_headers_finished": collector.headers_finished,
            "on_end": collector.end,
        },
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_HEADER_BYTES,
    )
    async for chunk in chunks:
        if collector.ended or not chunk:
            continue
        try:
            parser.write(chunk)
        except FormParserError as exc:
            raise malformed(f"The multipart body is malformed: {exc}") from None
        events, collector.events = collector.events, []
        for event in events:
            yield event
    if not collector.ended:
        raise malformed("The multipart body ended before its closing boundary.")
