"""The cost of the trust model: the gated thread list against the same page query ungated.

    python bench/discussion_data.py --posts 1000000      # once
    python bench/discussion_trust.py [--posts 1000000] [--rounds 3] [--seconds 10]

Starts one uvicorn worker (uvloop, httptools, no access log) on 127.0.0.1 against the
benchmark database with `EXCHANGE_BENCHMARK_ENDPOINTS=true`, then drives it with wrk
(64 connections, 2 threads), alternating the three endpoints round by round so that they
share the same conditions:

- gated: `GET /api/v1/topics/bench-general/threads?limit=50` with a member's bearer token:
  token check, session revocation check, eligibility (membership and every country), scope,
  and the 50-row page;
- ungated: `GET /api/v1/_bench/topics/bench-general/threads?limit=50`, the same page query
  in the same app and unit of work, no authentication (benchmark-only endpoint);
- bare: `GET /api/v1/_bench/bare`, a constant JSON document (the framework's ceiling).

Reports requests/s, p50 and p99 (medians over the rounds), gated / ungated (target >= 0.75)
and both against bare. The server is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from discussion_common import (
    DEFAULT_SERVER,
    PROBE_TOPIC,
    database_name,
    database_url,
    ensure_member_session,
)

from app.core.security import AccessTokens

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.75


@dataclass
class Result:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise SystemExit(f"unexpected wrk output (no {pattern!r}):\n{text}")
    return found.group(1)


def _millis(text: str) -> float:
    value, unit = _find(r"^([\d.]+)(?:us|ms|s)$", text), _find(r"(us|ms|s)$", text)
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(
    url: str, headers: dict[str, str], seconds: int, connections: int
) -> tuple[float, float, float]:
    # A generous timeout: with one worker and 64 connections a request may queue for a while,
    # which is latency to report, not an error.
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw errors on {url}:\n{output}")
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", output))
    p50 = _millis(_find(r"\n\s+50%\s+(\S+)", output))
    p99 = _millis(_find(r"\n\s+99%\s+(\S+)", output))
    return rps, p50, p99


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    url = database_url(args.server, database_name(args.posts))
    master_key = secrets.token_bytes(32)
    user_id, session_id = asyncio.run(ensure_member_session(url, mfa_passed=False))
    token = AccessTokens(master_key, 4 * 3600).issue(session_id, user_id)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="exchange-bench-")
    env = {
        **os.environ,
        "EXCHANGE_DATABASE_URL": url,
        "EXCHANGE_MASTER_KEY": base64.b64encode(master_key).decode(),
        "EXCHANGE_BENCHMARK_ENDPOINTS": "true",
        "EXCHANGE_AUDIT_CHECKPOINT_MINUTES": "0",
        "EXCHANGE_VAR_DIR": workdir,
        "EXCHANGE_MAIL_DIR": f"{workdir}/mail",
        "EXCHANGE_STORAGE_URL": f"{workdir}/artifacts",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    endpoints = {
        "gated": (
            f"{base}/api/v1/topics/{PROBE_TOPIC}/threads?limit=50",
            {"Authorization": f"Bearer {token}"},
        ),
        "ungated": (f"{base}/api/v1/_bench/topics/{PROBE_TOPIC}/threads?limit=50", {}),
        "bare": (f"{base}/api/v1/_bench/bare", {}),
    }
    results = {name: Result() for name in endpoints}
    try:
        _wait_ready(base, server)
        for target, headers in endpoints.values():  # warm-up, not counted
            _wrk(target, headers, 3, args.connections)
        for round_number in range(args.rounds):
            order = list(endpoints) if round_number % 2 == 0 else list(reversed(endpoints))
            for name in order:
                target, headers = endpoints[name]
                rps, p50, p99 = _wrk(target, headers, args.seconds, args.connections)
                results[name].rps.append(rps)
                results[name].p50.append(p50)
                results[name].p99.append(p99)
                print(
                    f"round {round_number + 1} {name:<8} {rps:8.0f} req/s  p50 {p50:6.2f} ms"
                    f"  p99 {p99:7.2f} ms",
                    flush=True,
                )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    median = {name: statistics.median(r.rps) for name, r in results.items()}
    print(
        f"\n{database_name(args.posts)}, 1 uvicorn worker, wrk -t2 -c{args.connections}, "
        f"{args.rounds} x {args.seconds} s per endpoint (medians)"
    )
    print(f"{'endpoint':<10}{'req/s':>10}{'p50':>10}{'p99':>10}")
    for name, result in results.items():
        print(
            f"{name:<10}{median[name]:>10.0f}{statistics.median(result.p50):>8.2f}ms"
            f"{statistics.median(result.p99):>8.2f}ms"
        )
    ratio = median["gated"] / median["ungated"]
    print(
        f"\ngated / ungated  = {ratio:.2f}  (target >= {TARGET}: "
        f"{'met' if ratio >= TARGET else 'MISSED'})"
    )
    print(f"gated / bare     = {median['gated'] / median['bare']:.2f}")
    print(f"ungated / bare   = {median['ungated'] / median['bare']:.2f}")


if __name__ == "__main__":
    main()
