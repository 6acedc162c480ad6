"""Accounts and sessions: registration, verification, login, refresh, TOTP, tokens."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests.helpers import DEFAULT_PASSWORD, World, totp_now


async def test_register_verify_login_me(world: World) -> None:
    client = world.client
    r = await client.post(
        "/auth/register",
        json={
            "email": "Alice@Uni.edu",
            "password": "correct horse battery staple",
            "display_name": "Alice",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "alice@uni.edu"
    token = world.last_token_mailed_to("alice@uni.edu")
    assert (await client.post("/auth/verify-email", json={"token": token})).status_code == 200
    # A verification token works once.
    again = await client.post("/auth/verify-email", json={"token": token})
    assert again.status_code == 422 and again.json()["code"] == "invalid_token"
    login = await world.login("alice@uni.edu", "correct horse battery staple")
    assert login.status_code == 200
    body = login.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = await client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    data = me.json()
    assert data["email_verified"] is True
    assert data["membership"] is None and data["effective_tier"] is None
    assert data["roles"] == [] and data["mfa_enabled"] is False


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "passwordpassword",  # long enough, but common
        "aaaaaaaaaaaaaaaaaaaa",
        "alice@uni.edu alice",  # built from the user's own e-mail
        "x" * 129,
    ],
)
async def test_weak_passwords_are_refused(world: World, password: str) -> None:
    r = await world.client.post(
        "/auth/register",
        json={"email": "alice@uni.edu", "password": password, "display_name": "Alice"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "weak_password"


async def test_long_unicode_password_is_not_truncated(world: World) -> None:
    password = "ünïcödé pässphrase " + "ж" * 100  # 119 characters
    r = await world.client.post(
        "/auth/register", json={"email": "u@uni.edu", "password": password, "display_name": "U"}
    )
    assert r.status_code == 201, r.text
    assert (await world.login("u@uni.edu", password)).status_code == 200
    assert (await world.login("u@uni.edu", password[:-1])).status_code == 401


async def test_taken_email_conflicts(world: World) -> None:
    persona = await world.user()
    r = await world.client.post(
        "/auth/register",
        json={
            "email": persona.email.upper(),
            "password": "correct horse battery staple",
            "display_name": "Dup",
        },
    )
    assert r.status_code == 409 and r.json()["code"] == "email_taken"


async def test_login_failure_is_identical_for_unknown_email(world: World) -> None:
    persona = await world.user()
    wrong = await world.login(persona.email, "not the right passphrase at all")
    unknown = await world.login("nobody@example.org", "not the right passphrase at all")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert wrong.json()["code"] == "invalid_credentials"


async def test_failed_logins_are_throttled_per_account(world: World) -> None:
    persona = await world.user()
    for _ in range(5):
        assert (await world.login(persona.email, "wrong wrong wrong wrong")).status_code == 401
    blocked = await world.login(persona.email, DEFAULT_PASSWORD)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"
    assert int(blocked.headers["Retry-After"]) > 0


async def test_failed_logins_are_audited(world: World) -> None:
    persona = await world.user()
    await world.login(persona.email, "wrong wrong wrong wrong")
    admin = await world.admin()
    events = await world.client.get(
        "/audit/events", params={"action": "auth.login_failed"}, headers=admin.headers
    )
    items = events.json()["items"]
    assert len(items) == 1
    assert items[0]["actor_id"] == str(persona.user_id)
    assert items[0]["client_address"] == "203.0.113.7"
    assert "wrong" not in str(items[0])  # never the password


async def test_refresh_rotates_and_reuse_revokes_family(world: World) -> None:
    persona = await world.user()
    tokens = (await world.login(persona.email)).json()
    first = await world.client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    reuse = await world.client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert reuse.status_code == 401 and reuse.json()["code"] == "token_reused"
    # The whole family is gone: the newest refresh token and access token no longer work.
    newest = await world.client.post(
        "/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert newest.status_code == 401
    me = await world.client.get(
        "/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 401


async def test_logout_ends_the_session(world: World) -> None:
    persona = await world.user()
    tokens = (await world.login(persona.email)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await world.client.post("/auth/logout", headers=headers)).status_code == 204
    assert (await world.client.get("/me", headers=headers)).status_code == 401
    r = await world.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


async def test_totp_enrolment_and_single_use_codes(world: World) -> None:
    persona = await world.user()
    enrol = await world.client.post("/me/mfa/totp", headers=persona.headers)
    assert enrol.status_code == 200
    secret = enrol.json()["secret"]
    assert enrol.json()["otpauth_uri"].startswith("otpauth://totp/")
    bad = await world.client.post(
        "/me/mfa/totp/confirm", json={"code": "000000"}, headers=persona.headers
    )
    assert bad.status_code == 422
    code = totp_now(secret)
    ok = await world.client.post(
        "/me/mfa/totp/confirm", json={"code": code}, headers=persona.headers
    )
    assert ok.status_code == 200
    assert (await world.client.get("/me", headers=persona.headers)).json()["mfa_enabled"] is True
    # Password alone is no longer enough, and the code used to confirm cannot be replayed.
    missing = await world.login(persona.email)
    assert missing.status_code == 401 and missing.json()["code"] == "mfa_required"
    replay = await world.login(persona.email, totp_code=code)
    assert replay.status_code == 401 and replay.json()["code"] == "mfa_required"
    next_code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: still in the window
    fresh = await world.login(persona.email, totp_code=next_code)
    assert fresh.status_code == 200


async def test_personal_access_tokens(world: World) -> None:
    persona = await world.user()
    created = await world.client.post(
        "/me/tokens",
        json={"name": "ci", "scopes": ["read"], "expires_in_days": 30},
        headers=persona.headers,
    )
    assert created.status_code == 201
    token = created.json()["token"]
    pat = {"Authorization": f"Bearer {token}"}
    assert (await world.client.get("/me", headers=pat)).status_code == 200
    listed = await world.client.get("/me/tokens", headers=persona.headers)
    assert [t["name"] for t in listed.json()] == ["ci"]
    assert "token" not in listed.json()[0]
    # A read-only token cannot write.
    write = await world.client.post(
        "/me/tokens", json={"name": "x", "scopes": ["read"], "expires_in_days": 1}, headers=pat
    )
    assert write.status_code == 403 and write.json()["code"] == "insufficient_scope"
    token_id = created.json()["id"]
    assert (
        await world.client.delete(f"/me/tokens/{token_id}", headers=persona.headers)
    ).status_code == 204
    assert (await world.client.get("/me", headers=pat)).status_code == 401


async def test_admin_with_personal_token_never_passes_mfa(world: World) -> None:
    admin = await world.admin()
    created = await world.client.post(
        "/me/tokens",
        json={"name": "s", "scopes": ["read", "write"], "expires_in_days": 1},
        headers=admin.headers,
    )
    pat = {"Authorization": f"Bearer {created.json()['token']}"}
    r = await world.client.get("/admin/members", headers=pat)
    assert r.status_code == 403 and r.json()["code"] == "mfa_required"


async def test_unknown_fields_are_refused(world: World) -> None:
    r = await world.client.post(
        "/auth/register",
        json={
            "email": "e@uni.edu",
            "password": "correct horse battery staple",
            "display_name": "E",
            "roles": ["admin"],
        },
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "roles"]


async def test_bad_tokens_get_401_problem(world: World) -> None:
    for header in ("Bearer nonsense", "Bearer a.b.c", "Bearer dxp_unknown", "Basic Zm9vOmJhcg=="):
        r = await world.client.get("/me", headers={"Authorization": header})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"


async def test_failed_logins_are_throttled_per_address(world: World) -> None:
    """Spraying many accounts from one address hits the per-address limit."""
    for i in range(30):
        r = await world.login(f"nobody-{i}@example.org", "wrong wrong wrong wrong")
        assert r.status_code == 401
    blocked = await world.login("someone-else@example.org", "wrong wrong wrong wrong")
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"


async def test_metrics_and_health(world: World) -> None:
    await world.client.get("/me")
    metrics = await world.client.get("http://testserver/metrics")
    assert metrics.status_code == 200
    assert 'route="/api/v1/me"' in metrics.text
    assert (await world.client.get("http://testserver/healthz")).json() == {"status": "ok"}
    ready = await world.client.get("http://testserver/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_cli_create_admin(world: World) -> None:
    import subprocess
    import sys

    env = {
        "EXCHANGE_DATABASE_URL": world.runtime.settings.database_url,
        "EXCHANGE_MASTER_KEY": world.runtime.settings.master_key or "",
        "PATH": "/usr/bin:/bin",
    }
    args = [sys.executable, "-m", "app.cli", "create-admin", "--email", "ops@example.org"]
    weak = subprocess.run(
        [*args, "--password", "short"], capture_output=True, text=True, env=env, check=False
    )
    assert weak.returncode == 2
    done = subprocess.run(
        [*args, "--password", "an operator passphrase of some length"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    login = await world.login("ops@example.org", "an operator passphrase of some length")
    assert login.status_code == 200
    me = await world.client.get(
        "/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["roles"] == ["admin"]
