"""Who may do what: every route of the API against every kind of caller.

Rows are routes; columns are personas (role x membership state x MFA). The expected status
is what the policy says: anonymous 401, hidden objects 404, forbidden actions 403, allowed 2xx
(or the business answer an allowed caller gets). A final test fails when a route is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.main import API_PREFIX, create_app
from tests.helpers import Persona, World, application_body

PERSONAS = [
    "anonymous",
    "unverified",
    "applicant",
    "member",
    "suspended",
    "revoked",
    "expired",
    "moderator",
    "auditor",
    "admin_no_mfa",
    "admin",
]
AUTHENTICATED = PERSONAS[1:]


@dataclass
class Scene:
    """The caller plus the objects a route acts on, all owned by someone else."""

    caller: Persona | None
    other_application: uuid.UUID
    target_member: uuid.UUID
    suspended_member: uuid.UUID
    target_user: uuid.UUID
    other_token: uuid.UUID
    alert: uuid.UUID
    values: dict[str, Any] = field(default_factory=dict)


async def build_persona(world: World, name: str) -> Persona | None:
    if name == "anonymous":
        return None
    if name == "unverified":
        return await world.user("unverified", verified=False)
    if name == "applicant":
        return await world.applicant()
    if name in {"member", "suspended", "revoked"}:
        status = "active" if name == "member" else name
        return await world.member(name, status=status)
    if name == "expired":
        return await world.member("expired", expires_in=timedelta(days=-1))
    if name in {"moderator", "auditor"}:
        return await world.user(name, roles=(name,))
    if name == "admin_no_mfa":
        return await world.user("admin", roles=("admin",), mfa=False)
    return await world.admin()


async def build_scene(world: World, persona: str) -> Scene:
    other = await world.applicant()
    target = await world.member("target")
    suspended = await world.member("held", status="suspended")
    target_user = await world.user("moderated", roles=("moderator",))
    token = await world.client.post(
        "/me/tokens",
        json={"name": "theirs", "scopes": ["read"], "expires_in_days": 1},
        headers=target_user.headers,
    )
    await world.country("JP", status="certified", tier="general")
    await world.country("KR", status="suspended", tier="restricted")
    alert = await world.screening_alert(target.user_id)
    caller = await build_persona(world, persona)
    assert other.application_id is not None
    return Scene(
        caller,
        other.application_id,
        target.user_id,
        suspended.user_id,
        target_user.user_id,
        uuid.UUID(token.json()["id"]),
        alert,
    )


Body = Callable[[Scene], Any]
REASON: Body = lambda s: {"reason": "policy test"}  # noqa: E731
NONE: Body = lambda s: None  # noqa: E731


def _future() -> str:
    return (datetime.now(UTC) + timedelta(days=90)).isoformat()


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: dict[str, int]
    body: Body = NONE
    fill: Callable[[Scene], dict[str, Any]] = lambda s: {}
    files: Callable[[Scene], dict[str, Any]] | None = None


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PERSONAS, status)


def signed_in(status: int, **overrides: int) -> dict[str, int]:
    return {"anonymous": 401, **dict.fromkeys(AUTHENTICATED, status), **overrides}


def admins_only(status: int) -> dict[str, int]:
    table = signed_in(403)
    table["admin"] = status
    return table


def audit_readers(status: int) -> dict[str, int]:
    return signed_in(403, auditor=status, admin_no_mfa=status, admin=status)


CASES = [
    # Public routes: the caller's token neither helps nor hurts.
    Case(
        "POST",
        "/auth/register",
        everyone(201),
        body=lambda s: {
            "email": f"new-{uuid.uuid4().hex[:8]}@example.org",
            "password": "correct horse battery staple",
            "display_name": "New",
        },
    ),
    Case("POST", "/auth/verify-email", everyone(422), body=lambda s: {"token": "ev_bogus"}),
    Case(
        "POST",
        "/auth/verify-email/resend",
        everyone(202),
        body=lambda s: {"email": "nobody@example.org"},
    ),
    Case(
        "POST",
        "/auth/login",
        everyone(401),
        body=lambda s: {"email": "nobody@example.org", "password": "x" * 20},
    ),
    Case("POST", "/auth/refresh", everyone(401), body=lambda s: {"refresh_token": "rt_bogus"}),
    # OIDC: no provider is configured in this table, so every caller meets the same 404.
    Case("GET", "/auth/oidc/{provider}/authorize", everyone(404), fill=lambda s: {"provider": "x"}),
    Case("GET", "/auth/oidc/{provider}/callback?state=s&code=c", everyone(404),
         fill=lambda s: {"provider": "x"}),
    Case("POST", "/auth/oidc/exchange", everyone(401), body=lambda s: {"code": "oc_bogus"}),
    # Any signed-in identity, whatever its membership.
    Case("POST", "/auth/logout", signed_in(204)),
    Case("GET", "/me", signed_in(200)),
    Case("POST", "/me/mfa/totp", signed_in(200, admin=409)),
    Case(
        "POST", "/me/mfa/totp/confirm", signed_in(409, admin=409), body=lambda s: {"code": "123456"}
    ),
    Case(
        "POST",
        "/me/tokens",
        signed_in(201),
        body=lambda s: {"name": "script", "scopes": ["read"], "expires_in_days": 7},
    ),
    Case("GET", "/me/tokens", signed_in(200)),
    # Someone else's token is as invisible as a missing one.
    Case(
        "DELETE",
        "/me/tokens/{token_id}",
        signed_in(404),
        fill=lambda s: {"token_id": s.other_token},
    ),
    Case("GET", "/countries", signed_in(200)),
    Case("GET", "/countries/{code}", signed_in(200), fill=lambda s: {"code": "DE"}),
    # Vetting.
    Case(
        "POST",
        "/applications",
        signed_in(201, unverified=403, applicant=409, member=409, suspended=409, revoked=409),
        body=lambda s: application_body(),
    ),
    Case("GET", "/applications", signed_in(200)),
    Case(
        "GET",
        "/applications/{application_id}",
        signed_in(404, admin=200),
        fill=lambda s: {"application_id": s.other_application},
    ),
    Case("GET", "/admin/applications", admins_only(200)),
    Case(
        "GET",
        "/admin/applications/{application_id}",
        admins_only(200),
        fill=lambda s: {"application_id": s.other_application},
    ),
    Case(
        "POST",
        "/admin/applications/{application_id}/decision",
        admins_only(200),
        body=lambda s: {"decision": "approve", "reason": "vetted"},
        fill=lambda s: {"application_id": s.other_application},
    ),
    Case("GET", "/admin/members", admins_only(200)),
    Case(
        "POST",
        "/admin/members/{user_id}/suspend",
        admins_only(200),
        body=REASON,
        fill=lambda s: {"user_id": s.target_member},
    ),
    Case(
        "POST",
        "/admin/members/{user_id}/reinstate",
        admins_only(200),
        body=REASON,
        fill=lambda s: {"user_id": s.suspended_member},
    ),
    Case(
        "POST",
        "/admin/members/{user_id}/revoke",
        admins_only(200),
        body=REASON,
        fill=lambda s: {"user_id": s.target_member},
    ),
    Case(
        "POST",
        "/admin/users/{user_id}/roles",
        admins_only(200),
        body=lambda s: {"role": "auditor"},
        fill=lambda s: {"user_id": s.target_user},
    ),
    Case(
        "DELETE",
        "/admin/users/{user_id}/roles/{role}",
        admins_only(200),
        fill=lambda s: {"user_id": s.target_user, "role": "moderator"},
    ),
    # Countries.
    Case(
        "PUT",
        "/admin/countries/{code}/certification",
        admins_only(200),
        body=lambda s: {
            "tier": "general",
            "standards_version": "DURC-1",
            "expires_at": _future(),
            "evidence": "assessment",
        },
        fill=lambda s: {"code": "DE"},
    ),
    Case(
        "POST",
        "/admin/countries/{code}/suspend",
        admins_only(200),
        body=REASON,
        fill=lambda s: {"code": "JP"},
    ),
    Case(
        "POST",
        "/admin/countries/{code}/reinstate",
        admins_only(200),
        body=REASON,
        fill=lambda s: {"code": "KR"},
    ),
    Case(
        "POST",
        "/admin/countries/{code}/revoke",
        admins_only(200),
        body=REASON,
        fill=lambda s: {"code": "JP"},
    ),
    Case(
        "POST",
        "/admin/countries/{code}/embargo",
        admins_only(200),
        body=REASON,
        fill=lambda s: {"code": "BR"},
    ),
    # Denied-party screening: admins only; nobody else learns anything about it.
    Case("POST", "/admin/screening/lists", admins_only(201),
         files=lambda s: {"file": ("csl.csv", b"_id,source,name\nx-1,SDN,Some Listed Name\n")}),
    Case("GET", "/admin/screening/lists", admins_only(200)),
    Case("POST", "/admin/screening/check", admins_only(200), body=lambda s: {"name": "Ivan"}),
    Case("GET", "/admin/screening/alerts", admins_only(200)),
    Case("POST", "/admin/screening/alerts/{alert_id}/resolve", admins_only(200),
         body=lambda s: {"disposition": "false_positive", "reason": "namesake"},
         fill=lambda s: {"alert_id": s.alert}),
    # Audit.
    Case("GET", "/audit/events", audit_readers(200)),
    Case("GET", "/audit/verify", audit_readers(200)),
    Case("GET", "/audit/checkpoints", audit_readers(200)),
    Case("POST", "/admin/audit/checkpoints", admins_only(201)),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_route_permissions(world: World, case: Case, persona: str) -> None:
    scene = await build_scene(world, persona)
    path = case.path.format(**case.fill(scene))
    headers = scene.caller.headers if scene.caller else {}
    body = case.body(scene)
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    if case.files is not None:
        kwargs["files"] = case.files(scene)
    response = await world.client.request(case.method, path, **kwargs)
    expected = case.expected[persona]
    assert response.status_code == expected, (persona, case.method, path, response.text)
    if expected >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"]
    if persona == "admin_no_mfa" and case.expected["admin"] < 400 and expected == 403:
        assert response.json()["code"] == "mfa_required"


def test_every_route_is_in_the_table() -> None:
    # The OpenAPI document lists every API route the app serves (none is hidden from it).
    routes = {
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, operations in create_app().openapi()["paths"].items()
        if path.startswith(API_PREFIX)
        for method in operations
    }
    table = {(case.method, case.path.split("?")[0]) for case in CASES}
    assert routes - table == set(), "add these routes to the authorization table"
    assert table - routes == set(), "these table rows name routes that do not exist"
