"""STREAM encryption of artifact blobs, range decryption, tampering, key wrapping."""

from __future__ import annotations

import os
import random
import tracemalloc
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.artifacts import crypto
from app.artifacts.crypto import (
    HEADER_SIZE,
    MAX_SEGMENT_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    CiphertextRange,
    IntegrityError,
    KeyRing,
    SegmentDecryptor,
    SegmentEncryptor,
    StreamHeader,
    UnknownKeyError,
    ciphertext_range_for,
    ciphertext_size,
    decrypt_range,
    decrypt_stream,
    encrypt_stream,
    generate_data_key,
    key_id,
    rewrap_key,
    segment_count,
    unwrap_key,
    wrap_key,
)

AAD = b"artifact-version:0b0e5a52-7f7e-4d43-9d1c-3c1f0e2a9a11"
OTHER_AAD = b"artifact-version:5d6c2a43-1f0d-4c8e-8e57-0d3e43a1b7c2"
SMALL = 64  # segment size for exhaustive tamper tests: every byte can be tried quickly


def encrypt(
    plaintext: bytes,
    key: bytes,
    aad: bytes = AAD,
    *,
    segment_size: int = SEGMENT_SIZE,
    feed: int | None = None,
) -> bytes:
    enc = SegmentEncryptor(key, aad, segment_size=segment_size)
    out = [enc.header()]
    step = feed or max(1, len(plaintext))
    for i in range(0, len(plaintext), step):
        out.append(enc.update(plaintext[i : i + step]))
    out.append(enc.finalize())
    return b"".join(out)


async def chunked(data: bytes, rng: random.Random, max_chunk: int = 4096) -> AsyncIterator[bytes]:
    pos = 0
    while pos < len(data):
        n = rng.randint(1, max_chunk)
        yield data[pos : pos + n]
        pos += n


async def drain(stream: AsyncIterator[bytes]) -> tuple[bytes, Exception | None]:
    """Collect what a stream releases before it fails, to check nothing wrong got out."""
    out = bytearray()
    try:
        async for chunk in stream:
            out += chunk
    except IntegrityError as exc:
        return bytes(out), exc
    return bytes(out), None


async def decrypt_all(blob: bytes, key: bytes, aad: bytes = AAD, *, seed: int = 0) -> bytes:
    return b"".join([c async for c in decrypt_stream(chunked(blob, random.Random(seed)), key, aad)])


def assert_rejected_safely(released: bytes, error: Exception | None, plaintext: bytes) -> None:
    assert isinstance(error, IntegrityError)
    # STREAM is online: authentic segments before the damage may have been released, but
    # never a byte that differs from the original.
    assert plaintext.startswith(released)


def seg_split(blob: bytes, segment_size: int) -> tuple[bytes, list[bytes]]:
    stride = segment_size + TAG_SIZE
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[i : i + stride] for i in range(0, len(body), stride)]


@pytest.fixture
def key() -> bytes:
    return generate_data_key()


# ---------------------------------------------------------------------------------------
# Round trips and layout


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        SEGMENT_SIZE - 1,
        SEGMENT_SIZE,
        SEGMENT_SIZE + 1,
        3 * SEGMENT_SIZE,
        5 * 1024 * 1024 + 123,
    ],
)
@pytest.mark.asyncio
async def test_round_trip(size: int, key: bytes) -> None:
    plaintext = os.urandom(size)
    blob = encrypt(plaintext, key, feed=10_000)
    assert len(blob) == ciphertext_size(size)
    assert await decrypt_all(blob, key) == plaintext


@pytest.mark.parametrize("feed", [1, 7, SMALL - 1, SMALL, SMALL + 1, 1000])
@pytest.mark.asyncio
async def test_round_trip_independent_of_chunking(feed: int, key: bytes) -> None:
    plaintext = os.urandom(10 * SMALL + 5)
    blob = encrypt(plaintext, key, segment_size=SMALL, feed=feed)
    assert len(blob) == ciphertext_size(len(plaintext), segment_size=SMALL)
    for seed in range(3):
        assert await decrypt_all(blob, key, seed=seed) == plaintext


@pytest.mark.asyncio
async def test_encrypt_stream_matches_layout(key: bytes) -> None:
    plaintext = os.urandom(3 * SMALL)
    rng = random.Random(1)
    blob = b"".join(
        [c async for c in encrypt_stream(chunked(plaintext, rng, 50), key, AAD, segment_size=SMALL)]
    )
    assert len(blob) == ciphertext_size(len(plaintext), segment_size=SMALL)
    assert await decrypt_all(blob, key) == plaintext


def test_encryptor_buffers_at_most_one_segment(key: bytes) -> None:
    enc = SegmentEncryptor(key, AAD, segment_size=SMALL)
    emitted = 0
    for fed in range(1, 5 * SMALL + 1):
        emitted += len(enc.update(b"x"))
        # A segment goes out as soon as one more byte follows it: at most one is held.
        completed = (fed - 1) // SMALL
        assert emitted == completed * (SMALL + TAG_SIZE)
        assert fed - completed * SMALL <= SMALL
    assert enc.plaintext_size == 5 * SMALL


def test_empty_plaintext_is_one_final_segment(key: bytes) -> None:
    blob = encrypt(b"", key)
    assert len(blob) == HEADER_SIZE + TAG_SIZE
    assert segment_count(0) == 1
    dec = SegmentDecryptor(key, AAD, blob[:HEADER_SIZE])
    assert dec.update(blob[HEADER_SIZE:]) == b""
    assert dec.finalize() == b""
    assert dec.segments_opened == 1


def test_header_layout(key: bytes) -> None:
    enc = SegmentEncryptor(key, AAD)
    header = StreamHeader.parse(enc.header())
    assert header.segment_size == SEGMENT_SIZE
    assert len(header.nonce_prefix) == 7
    assert enc.header()[:4] == crypto.MAGIC
    assert enc.header()[4] == crypto.FORMAT_VERSION
    # A fresh nonce prefix per blob: the same plaintext never encrypts the same way.
    assert SegmentEncryptor(key, AAD).header() != enc.header()


def test_encryptor_refuses_use_after_finalize(key: bytes) -> None:
    enc = SegmentEncryptor(key, AAD)
    enc.finalize()
    with pytest.raises(RuntimeError):
        enc.update(b"more")
    with pytest.raises(RuntimeError):
        enc.finalize()


@pytest.mark.parametrize("bad", [b"", b"k" * 16, b"k" * 31, b"k" * 33])
def test_rejects_non_256_bit_keys(bad: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SegmentEncryptor(bad, AAD)
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_key(bad, generate_data_key(), aad=AAD)


@pytest.mark.parametrize("segment_size", [0, -1, MAX_SEGMENT_SIZE + 1])
def test_rejects_bad_segment_size(segment_size: int, key: bytes) -> None:
    with pytest.raises(ValueError, match="segment size"):
        SegmentEncryptor(key, AAD, segment_size=segment_size)


def test_ciphertext_size() -> None:
    s = SEGMENT_SIZE
    assert ciphertext_size(0) == HEADER_SIZE + TAG_SIZE
    assert ciphertext_size(1) == HEADER_SIZE + 1 + TAG_SIZE
    assert ciphertext_size(s) == HEADER_SIZE + s + TAG_SIZE
    assert ciphertext_size(s + 1) == HEADER_SIZE + s + 1 + 2 * TAG_SIZE
    assert ciphertext_size(10, segment_size=4) == HEADER_SIZE + 10 + 3 * TAG_SIZE
    with pytest.raises(ValueError, match="negative"):
        ciphertext_size(-1)


# ---------------------------------------------------------------------------------------
# Ranges


def test_ciphertext_range_for_examples() -> None:
    s, t, h = 100, TAG_SIZE, HEADER_SIZE
    # Inside the first segment.
    assert ciphertext_range_for(5, 9, 1000, segment_size=s) == CiphertextRange(h, s + t, 0, 5)
    # Spanning segments 1..2.
    assert ciphertext_range_for(150, 250, 1000, segment_size=s) == CiphertextRange(
        h + (s + t), 2 * (s + t), 1, 50
    )
    # Ending in a short final segment (1050 bytes: last segment holds 50).
    assert ciphertext_range_for(1000, 1049, 1050, segment_size=s) == CiphertextRange(
        h + 10 * (s + t), 50 + t, 10, 0
    )
    # Exactly one byte at a segment boundary.
    assert ciphertext_range_for(200, 200, 1000, segment_size=s) == CiphertextRange(
        h + 2 * (s + t), s + t, 2, 0
    )
    # The whole blob is the whole blob, header excluded.
    whole = ciphertext_range_for(0, 1049, 1050, segment_size=s)
    assert whole.offset + whole.length == ciphertext_size(1050, segment_size=s)


@pytest.mark.parametrize(
    ("start", "end", "size"), [(-1, 5, 10), (5, 4, 10), (0, 10, 10), (0, 0, 0)]
)
def test_ciphertext_range_for_rejects_bad_ranges(start: int, end: int, size: int) -> None:
    with pytest.raises(ValueError, match="range"):
        ciphertext_range_for(start, end, size)


class RecordingReader:
    """An in-memory ``RangeReader`` that logs requests and answers in ragged chunks."""

    def __init__(self, blob: bytes, seed: int = 0) -> None:
        self.blob = blob
        self.requests: list[tuple[int, int | None]] = []
        self.rng = random.Random(seed)

    async def __call__(self, offset: int, length: int | None) -> AsyncIterator[bytes]:
        self.requests.append((offset, length))
        end = len(self.blob) if length is None else offset + length
        async for chunk in chunked(self.blob[offset:end], self.rng, 700):
            yield chunk


@pytest.fixture
def opened_segments(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the counter of every segment the crypto module decrypts, from its nonce."""
    opened: list[int] = []

    class CountingAESGCM:
        # AESGCM is a final Rust type, so wrap it rather than subclass it.
        def __init__(self, key: bytes) -> None:
            self._inner = AESGCM(key)

        def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
            return self._inner.encrypt(nonce, data, associated_data)

        def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
            opened.append(int.from_bytes(nonce[7:11], "big"))
            return self._inner.decrypt(nonce, data, associated_data)

    monkeypatch.setattr(crypto, "AESGCM", CountingAESGCM)
    return opened


@pytest.mark.asyncio
async def test_random_ranges_match_plaintext(key: bytes, opened_segments: list[int]) -> None:
    rng = random.Random(42)
    for segment_size in (1, 7, SMALL, 1000):
        plaintext = os.urandom(rng.randint(1, 5000))
        blob = encrypt(plaintext, key, segment_size=segment_size)
        for _ in range(60):
            start = rng.randrange(len(plaintext))
            end = rng.randrange(start, len(plaintext))
            reader = RecordingReader(blob, seed=rng.randrange(1000))
            opened_segments.clear()
            got = b"".join(
                [
                    c
                    async for c in decrypt_range(
                        reader, key, AAD, start=start, end=end, plaintext_size=len(plaintext)
                    )
                ]
            )
            assert got == plaintext[start : end + 1]
            first, last = start // segment_size, end // segment_size
            # Exactly the segments overlapping the range, each once: no segment that lies
            # wholly before the range start is decrypted.
            assert opened_segments == list(range(first, last + 1))
            span = ciphertext_range_for(start, end, len(plaintext), segment_size=segment_size)
            assert reader.requests == [(0, HEADER_SIZE), (span.offset, span.length)]


@pytest.mark.asyncio
async def test_range_on_default_segments_reads_one_segment_before_start(
    key: bytes, opened_segments: list[int]
) -> None:
    plaintext = os.urandom(4 * 1024 * 1024)
    blob = encrypt(plaintext, key)
    start, end = 3 * 1024 * 1024 + 5, 3 * 1024 * 1024 + 10
    reader = RecordingReader(blob)
    got = b"".join(
        [
            c
            async for c in decrypt_range(
                reader, key, AAD, start=start, end=end, plaintext_size=len(plaintext)
            )
        ]
    )
    assert got == plaintext[start : end + 1]
    assert opened_segments == [start // SEGMENT_SIZE]
    _, (offset, length) = reader.requests
    assert offset >= HEADER_SIZE + (start // SEGMENT_SIZE) * (SEGMENT_SIZE + TAG_SIZE)
    assert offset - HEADER_SIZE - (start // SEGMENT_SIZE) * TAG_SIZE <= start
    assert length == SEGMENT_SIZE + TAG_SIZE


@pytest.mark.asyncio
async def test_range_of_last_byte_and_empty_tail(key: bytes) -> None:
    plaintext = os.urandom(3 * SMALL)  # final segment is full
    blob = encrypt(plaintext, key, segment_size=SMALL)
    n = len(plaintext)
    got, err = await drain(
        decrypt_range(RecordingReader(blob), key, AAD, start=n - 1, end=n - 1, plaintext_size=n)
    )
    assert err is None
    assert got == plaintext[-1:]


# ---------------------------------------------------------------------------------------
# Tampering: every failure is an IntegrityError, and nothing wrong is ever released


@pytest.fixture
def sample(key: bytes) -> tuple[bytes, bytes]:
    plaintext = os.urandom(3 * SMALL + 8)  # four segments, the last one short
    return plaintext, encrypt(plaintext, key, segment_size=SMALL)


@pytest.mark.asyncio
async def test_every_single_byte_flip_is_detected(key: bytes, sample: tuple[bytes, bytes]) -> None:
    plaintext, blob = sample
    for pos in range(len(blob)):  # header, every segment body and every tag
        for bit in (0x01, 0x80):
            damaged = bytearray(blob)
            damaged[pos] ^= bit
            released, err = await drain(
                decrypt_stream(chunked(bytes(damaged), random.Random(pos)), key, AAD)
            )
            assert_rejected_safely(released, err, plaintext)


@pytest.mark.asyncio
async def test_every_byte_flip_is_detected_in_ranges(
    key: bytes, sample: tuple[bytes, bytes]
) -> None:
    plaintext, blob = sample
    n = len(plaintext)
    for pos in range(len(blob)):
        damaged = bytearray(blob)
        damaged[pos] ^= 0x20
        released, err = await drain(
            decrypt_range(
                RecordingReader(bytes(damaged)), key, AAD, start=0, end=n - 1, plaintext_size=n
            )
        )
        assert_rejected_safely(released, err, plaintext)


@pytest.mark.asyncio
async def test_every_truncation_is_detected(key: bytes, sample: tuple[bytes, bytes]) -> None:
    plaintext, blob = sample
    for cut in range(len(blob)):
        released, err = await drain(
            decrypt_stream(chunked(blob[:cut], random.Random(cut)), key, AAD)
        )
        assert_rejected_safely(released, err, plaintext)


@pytest.mark.asyncio
async def test_dropped_final_segment(key: bytes, sample: tuple[bytes, bytes]) -> None:
    plaintext, blob = sample
    header, segments = seg_split(blob, SMALL)
    released, err = await drain(
        decrypt_stream(chunked(header + b"".join(segments[:-1]), random.Random(0)), key, AAD)
    )
    assert_rejected_safely(released, err, plaintext)
    # Cut exactly at a segment boundary, the remainder is a full non-final segment.
    assert released == plaintext[: 2 * SMALL]


@pytest.mark.asyncio
async def test_reordered_duplicated_and_appended_segments(
    key: bytes, sample: tuple[bytes, bytes]
) -> None:
    plaintext, blob = sample
    header, s = seg_split(blob, SMALL)
    variants = [
        [s[1], s[0], s[2], s[3]],
        [s[0], s[2], s[1], s[3]],
        [s[0], s[0], s[1], s[2], s[3]],
        [s[0], s[1], s[2], s[3], s[3]],
        [s[0], s[1], s[2], s[3], s[0]],
        [s[3]],
        [s[0], s[3]],
    ]
    for segments in variants:
        released, err = await drain(
            decrypt_stream(chunked(header + b"".join(segments), random.Random(0)), key, AAD)
        )
        assert_rejected_safely(released, err, plaintext)
    released, err = await drain(decrypt_stream(chunked(blob + b"\x00", random.Random(0)), key, AAD))
    assert_rejected_safely(released, err, plaintext)


@pytest.mark.asyncio
async def test_final_flag_on_non_last_segment_is_rejected(key: bytes) -> None:
    """A key holder's forgery: segment 0 marked final, then a valid-looking segment 1."""
    header = SegmentEncryptor(key, AAD, segment_size=SMALL).header()
    parsed = StreamHeader.parse(header)
    aead, ad = AESGCM(key), header + AAD

    def seal(index: int, last: bool, data: bytes) -> bytes:
        nonce = parsed.nonce_prefix + index.to_bytes(4, "big") + bytes([last])
        return aead.encrypt(nonce, data, ad)

    first, second = b"a" * SMALL, b"b" * 10
    forged = header + seal(0, True, first) + seal(1, True, second)
    released, err = await drain(decrypt_stream(chunked(forged, random.Random(0)), key, AAD))
    assert isinstance(err, IntegrityError)
    assert released == b""
    # Control: the honestly flagged stream decrypts.
    honest = header + seal(0, False, first) + seal(1, True, second)
    assert await decrypt_all(honest, key) == first + second
    # And a ranged read cannot be fooled into accepting the early final flag either.
    released, err = await drain(
        decrypt_range(RecordingReader(forged), key, AAD, start=0, end=5, plaintext_size=SMALL + 10)
    )
    assert isinstance(err, IntegrityError)
    assert released == b""


@pytest.mark.asyncio
async def test_swapped_blobs_fail_through_aad(key: bytes) -> None:
    """Even under the same data key, one artifact's blob does not pass as another's."""
    a, b = os.urandom(100), os.urandom(100)
    blob_a, blob_b = encrypt(a, key, AAD), encrypt(b, key, OTHER_AAD)
    for blob, wrong_aad in ((blob_a, OTHER_AAD), (blob_b, AAD)):
        released, err = await drain(decrypt_stream(chunked(blob, random.Random(0)), key, wrong_aad))
        assert isinstance(err, IntegrityError)
        assert released == b""
        released, err = await drain(
            decrypt_range(
                RecordingReader(blob), key, wrong_aad, start=10, end=20, plaintext_size=100
            )
        )
        assert isinstance(err, IntegrityError)
        assert released == b""


@pytest.mark.asyncio
async def test_wrong_key(key: bytes, sample: tuple[bytes, bytes]) -> None:
    _, blob = sample
    released, err = await drain(
        decrypt_stream(chunked(blob, random.Random(0)), generate_data_key(), AAD)
    )
    assert isinstance(err, IntegrityError)
    assert released == b""


@pytest.mark.asyncio
async def test_short_storage_answer_in_range_is_detected(
    key: bytes, sample: tuple[bytes, bytes]
) -> None:
    plaintext, blob = sample
    n = len(plaintext)
    header, segments = seg_split(blob, SMALL)
    # Storage loses everything after segment 1; a range over segments 0..3 must not
    # quietly come back short.
    short = header + b"".join(segments[:2])
    released, err = await drain(
        decrypt_range(RecordingReader(short), key, AAD, start=0, end=n - 1, plaintext_size=n)
    )
    assert_rejected_safely(released, err, plaintext)


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"DXAE",
        b"XXAE\x01\x00\x00\x00\x40" + b"\x00" * 7,
        b"DXAE\x02\x00\x00\x00\x40" + b"\x00" * 7,
        b"DXAE\x01\x00\x00\x00\x00" + b"\x00" * 7,
        b"DXAE\x01\xff\xff\xff\xff" + b"\x00" * 7,
    ],
)
def test_header_parse_rejects(header: bytes) -> None:
    with pytest.raises(IntegrityError):
        StreamHeader.parse(header)


def test_decryptor_with_huge_chunk_releases_nothing_on_late_failure(key: bytes) -> None:
    plaintext = os.urandom(10 * SMALL)
    blob = bytearray(encrypt(plaintext, key, segment_size=SMALL))
    blob[-TAG_SIZE - 20] ^= 1  # damage the last segment
    dec = SegmentDecryptor(key, AAD, bytes(blob[:HEADER_SIZE]))
    released = dec.update(bytes(blob[HEADER_SIZE:]))
    assert released == plaintext[: 9 * SMALL]
    with pytest.raises(IntegrityError):
        dec.finalize()


def test_decryptor_refuses_use_after_failure(key: bytes) -> None:
    blob = bytearray(encrypt(os.urandom(5 * SMALL), key, segment_size=SMALL))
    blob[HEADER_SIZE + 3] ^= 1
    dec = SegmentDecryptor(key, AAD, bytes(blob[:HEADER_SIZE]))
    with pytest.raises(IntegrityError):
        dec.update(bytes(blob[HEADER_SIZE:]))
    with pytest.raises(RuntimeError):
        dec.update(b"")
    with pytest.raises(RuntimeError):
        dec.finalize()


# ---------------------------------------------------------------------------------------
# Memory stays flat


@pytest.mark.asyncio
async def test_streaming_memory_is_flat(key: bytes) -> None:
    total = 32 * 1024 * 1024
    block = os.urandom(1024 * 1024)

    async def source() -> AsyncIterator[bytes]:
        for _ in range(total // len(block)):
            yield block

    tracemalloc.start()
    try:
        seen = 0
        async for chunk in decrypt_stream(encrypt_stream(source(), key, AAD), key, AAD):
            seen += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == total
    # A few chunks and one segment in flight, nowhere near the 32 MiB that went through.
    assert peak < 8 * 1024 * 1024


# ---------------------------------------------------------------------------------------
# Data keys, master keys, rotation


def test_generate_data_key() -> None:
    keys = {generate_data_key() for _ in range(10)}
    assert len(keys) == 10
    assert all(len(k) == 32 for k in keys)


def test_wrap_unwrap() -> None:
    master, data_key = generate_data_key(), generate_data_key()
    wrapped = wrap_key(master, data_key, aad=AAD)
    assert len(wrapped) == crypto.WRAPPED_KEY_SIZE
    assert data_key not in wrapped
    assert unwrap_key(master, wrapped, aad=AAD) == data_key
    # Random nonce: wrapping twice gives different bytes, both valid.
    again = wrap_key(master, data_key, aad=AAD)
    assert again != wrapped
    assert unwrap_key(master, again, aad=AAD) == data_key


def test_unwrap_failures() -> None:
    master, data_key = generate_data_key(), generate_data_key()
    wrapped = wrap_key(master, data_key, aad=AAD)
    with pytest.raises(IntegrityError):
        unwrap_key(generate_data_key(), wrapped, aad=AAD)
    with pytest.raises(IntegrityError):
        unwrap_key(master, wrapped, aad=OTHER_AAD)  # wrapped key moved to another row
    for pos in range(len(wrapped)):
        damaged = bytearray(wrapped)
        damaged[pos] ^= 1
        with pytest.raises(IntegrityError):
            unwrap_key(master, bytes(damaged), aad=AAD)
    for bad in (b"", wrapped[:-1], wrapped + b"\x00"):
        with pytest.raises(IntegrityError):
            unwrap_key(master, bad, aad=AAD)


def test_key_id() -> None:
    master = generate_data_key()
    kid = key_id(master)
    assert kid == key_id(master)
    assert len(kid) == 16
    assert int(kid, 16) >= 0
    assert kid not in master.hex()
    assert key_id(generate_data_key()) != kid
    with pytest.raises(ValueError, match="32 bytes"):
        key_id(b"short")


@pytest.mark.asyncio
async def test_rotation_rewraps_without_touching_the_blob() -> None:
    old_master, new_master = generate_data_key(), generate_data_key()
    data_key = generate_data_key()
    plaintext = os.urandom(5000)
    blob = encrypt(plaintext, data_key, segment_size=SMALL)
    wrapped = wrap_key(old_master, data_key, aad=AAD)

    rewrapped = rewrap_key(old_master, new_master, wrapped, aad=AAD)
    with pytest.raises(IntegrityError):
        unwrap_key(old_master, rewrapped, aad=AAD)
    assert await decrypt_all(blob, unwrap_key(new_master, rewrapped, aad=AAD)) == plaintext
    with pytest.raises(IntegrityError):
        rewrap_key(old_master, new_master, wrapped, aad=OTHER_AAD)


def test_key_ring_rotation() -> None:
    old_master, new_master = generate_data_key(), generate_data_key()
    data_key = generate_data_key()
    old_ring = KeyRing(old_master)
    kid, wrapped = old_ring.wrap(data_key, aad=AAD)
    assert kid == key_id(old_master) == old_ring.current_key_id

    ring = KeyRing(new_master, retired=[old_master])
    assert kid in ring
    assert ring.needs_rewrap(kid)
    assert ring.unwrap(kid, wrapped, aad=AAD) == data_key
    new_kid, new_wrapped = ring.rewrap(kid, wrapped, aad=AAD)
    assert new_kid == key_id(new_master)
    assert not ring.needs_rewrap(new_kid)
    assert KeyRing(new_master).unwrap(new_kid, new_wrapped, aad=AAD) == data_key
    with pytest.raises(UnknownKeyError):
        KeyRing(new_master).unwrap(kid, wrapped, aad=AAD)
