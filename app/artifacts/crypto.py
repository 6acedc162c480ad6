"""Streaming authenticated encryption for artifact blobs, and data-key wrapping.

Blob format (one per artifact version)::

    header  = magic "DXAE" | format version (1 byte) | segment size (u32 BE) | nonce prefix (7)
    segment = AES-256-GCM(data key, nonce, plaintext segment, aad = header || artifact aad)
    nonce   = nonce prefix (7) | segment counter (u32 BE) | last-segment flag (1 byte)

This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online
authenticated-encryption and its nonce-reuse misuse-resistance", 2015): every segment
is authenticated on its own, so a consumer can release plaintext one segment at a time,
and the counter plus the last-segment flag in the nonce make reordering, dropping,
truncating or extending the segment sequence fail authentication.

Every segment but the last carries exactly ``segment_size`` plaintext bytes; the last
carries 1..``segment_size`` bytes, or 0 when the whole plaintext is empty, so the
ciphertext layout is a pure function of the plaintext size and a byte range maps to a
ciphertext range without reading anything else.

The header is part of every segment's associated data, so a flipped header byte fails
authentication like any other flipped byte. The caller's ``aad`` (the artifact version
id) binds the blob to its database row: two artifacts' blobs swapped fail to decrypt.

Only AES-GCM from ``cryptography`` is used; nothing here implements a primitive.
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "KEY_SIZE",
    "MAGIC",
    "MAX_SEGMENT_SIZE",
    "SEGMENT_SIZE",
    "TAG_SIZE",
    "WRAPPED_KEY_SIZE",
    "CiphertextRange",
    "IntegrityError",
    "KeyRing",
    "RangeReader",
    "SegmentDecryptor",
    "SegmentEncryptor",
    "StreamHeader",
    "UnknownKeyError",
    "ciphertext_range_for",
    "ciphertext_size",
    "decrypt_range",
    "decrypt_stream",
    "encrypt_stream",
    "generate_data_key",
    "key_id",
    "rewrap_key",
    "segment_count",
    "unwrap_key",
    "wrap_key",
]

SEGMENT_SIZE = 64 * 1024
"""Plaintext bytes per segment. A Range read decrypts at most this much before its start."""

# Bounds the decryptor's buffer even when the header comes from an attacker: the header
# is only authenticated once the first segment is, and that segment has to be buffered.
MAX_SEGMENT_SIZE = 16 * 1024 * 1024

MAGIC = b"DXAE"
FORMAT_VERSION = 1
KEY_SIZE = 32
TAG_SIZE = 16
NONCE_PREFIX_SIZE = 7

_HEADER = struct.Struct(">4sBI7s")
HEADER_SIZE = _HEADER.size

# The counter is 4 bytes; a repeated (key, nonce) pair would void GCM's guarantees, so
# the encryptor refuses to go past it rather than wrap (256 TiB at 64 KiB segments).
_MAX_SEGMENTS = 2**32

_WRAP_VERSION = b"\x01"
_WRAP_NONCE_SIZE = 12
# Domain-separates wrapped data keys from any other AES-GCM use of the master key.
_WRAP_CONTEXT = b"durc-exchange/artifact-data-key/v1\x00"
WRAPPED_KEY_SIZE = len(_WRAP_VERSION) + _WRAP_NONCE_SIZE + KEY_SIZE + TAG_SIZE
_KEY_ID_INFO = b"durc-exchange/master-key-id/v1"


class IntegrityError(Exception):
    """The ciphertext, its header, its key or its associated data is not authentic.

    Raised before any plaintext from the offending segment is released. Plaintext from
    earlier segments, already released, is authentic: it is a true prefix of the
    original (STREAM's online guarantee), but the consumer must treat the transfer as
    failed. Not to be confused with ``sqlalchemy.exc.IntegrityError``.
    """


class UnknownKeyError(LookupError):
    """A wrapped key names a master key id that the key ring does not hold."""


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes (AES-256)")


def _check_segment_size(segment_size: int) -> None:
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment size must be between 1 and {MAX_SEGMENT_SIZE}")


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """The parsed blob header; ``raw`` is kept because it is authenticated verbatim."""

    segment_size: int
    nonce_prefix: bytes
    raw: bytes

    @classmethod
    def parse(cls, data: bytes) -> StreamHeader:
        if len(data) < HEADER_SIZE:
            raise IntegrityError("blob is shorter than its header")
        raw = bytes(data[:HEADER_SIZE])
        magic, version, segment_size, prefix = _HEADER.unpack(raw)
        if magic != MAGIC:
            raise IntegrityError("blob does not start with the artifact magic")
        if version != FORMAT_VERSION:
            raise IntegrityError(f"unsupported blob format version {version}")
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise IntegrityError("blob header has an impossible segment size")
        return cls(segment_size=segment_size, nonce_prefix=prefix, raw=raw)


# ---------------------------------------------------------------------------------------
# Size and range arithmetic


def segment_count(plaintext_size: int, *, segment_size: int = SEGMENT_SIZE) -> int:
    """Segments in a blob; empty plaintext still has one (final) segment."""
    if plaintext_size < 0:
        raise ValueError("plaintext size must not be negative")
    _check_segment_size(segment_size)
    return max(1, -(-plaintext_size // segment_size))


def ciphertext_size(plaintext_size: int, *, segment_size: int = SEGMENT_SIZE) -> int:
    """Exact blob size, so a stored blob can be checked against its recorded size."""
    count = segment_count(plaintext_size, segment_size=segment_size)
    return HEADER_SIZE + plaintext_size + count * TAG_SIZE


class CiphertextRange(NamedTuple):
    offset: int
    """First ciphertext byte to read (start of the segment that holds ``plain_start``)."""
    length: int
    """Ciphertext bytes to read, through the tag of the segment that holds ``plain_end``."""
    first_segment_index: int
    skip: int
    """Plaintext bytes of the first segment that precede ``plain_start``."""


def ciphertext_range_for(
    plain_start: int,
    plain_end: int,
    plaintext_size: int,
    *,
    segment_size: int = SEGMENT_SIZE,
) -> CiphertextRange:
    """Map the inclusive plaintext range [plain_start, plain_end] onto whole segments.

    Only the segments that overlap the range are read, so at most one segment's worth of
    plaintext before ``plain_start`` is ever decrypted. ``plain_end`` is inclusive, as in
    an HTTP ``Range: bytes=start-end`` header; the caller clamps it to the size first.
    """
    _check_segment_size(segment_size)
    if not 0 <= plain_start <= plain_end < plaintext_size:
        raise ValueError("range must satisfy 0 <= start <= end < plaintext size")
    stride = segment_size + TAG_SIZE
    first = plain_start // segment_size
    last = plain_end // segment_size
    offset = HEADER_SIZE + first * stride
    last_plain_len = min((last + 1) * segment_size, plaintext_size) - last * segment_size
    end = HEADER_SIZE + last * stride + last_plain_len + TAG_SIZE
    return CiphertextRange(
        offset=offset,
        length=end - offset,
        first_segment_index=first,
        skip=plain_start - first * segment_size,
    )


class _Framer:
    """Cuts a byte stream into fixed-size units, always holding the newest full unit back.

    Whether a unit is the last one is only known once more bytes arrive (or the stream
    ends), so a unit is released only when at least one byte follows it. Units inside a
    large chunk are handed out as views of that chunk: bytes are copied only to join
    pieces of a unit that straddles two chunks, never once per chunk as a single growing
    buffer would.
    """

    def __init__(self, unit: int) -> None:
        self._unit = unit
        self._pending = bytearray()

    def push(self, chunk: bytes) -> Iterator[bytes | bytearray | memoryview]:
        unit = self._unit
        data = memoryview(chunk).cast("B")
        if self._pending:
            room = unit - len(self._pending)
            if len(data) <= room:
                self._pending += data
                return
            self._pending += data[:room]
            full, self._pending = self._pending, bytearray()
            yield full
            data = data[room:]
        pos = 0
        while len(data) - pos > unit:
            yield data[pos : pos + unit]
            pos += unit
        self._pending += data[pos:]

    def rest(self) -> bytearray:
        rest, self._pending = self._pending, bytearray()
        return rest


# ---------------------------------------------------------------------------------------
# Encryption


class SegmentEncryptor:
    """Incremental STREAM encryptor; holds at most one segment of plaintext.

    Write ``header()`` first, then every ``update()`` result, then ``finalize()``. A
    segment is emitted only once more plaintext follows it, because whether a segment is
    the last one is part of its nonce and is only known at ``finalize()``.
    """

    def __init__(self, data_key: bytes, aad: bytes, *, segment_size: int = SEGMENT_SIZE) -> None:
        _check_key(data_key, "data key")
        _check_segment_size(segment_size)
        self._aead = AESGCM(bytes(data_key))
        self._segment_size = segment_size
        # A random prefix per blob keeps nonces unique even if a data key were ever
        # reused by mistake; with a fresh key per artifact it is defence in depth.
        self._prefix = os.urandom(NONCE_PREFIX_SIZE)
        self._header = _HEADER.pack(MAGIC, FORMAT_VERSION, segment_size, self._prefix)
        self._aad = self._header + bytes(aad)
        self._index = 0
        self._framer = _Framer(segment_size)
        self._plaintext_size = 0
        self._finalized = False

    def header(self) -> bytes:
        return self._header

    @property
    def plaintext_size(self) -> int:
        return self._plaintext_size

    def update(self, chunk: bytes) -> bytes:
        """Return the ciphertext of every segment completed by ``chunk`` (maybe none)."""
        return b"".join(self.update_segments(chunk))

    def update_segments(self, chunk: bytes) -> list[bytes]:
        """Like ``update`` but one ``bytes`` per segment, sparing a join into one buffer."""
        if self._finalized:
            raise RuntimeError("encryptor already finalized")
        self._plaintext_size += len(chunk)
        return [self._seal(unit, last=False) for unit in self._framer.push(chunk)]

    def finalize(self) -> bytes:
        """Seal the buffered remainder as the last segment (empty only for empty input)."""
        if self._finalized:
            raise RuntimeError("encryptor already finalized")
        self._finalized = True
        return self._seal(self._framer.rest(), last=True)

    def _seal(self, segment: bytes | bytearray | memoryview, *, last: bool) -> bytes:
        if self._index >= _MAX_SEGMENTS:
            raise OverflowError("plaintext too large for the 32-bit segment counter")
        nonce = _nonce(self._prefix, self._index, last)
        self._index += 1
        return self._aead.encrypt(nonce, segment, self._aad)


async def encrypt_stream(
    chunks: AsyncIterable[bytes],
    data_key: bytes,
    aad: bytes,
    *,
    segment_size: int = SEGMENT_SIZE,
) -> AsyncIterator[bytes]:
    """Yield the header, then ciphertext as segments complete; never holds the whole."""
    encryptor = SegmentEncryptor(data_key, aad, segment_size=segment_size)
    yield encryptor.header()
    async for chunk in chunks:
        # Segment by segment: joining them would allocate (and page-fault) a fresh buffer
        # the size of each incoming chunk.
        for segment in encryptor.update_segments(chunk):
            yield segment
    yield encryptor.finalize()


# ---------------------------------------------------------------------------------------
# Decryption


class SegmentDecryptor:
    """Incremental STREAM decryptor; releases plaintext only of authenticated segments.

    Without ``final_segment_index`` it decrypts a whole blob: a segment is opened as
    non-final only once more ciphertext follows it, and whatever remains at
    ``finalize()`` must authenticate as the final segment, so a blob cut at a segment
    boundary, or one with a final segment followed by more data, is rejected.

    With ``first_segment_index`` and ``final_segment_index`` (both known from the
    recorded plaintext size) it decrypts a slice of segments read for a byte range.
    """

    def __init__(
        self,
        data_key: bytes,
        aad: bytes,
        header: bytes | StreamHeader,
        *,
        first_segment_index: int = 0,
        final_segment_index: int | None = None,
    ) -> None:
        _check_key(data_key, "data key")
        parsed = header if isinstance(header, StreamHeader) else StreamHeader.parse(header)
        if first_segment_index < 0 or (
            final_segment_index is not None and final_segment_index < first_segment_index
        ):
            raise ValueError("segment indexes out of order")
        self._aead = AESGCM(bytes(data_key))
        self._prefix = parsed.nonce_prefix
        self._aad = parsed.raw + bytes(aad)
        self._index = first_segment_index
        self._final_index = final_segment_index
        self._framer = _Framer(parsed.segment_size + TAG_SIZE)
        self._opened = 0
        self._finalized = False

    @property
    def segments_opened(self) -> int:
        return self._opened

    def update(self, chunk: bytes) -> bytes:
        """Return plaintext of the segments that ``chunk`` completes, all authenticated."""
        return b"".join(self.update_segments(chunk))

    def update_segments(self, chunk: bytes) -> list[bytes]:
        """Like ``update`` but one ``bytes`` per segment, sparing a join into one buffer."""
        if self._finalized:
            raise RuntimeError("decryptor already finalized")
        out: list[bytes] = []
        try:
            for segment in self._framer.push(chunk):
                if self._final_index is not None and self._index >= self._final_index:
                    raise IntegrityError("ciphertext continues past the final segment")
                out.append(self._open(segment, last=False))
        except IntegrityError:
            # The stream is condemned and the framer is mid-chunk: refuse any further use.
            self._finalized = True
            raise
        return out

    def finalize(self) -> bytes:
        """Open the remaining segment; in whole-blob mode it must be the final one."""
        if self._finalized:
            raise RuntimeError("decryptor already finalized")
        self._finalized = True
        rest = self._framer.rest()
        if not rest:
            # Even an empty plaintext has a 16-byte final segment.
            raise IntegrityError("ciphertext is truncated: no final segment")
        last = self._final_index is None or self._index == self._final_index
        return self._open(rest, last=last)

    def _open(self, segment: bytes | bytearray | memoryview, *, last: bool) -> bytes:
        index = self._index
        if index >= _MAX_SEGMENTS:
            raise IntegrityError("ciphertext has more segments than the counter allows")
        if len(segment) < TAG_SIZE:
            raise IntegrityError(f"segment {index} is truncated")
        try:
            plaintext = self._aead.decrypt(_nonce(self._prefix, index, last), segment, self._aad)
        except InvalidTag:
            # One message for every cause (flipped bit, wrong key, wrong aad, reordering,
            # truncation): telling them apart would need the key, and would not help.
            raise IntegrityError(f"segment {index} failed authentication") from None
        self._index += 1
        self._opened += 1
        return plaintext


async def decrypt_stream(
    chunks: AsyncIterable[bytes], data_key: bytes, aad: bytes
) -> AsyncIterator[bytes]:
    """Decrypt a whole blob given as arbitrary ciphertext chunks.

    Decryption stays on the event loop: one 64 KiB segment costs tens of microseconds,
    less than a hop to a worker thread.
    """
    pending = bytearray()
    decryptor: SegmentDecryptor | None = None
    async for chunk in chunks:
        if decryptor is None:
            pending += chunk
            if len(pending) < HEADER_SIZE:
                continue
            decryptor = SegmentDecryptor(data_key, aad, bytes(pending[:HEADER_SIZE]))
            chunk = bytes(pending[HEADER_SIZE:])
            pending = bytearray()
        for plaintext in decryptor.update_segments(chunk):
            yield plaintext
    if decryptor is None:
        raise IntegrityError("blob is shorter than its header")
    out = decryptor.finalize()
    if out:
        yield out


RangeReader = Callable[[int, int | None], AsyncIterator[bytes]]
"""``(offset, length) -> chunks``, e.g. ``functools.partial(storage.read, blob_key)``."""


async def _aclose(iterator: AsyncIterator[bytes]) -> None:
    # Storage readers hold files or HTTP bodies; close them now instead of at GC time.
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _read_header(read: RangeReader) -> StreamHeader:
    data = bytearray()
    chunks = read(0, HEADER_SIZE)
    try:
        async for chunk in chunks:
            data += chunk
            if len(data) >= HEADER_SIZE:
                break
    finally:
        await _aclose(chunks)
    return StreamHeader.parse(bytes(data))


async def decrypt_range(
    read: RangeReader,
    data_key: bytes,
    aad: bytes,
    *,
    start: int,
    end: int,
    plaintext_size: int,
) -> AsyncIterator[bytes]:
    """Yield plaintext bytes [start, end] (inclusive) reading only the segments needed.

    ``plaintext_size`` must come from the trusted database row: it fixes which segment is
    final, and a storage answer shorter than the range raises ``IntegrityError``.
    """
    header = await _read_header(read)
    span = ciphertext_range_for(start, end, plaintext_size, segment_size=header.segment_size)
    decryptor = SegmentDecryptor(
        data_key,
        aad,
        header,
        first_segment_index=span.first_segment_index,
        final_segment_index=segment_count(plaintext_size, segment_size=header.segment_size) - 1,
    )
    skip = span.skip
    remaining = end - start + 1

    def trim(plaintext: bytes) -> bytes:
        nonlocal skip, remaining
        if skip:
            dropped = min(skip, len(plaintext))
            plaintext = plaintext[dropped:]
            skip -= dropped
        plaintext = plaintext[:remaining]
        remaining -= len(plaintext)
        return plaintext

    chunks = read(span.offset, span.length)
    try:
        async for chunk in chunks:
            for plaintext in decryptor.update_segments(chunk):
                out = trim(plaintext)
                if out:
                    yield out
    finally:
        await _aclose(chunks)
    out = trim(decryptor.finalize())
    if out:
        yield out
    if remaining:
        raise IntegrityError("blob is shorter than its recorded plaintext size")


# ---------------------------------------------------------------------------------------
# Data keys and master keys


def generate_data_key() -> bytes:
    """A fresh AES-256 key per artifact version, so no two blobs share a key."""
    return AESGCM.generate_key(bit_length=256)


def key_id(master_key: bytes) -> str:
    """Short public name of a master key, stored beside each wrapped data key.

    HKDF with a fixed label rather than a bare hash, so the id is unrelated to any
    other value derived from the key; 64 bits tell a handful of keys apart and, being
    a one-way function of a 256-bit key, reveal nothing usable about it.
    """
    _check_key(master_key, "master key")
    derived = HKDF(algorithm=hashes.SHA256(), length=8, salt=None, info=_KEY_ID_INFO).derive(
        bytes(master_key)
    )
    return derived.hex()


def wrap_key(master_key: bytes, data_key: bytes, *, aad: bytes) -> bytes:
    """Encrypt a data key under the master key, bound to ``aad`` (the artifact version id).

    AES-GCM with a random 96-bit nonce rather than AES-KW because it takes associated
    data: a wrapped key copied onto another artifact's row fails to unwrap.
    """
    _check_key(master_key, "master key")
    _check_key(data_key, "data key")
    nonce = os.urandom(_WRAP_NONCE_SIZE)
    sealed = AESGCM(bytes(master_key)).encrypt(nonce, bytes(data_key), _WRAP_CONTEXT + aad)
    return _WRAP_VERSION + nonce + sealed


def unwrap_key(master_key: bytes, wrapped: bytes, *, aad: bytes) -> bytes:
    _check_key(master_key, "master key")
    if len(wrapped) != WRAPPED_KEY_SIZE or wrapped[:1] != _WRAP_VERSION:
        raise IntegrityError("wrapped key is malformed")
    nonce = wrapped[1 : 1 + _WRAP_NONCE_SIZE]
    try:
        return AESGCM(bytes(master_key)).decrypt(
            nonce, wrapped[1 + _WRAP_NONCE_SIZE :], _WRAP_CONTEXT + aad
        )
    except InvalidTag:
        raise IntegrityError("wrapped key failed authentication") from None


def rewrap_key(
    old_master_key: bytes, new_master_key: bytes, wrapped: bytes, *, aad: bytes
) -> bytes:
    """Move a data key to a new master key; the blob, encrypted under the data key, stays."""
    return wrap_key(new_master_key, unwrap_key(old_master_key, wrapped, aad=aad), aad=aad)


class KeyRing:
    """The current master key plus retired ones still needed to unwrap older rows.

    Rotation: put the new key first and keep the old one in ``retired`` until every row
    whose key id ``needs_rewrap`` has been passed through ``rewrap``.
    """

    def __init__(self, current: bytes, retired: Iterable[bytes] = ()) -> None:
        self._keys: dict[str, bytes] = {}
        for key in (current, *retired):
            self._keys.setdefault(key_id(key), bytes(key))
        self.current_key_id = key_id(current)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def _key(self, kid: str) -> bytes:
        try:
            return self._keys[kid]
        except KeyError:
            raise UnknownKeyError(f"no master key with id {kid!r}") from None

    def wrap(self, data_key: bytes, *, aad: bytes) -> tuple[str, bytes]:
        """Return ``(key id, wrapped key)``; store both on the artifact version row."""
        return self.current_key_id, wrap_key(self._keys[self.current_key_id], data_key, aad=aad)

    def unwrap(self, kid: str, wrapped: bytes, *, aad: bytes) -> bytes:
        return unwrap_key(self._key(kid), wrapped, aad=aad)

    def needs_rewrap(self, kid: str) -> bool:
        return kid != self.current_key_id

    def rewrap(self, kid: str, wrapped: bytes, *, aad: bytes) -> tuple[str, bytes]:
        return self.wrap(self.unwrap(kid, wrapped, aad=aad), aad=aad)
