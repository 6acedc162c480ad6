"""Throughput and peak memory of artifact encryption against a plain streaming copy.

    python bench/artifact_crypto.py [--size-mib 256] [--chunk-kib 1024] [--verify]

Each phase runs in its own child process so that its peak RSS (``ru_maxrss``) is its
own. Data flows through async generators exactly as an upload or download does:

* copy     - every chunk is copied once (the least any streaming transform must do);
* encrypt  - ``encrypt_stream`` alone;
* roundtrip - ``decrypt_stream(encrypt_stream(...))``: encrypt and decrypt in one pass,
  without ever holding the ciphertext; decrypt throughput is derived from the two.

Flat memory shows as a peak RSS that does not grow with ``--size-mib``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.artifacts.crypto import (  # noqa: E402 - needs the repo root on sys.path
    SEGMENT_SIZE,
    decrypt_stream,
    encrypt_stream,
    generate_data_key,
)

AAD = b"bench-artifact-version"


@dataclass(frozen=True)
class PhaseResult:
    phase: str
    bytes_in: int
    bytes_out: int
    seconds: float
    rss_before_mib: float
    peak_rss_mib: float
    verified: bool | None

    @property
    def mbps(self) -> float:
        return self.bytes_in / self.seconds / 1e6


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def source(block: bytes, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield block


async def copy_stream(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield bytes(bytearray(chunk))  # bytes(bytes) would not copy


async def sink(chunks: AsyncIterator[bytes], verify: bool) -> tuple[int, str]:
    total = 0
    digest = hashlib.sha256()
    async for chunk in chunks:
        total += len(chunk)
        if verify:
            digest.update(chunk)
    return total, digest.hexdigest() if verify else ""


async def run_phase(phase: str, size: int, chunk: int, verify: bool) -> PhaseResult:
    block = os.urandom(chunk)
    count = size // chunk
    key = generate_data_key()
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    if phase == "copy":
        total, digest = await sink(copy_stream(source(block, count)), verify)
    elif phase == "encrypt":
        total, digest = await sink(encrypt_stream(source(block, count), key, AAD), verify)
    elif phase == "roundtrip":
        pipeline = decrypt_stream(encrypt_stream(source(block, count), key, AAD), key, AAD)
        total, digest = await sink(pipeline, verify)
    else:
        raise SystemExit(f"unknown phase {phase}")
    seconds = time.perf_counter() - started
    expected = ""
    if verify:
        reference = hashlib.sha256()
        for _ in range(count):
            reference.update(block)
        expected = reference.hexdigest()
    return PhaseResult(
        phase=phase,
        bytes_in=count * chunk,
        bytes_out=total,
        seconds=seconds,
        rss_before_mib=rss_before,
        peak_rss_mib=peak_rss_mib(),
        verified=(digest == expected) if verify and phase != "encrypt" else None,
    )


def child(args: argparse.Namespace, phase: str) -> PhaseResult:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--size-mib",
        str(args.size_mib),
        "--chunk-kib",
        str(args.chunk_kib),
    ]
    if args.verify:
        cmd.append("--verify")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout  # noqa: S603
    return PhaseResult(**json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--chunk-kib", type=int, default=1024, help="upload chunk size")
    parser.add_argument("--verify", action="store_true", help="SHA-256 the output (slower)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size, chunk = args.size_mib * 1024 * 1024, args.chunk_kib * 1024

    if args.phase:
        print(json.dumps(asdict(asyncio.run(run_phase(args.phase, size, chunk, args.verify)))))
        return

    results = {phase: child(args, phase) for phase in ("copy", "encrypt", "roundtrip")}
    copy, enc, rt = results["copy"], results["encrypt"], results["roundtrip"]
    dec_mbps = size / max(rt.seconds - enc.seconds, 1e-9) / 1e6

    print(
        f"{args.size_mib} MiB in {args.chunk_kib} KiB chunks, segment {SEGMENT_SIZE // 1024} KiB,"
        f" python {sys.version.split()[0]}"
    )
    print(f"{'phase':<20}{'MB/s':>8}{'seconds':>10}{'RSS start MiB':>15}{'peak RSS MiB':>14}")
    for r in results.values():
        print(
            f"{r.phase:<20}{r.mbps:>8.0f}{r.seconds:>10.3f}"
            f"{r.rss_before_mib:>15.1f}{r.peak_rss_mib:>14.1f}"
        )
    print(f"{'decrypt (derived)':<20}{dec_mbps:>8.0f}")
    for r in results.values():
        if r.verified is False:
            raise SystemExit(f"{r.phase}: output does not match input")
    print(
        f"ratio encrypt+decrypt / copy: throughput {rt.mbps / copy.mbps:.3f}x,"
        f" peak RSS {rt.peak_rss_mib / copy.peak_rss_mib:.3f}x"
        f" ({rt.peak_rss_mib - copy.peak_rss_mib:+.1f} MiB)"
    )


if __name__ == "__main__":
    main()
