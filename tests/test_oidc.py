"""OpenID Connect login against a real OpenID Provider (panva's oidc-provider on loopback):
authorization code + PKCE S256, state bound to the browser, nonce and ID-token checks."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.settings import OIDCProvider
from app.identity import oidc
from tests.helpers import World

HERE = Path(__file__).parent / "oidc"
PROVIDER = "idp"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _need(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def provider_url() -> Iterator[str]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        _need("Node.js and npm are needed to run the OpenID Provider")
    if not (HERE / "node_modules" / "oidc-provider").exists():
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            _need(f"npm install oidc-provider failed: {done.stderr[-500:]}")
    port = _free_port()
    callback = f"http://127.0.0.1:8000/api/v1/auth/oidc/{PROVIDER}/callback"
    process = subprocess.Popen(
        ["node", "provider.mjs", str(port), callback],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for _ in range(20):
            line = process.stdout.readline()
            if line.strip() == "ready":
                break
        else:
            _need("the OpenID Provider did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def configured(world: World, provider_url: str) -> Iterator[OIDCProvider]:
    settings = world.runtime.settings
    provider = OIDCProvider(name=PROVIDER, issuer=provider_url, client_id="exchange")
    saved = (settings.oidc_providers, settings.public_url, settings.oidc_return_url)
    settings.oidc_providers = [provider]
    settings.public_url = "http://127.0.0.1:8000"
    yield provider
    settings.oidc_providers, settings.public_url, settings.oidc_return_url = saved
    oidc._discovery_cache.clear()


async def _sign_in_at_provider(authorize_url: str, login: str) -> str:
    """Drive the provider's own login and consent pages; return our callback URL."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=30) as browser:
        response = await browser.get(authorize_url)
        for _ in range(12):
            if response.status_code in (302, 303):
                location = urllib.parse.urljoin(str(response.url), response.headers["location"])
                if "/api/v1/auth/oidc/" in location:
                    return location
                response = await browser.get(location)
                continue
            assert response.status_code == 200, response.text
            action = re.search(r'action="([^"]+)"', response.text)
            assert action
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', response.text))
            if 'name="login"' in response.text:
                fields.update(login=login, password="any")
            response = await browser.post(
                urllib.parse.urljoin(str(response.url), action.group(1)), data=fields
            )
    raise AssertionError("the provider never redirected back")


async def _start(world: World) -> str:
    r = await world.client.get(f"/auth/oidc/{PROVIDER}/authorize")
    assert r.status_code == 302
    location = r.headers["location"]
    query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"] and query["state"] and query["code_challenge"]
    return location


async def test_oidc_login_creates_a_verified_identity(
    world: World, configured: OIDCProvider
) -> None:
    callback = await _sign_in_at_provider(await _start(world), "alice")
    path = callback.split("/api/v1", 1)[1]
    r = await world.client.get(path)
    assert r.status_code == 200, r.text
    me = await world.client.get(
        "/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.json()["email"] == "alice@idp.example.org"
    assert me.json()["email_verified"] is True
    # The same provider account signs in to the same identity next time.
    again = await _sign_in_at_provider(await _start(world), "alice")
    second = await world.client.get(again.split("/api/v1", 1)[1])
    assert second.status_code == 200
    me2 = await world.client.get(
        "/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
    )
    assert me2.json()["id"] == me.json()["id"]


async def test_state_is_bound_to_the_browser(world: World, configured: OIDCProvider) -> None:
    callback = await _sign_in_at_provider(await _start(world), "bob")
    world.client.cookies.clear()
    r = await world.client.get(callback.split("/api/v1", 1)[1])
    assert r.status_code == 401 and r.json()["code"] == "invalid_state"


async def test_tampered_state_and_denied_login(world: World, configured: OIDCProvider) -> None:
    await _start(world)
    bad = await world.client.get(
        f"/auth/oidc/{PROVIDER}/callback", params={"state": "x", "code": "y"}
    )
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_state"
    denied = await world.client.get(
        f"/auth/oidc/{PROVIDER}/callback", params={"state": "x", "error": "access_denied"}
    )
    assert denied.status_code == 401 and denied.json()["code"] == "oidc_denied"
    unknown = await world.client.get("/auth/oidc/nobody/authorize")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_provider"


async def test_existing_password_account_is_not_taken_over(
    world: World, configured: OIDCProvider
) -> None:
    await world.client.post(
        "/auth/register",
        json={
            "email": "carol@idp.example.org",
            "password": "correct horse battery staple",
            "display_name": "Carol",
        },
    )
    callback = await _sign_in_at_provider(await _start(world), "carol")
    r = await world.client.get(callback.split("/api/v1", 1)[1])
    assert r.status_code == 409 and r.json()["code"] == "email_taken"


async def test_return_url_gets_a_one_time_code(world: World, configured: OIDCProvider) -> None:
    world.runtime.settings.oidc_return_url = "https://app.example.org/signed-in"
    callback = await _sign_in_at_provider(await _start(world), "dave")
    r = await world.client.get(callback.split("/api/v1", 1)[1])
    assert r.status_code == 302
    target = r.headers["location"]
    assert target.startswith("https://app.example.org/signed-in?code=")
    code = urllib.parse.parse_qs(urllib.parse.urlparse(target).query)["code"][0]
    tokens = await world.client.post("/auth/oidc/exchange", json={"code": code})
    assert tokens.status_code == 200 and tokens.json()["access_token"]
    replay = await world.client.post("/auth/oidc/exchange", json={"code": code})
    assert replay.status_code == 401
