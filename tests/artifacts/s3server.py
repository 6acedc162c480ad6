"""Run moto's S3 server as a child process on a free loopback port, for storage tests.

A real HTTP server (rather than moto's in-process mock) exercises what production does:
boto3 in worker threads, real sockets, ranged GETs and multipart uploads over the wire.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0

# moto accepts any credentials; fixed dummy ones keep boto3 from searching the machine's
# real credential chain (and from ever sending real keys to the fake server).
CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",  # noqa: S105 - dummy value for the fake server
    "region_name": "us-east-1",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited early:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=1):  # noqa: S310 - loopback
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer within {STARTUP_TIMEOUT}s")


@contextlib.contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """Yield the endpoint URL of a fresh moto server; stop it on exit.

    The port is picked by binding to port 0 and releasing it; if another process grabs
    it in between, the server fails to start and we try again with a new port.
    """
    log = log_dir / "moto_server.log"
    last_error: Exception | None = None
    for _ in range(3):
        port = _free_port()
        url = f"http://{HOST}:{port}"
        with log.open("wb") as log_file:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_up(url, process, log)
        except RuntimeError as exc:
            last_error = exc
            _stop(process)
            continue
        try:
            yield url
        finally:
            _stop(process)
        return
    raise RuntimeError(f"could not start moto_server: {last_error}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
