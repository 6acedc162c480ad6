"""Artifact upload and download through the API, against plain streaming endpoints of the
same app, measured side by side in one run; plus Range latency and the server's peak RSS.

    python bench/artifact_transfer.py [--size-mib 1024] [--repeat 1] [--range-samples 20]
                                      [--s3] [--no-verify]

Starts `uvicorn app.main:app` as a child process on 127.0.0.1 (a free port) with a temporary
SQLite database and storage folder and `EXCHANGE_BENCHMARK_ENDPOINTS=true`, writes a vetted
US member, a session token and a `general` topic straight into the database (no login, so
no argon2 run in the server), then, for each repetition:

* plain upload    POST /api/v1/_bench/artifacts/plain   raw body -> the same blob storage
* plain download  GET  /api/v1/_bench/artifacts/plain/{id}
* artifact upload POST /api/v1/topics/{slug}/artifacts  multipart -> SHA-256 + AES-GCM STREAM
* artifact download GET /api/v1/artifacts/{id}/content  authenticated, decrypted, recorded

The client is a minimal HTTP/1.1 client over a raw socket (one connection per request) so
that it costs as little CPU as possible on the shared cores; the body is generated on the
fly (never on disk) and downloads are SHA-256-checked against the upload unless
`--no-verify`. Server RSS is sampled from /proc every 10 ms; the kernel's high-water mark
(VmHWM) is reset after start-up when permitted, so the peak reported is the peak under load.
Everything is bounded: the server is stopped and the temporary folder removed at the end.
`--s3` runs the same against a moto S3 server (in-memory; its own speed dominates).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
HOST = "127.0.0.1"
# Not a hash of anything: the bench member never logs in (its session is written directly).
NO_PASSWORD = "!"  # noqa: S105 - not a credential
RECV_BUFFER = 1 * MIB


# --- A small HTTP/1.1 client ----------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes  # kept only for small (JSON) answers
    size: int
    sha256: str | None
    seconds: float


def _read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: Iterator[bytes] | None = None,
    length: int | None = None,
    digest: bool = False,
    keep_body: bool = True,
) -> Reply:
    started = time.perf_counter()
    with socket.create_connection((HOST, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        for chunk in body or ():
            sock.sendall(chunk)
        status, response_headers, rest = _read_head(sock)
        total = int(response_headers.get("content-length", "-1"))
        hasher = hashlib.sha256() if digest else None
        kept = bytearray()
        received = 0
        view = memoryview(bytearray(RECV_BUFFER))

        def take(data: memoryview | bytes) -> None:
            nonlocal received
            received += len(data)
            if hasher is not None:
                hasher.update(data)
            if keep_body:
                kept.extend(data)

        if rest:
            take(rest)
        while total < 0 or received < total:
            count = sock.recv_into(view)
            if count == 0:
                break
            take(view[:count])
    if total >= 0 and received != total:
        raise ConnectionError(f"short body: {received} of {total} bytes")
    return Reply(
        status=status,
        headers=response_headers,
        body=bytes(kept),
        size=received,
        sha256=hasher.hexdigest() if hasher else None,
        seconds=time.perf_counter() - started,
    )


# --- The server under test ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class RssSampler:
    """Samples a process's VmRSS every 10 ms from /proc; `reset()` also clears VmHWM."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self.start_kib = 0
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _field(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
        return 0

    def reset(self) -> None:
        self.start_kib = self.peak_kib = self._field("VmRSS")
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False

    def hwm_kib(self) -> int:
        return self._field("VmHWM")

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.peak_kib = max(self.peak_kib, self._field("VmRSS"))
            time.sleep(0.01)

    def __enter__(self) -> RssSampler:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _seed(env: dict[str, str]) -> tuple[str, str]:
    """A vetted US member with a session, and a general topic; returns (token, slug)."""
    from app.core.runtime import Runtime
    from app.core.settings import Settings
    from app.migrate import upgrade
    from app.models import (
        Application,
        AuthSession,
        Membership,
        MembershipCountry,
        Topic,
        User,
    )
    from app.models.base import utcnow

    upgrade(env["EXCHANGE_DATABASE_URL"])
    settings = Settings(
        database_url=env["EXCHANGE_DATABASE_URL"],
        storage_url=env["EXCHANGE_STORAGE_URL"],
        master_key=env["EXCHANGE_MASTER_KEY"],
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    runtime = Runtime.build(settings)
    slug = "bench-artifacts"

    async def write() -> str:
        now = utcnow()
        user_id, session_id, application_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        membership_id = uuid.uuid4()
        async with runtime.db.session() as session:
            session.add(
                User(
                    id=user_id,
                    email="bench@example.org",
                    display_name="Bench",
                    password_hash=NO_PASSWORD,
                    email_verified_at=now,
                )
            )
            await session.flush()
            session.add(
                AuthSession(
                    id=session_id,
                    user_id=user_id,
                    kind="login",
                    mfa_passed=True,
                    auth_method="password",
                    expires_at=now + timedelta(days=1),
                )
            )
            session.add(
                Application(
                    id=application_id,
                    user_id=user_id,
                    status="approved",
                    legal_name="Bench Member",
                    citizenships=["US"],
                    residence_country="US",
                    affiliation_name="Bench Lab",
                    affiliation_country="US",
                    orcid=None,
                    federal_award_ids=[],
                    research_statement="Benchmarking artifact transfer.",
                    attested_at=now,
                    screening_result="clear",
                    screening_matches=[],
                    screened_at=now,
                    decided_at=now,
                    decision_reason="bench",
                )
            )
            await session.flush()
            session.add(
                Membership(
                    id=membership_id,
                    user_id=user_id,
                    application_id=application_id,
                    status="active",
                    status_changed_at=now,
                    approved_at=now,
                    expires_at=now + timedelta(days=30),
                )
            )
            await session.flush()
            for relation in ("citizenship", "residence", "affiliation"):
                session.add(
                    MembershipCountry(
                        membership_id=membership_id, country_code="US", relation=relation
                    )
                )
            session.add(
                Topic(
                    id=uuid.uuid4(),
                    slug=slug,
                    title="Bench",
                    description="Benchmark topic.",
                    tier="general",
                    thread_seq=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        await runtime.db.dispose()
        return runtime.access_tokens.issue(session_id, user_id)

    return asyncio.run(write()), slug


@contextlib.contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                HOST,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited:\n{log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start within 60 s") from None
                time.sleep(0.1)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check(condition: bool, message: object) -> None:
    """Not `assert`: a benchmark that measured the wrong thing must stop under -O too."""
    if not condition:
        raise SystemExit(f"check failed: {message!s:.500}")


# --- The measurements -----------------------------------------------------------------------


@dataclass
class Body:
    """`size` bytes made of one random block repeated; never materialised."""

    size: int
    block: bytes = field(default_factory=lambda: os.urandom(MIB))

    def chunks(self) -> Iterator[bytes]:
        left = self.size
        while left > 0:
            piece = self.block if left >= len(self.block) else self.block[:left]
            left -= len(piece)
            yield piece

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()


def multipart(body: Body, boundary: str) -> tuple[Callable[[], Iterator[bytes]], int]:
    meta = json.dumps({"title": "Benchmark artifact", "license": "MIT"})
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n'
        f"Content-Type: application/json\r\n\r\n{meta}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="bench.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        yield from body.chunks()
        yield tail

    return chunks, len(head) + body.size + len(tail)


@dataclass
class Run:
    plain_up: list[float] = field(default_factory=list)
    plain_down: list[float] = field(default_factory=list)
    art_up: list[float] = field(default_factory=list)
    art_down: list[float] = field(default_factory=list)
    range_first: list[float] = field(default_factory=list)
    range_last: list[float] = field(default_factory=list)


def measure(port: int, token: str, slug: str, body: Body, args: argparse.Namespace) -> Run:
    auth = {"Authorization": f"Bearer {token}"}
    expected = body.sha256() if args.verify else None
    run = Run()
    artifact_id = ""
    for _ in range(args.repeat):
        reply = request(
            port,
            "POST",
            "/api/v1/_bench/artifacts/plain",
            headers={"Content-Type": "application/octet-stream"},
            body=body.chunks(),
            length=body.size,
        )
        check(reply.status == 200, reply.body[:500])
        run.plain_up.append(reply.seconds)
        blob = json.loads(reply.body)["id"]
        reply = request(
            port,
            "GET",
            f"/api/v1/_bench/artifacts/plain/{blob}",
            digest=args.verify,
            keep_body=False,
        )
        check(reply.status == 200 and reply.size == body.size, f"plain download: {reply.status}")
        check(expected is None or reply.sha256 == expected, "plain download differs")
        run.plain_down.append(reply.seconds)

        boundary = "bench-" + uuid.uuid4().hex
        chunks, length = multipart(body, boundary)
        reply = request(
            port,
            "POST",
            f"/api/v1/topics/{slug}/artifacts",
            headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            body=chunks(),
            length=length,
        )
        check(reply.status == 201, reply.body[:500])
        run.art_up.append(reply.seconds)
        created = json.loads(reply.body)
        artifact_id = created["id"]
        check(expected is None or created["sha256"] == expected, "upload digest differs")
        reply = request(
            port,
            "GET",
            f"/api/v1/artifacts/{artifact_id}/content",
            headers=auth,
            digest=args.verify,
            keep_body=False,
        )
        check(reply.status == 200 and reply.size == body.size, f"download: {reply.status}")
        check(expected is None or reply.sha256 == expected, "artifact download differs")
        run.art_down.append(reply.seconds)

    size = body.size
    first = f"bytes=0-{MIB - 1}"
    last = f"bytes={size - MIB}-{size - 1}"
    for _ in range(args.range_samples):
        for spec, into in ((first, run.range_first), (last, run.range_last)):
            reply = request(
                port,
                "GET",
                f"/api/v1/artifacts/{artifact_id}/content",
                headers={**auth, "Range": spec},
            )
            check(reply.status == 206 and reply.size == MIB, f"range: {reply.status}")
            into.append(reply.seconds)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--range-samples", type=int, default=20)
    parser.add_argument("--s3", action="store_true", help="store blobs on a moto S3 server")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.size_mib < 2:
        raise SystemExit("--size-mib must be at least 2 (the Range test reads 1 MiB)")

    work = Path(tempfile.mkdtemp(prefix="exchange-bench-"))
    env = {
        **os.environ,
        "EXCHANGE_ENVIRONMENT": "development",
        "EXCHANGE_VAR_DIR": str(work / "var"),
        "EXCHANGE_DATABASE_URL": f"sqlite:///{work}/bench.db",
        "EXCHANGE_STORAGE_URL": str(work / "artifacts"),
        "EXCHANGE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "EXCHANGE_BENCHMARK_ENDPOINTS": "true",
        "EXCHANGE_MAX_ARTIFACT_BYTES": str(args.size_mib * MIB * 2),
        "EXCHANGE_ARTIFACT_QUOTA_BYTES": str(args.size_mib * MIB * (args.repeat + 1) * 2),
        "EXCHANGE_AUDIT_CHECKPOINT_MINUTES": "0",
    }
    env.pop("EXCHANGE_BOOTSTRAP_ADMIN_EMAIL", None)
    moto: contextlib.AbstractContextManager[str | None] = contextlib.nullcontext()
    if args.s3:
        from tests.artifacts.s3server import CREDENTIALS, moto_server

        moto = moto_server(work)
    try:
        with moto as endpoint:
            if endpoint is not None:
                import boto3

                bucket = "bench-artifacts"
                boto3.session.Session().client(
                    "s3", endpoint_url=endpoint, **CREDENTIALS
                ).create_bucket(Bucket=bucket)
                env.update(
                    EXCHANGE_STORAGE_URL=f"s3://{bucket}/exchange",
                    EXCHANGE_S3_ENDPOINT_URL=endpoint,
                    AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
                    AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
                    AWS_DEFAULT_REGION=CREDENTIALS["region_name"],
                )
            token, slug = _seed(env)
            body = Body(args.size_mib * MIB)
            with server(env, work / "server.log") as (port, process):
                startup_hwm = RssSampler(process.pid).hwm_kib()
                # One small round first so lazy imports and caches are not counted as load.
                warm = Body(MIB)
                warm_args = argparse.Namespace(**{**vars(args), "repeat": 1, "range_samples": 1})
                measure(port, token, slug, warm, warm_args)
                with RssSampler(process.pid) as sampler:
                    run = measure(port, token, slug, body, args)
                    hwm = sampler.hwm_kib()
                report(args, body.size, run, sampler, hwm, startup_hwm)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def report(
    args: argparse.Namespace,
    size: int,
    run: Run,
    sampler: RssSampler,
    hwm_kib: int,
    startup_hwm_kib: int,
) -> None:
    def mbps(seconds: list[float]) -> float:
        return size / statistics.median(seconds) / 1e6

    plain_up, plain_down = mbps(run.plain_up), mbps(run.plain_down)
    art_up, art_down = mbps(run.art_up), mbps(run.art_down)
    plain_rt = 2 * size / (statistics.median(run.plain_up) + statistics.median(run.plain_down))
    art_rt = 2 * size / (statistics.median(run.art_up) + statistics.median(run.art_down))
    first_ms = statistics.median(run.range_first) * 1000
    last_ms = statistics.median(run.range_last) * 1000
    backend = "S3 (moto)" if args.s3 else "local filesystem"
    print(
        f"{args.size_mib} MiB, {args.repeat} repetition(s), storage: {backend}, "
        f"verify: {args.verify}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print(f"{'':<22}{'plain MB/s':>12}{'artifact MB/s':>15}{'ratio':>8}")
    print(f"{'upload':<22}{plain_up:>12.0f}{art_up:>15.0f}{art_up / plain_up:>8.2f}")
    print(f"{'download':<22}{plain_down:>12.0f}{art_down:>15.0f}{art_down / plain_down:>8.2f}")
    print(
        f"{'upload then download':<22}{plain_rt / 1e6:>12.0f}{art_rt / 1e6:>15.0f}"
        f"{art_rt / plain_rt:>8.2f}"
    )
    print(
        f"Range 1 MiB: first {first_ms:.1f} ms, last {last_ms:.1f} ms (median of "
        f"{args.range_samples}), last/first {last_ms / first_ms:.2f}"
    )
    sampled = sampler.peak_kib / 1024
    kernel = hwm_kib / 1024 if sampler.hwm_reset else 0.0
    peak = max(sampled, kernel)
    print(
        f"server RSS: {sampler.start_kib / 1024:.1f} MiB when the measured runs began (after a"
        f" 1 MiB warm-up round); peak under load {peak:.1f} MiB = {peak * MIB / 1e6:.1f} MB"
        f" (sampled every 10 ms: {sampled:.1f} MiB"
        + (f", kernel VmHWM: {kernel:.1f} MiB)" if sampler.hwm_reset else ")")
    )
    print(
        f"  (start-up high-water mark, before the reset: {startup_hwm_kib / 1024:.1f} MiB, from"
        " the identity module's 64 MiB argon2id dummy hash computed once at start-up)"
    )
    verdict = {
        "round_trip_ratio_ok": art_rt / plain_rt >= 0.5,
        "range_ratio_ok": last_ms / first_ms <= 2.0,
        "peak_rss_below_150_MiB": peak < 150,
        "peak_rss_below_150_MB": peak * MIB < 150e6,
    }
    print(json.dumps(verdict))


if __name__ == "__main__":
    main()
