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
from tests.artifacts_support import artifact_scene
from tests.discussion_support import discussion_scene
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
    discussion = await discussion_scene(world, target, other)
    discussion.update(await artifact_scene(world, target, discussion["slug"]))
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
        discussion,
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
    params: Callable[[Scene], dict[str, Any]] | None = None


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


def reachers(status: int, **overrides: int) -> dict[str, int]:
    """Discussion content in the scene's general topic: only the US member reaches it; every
    other persona has no tier (no active membership), so the topic and every id in it are 404.
    Roles never widen reach, so the moderator and admins get 404 too."""
    return signed_in(404, member=status, **overrides)


def moderation() -> dict[str, int]:
    """Moderation: the role first (403 without it), then reach: this table's moderator and
    admins have no membership, so the scene's posts are out of their reach (404)."""
    return signed_in(403, moderator=404, admin_no_mfa=404, admin=404)


def _scene(*keys: str) -> Callable[[Scene], dict[str, Any]]:
    return lambda s: {key: s.values[key] for key in keys}


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
    Case(
        "GET",
        "/auth/oidc/{provider}/callback?state=s&code=c",
        everyone(404),
        fill=lambda s: {"provider": "x"},
    ),
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
    # Discussion (see `reachers` and `moderation`).
    Case("GET", "/topics", signed_in(200)),
    Case("GET", "/topics/{slug}", reachers(200), fill=_scene("slug")),
    Case(
        "POST",
        "/admin/topics",
        admins_only(201),
        body=lambda s: {
            "slug": f"new-{uuid.uuid4().hex[:8]}",
            "title": "New topic",
            "description": "For the table.",
            "tier": "restricted",
        },
    ),
    Case("GET", "/admin/topics", admins_only(200)),
    Case(
        "PATCH",
        "/admin/topics/{slug}",
        admins_only(200),
        body=lambda s: {"tier": "restricted", "reason": "policy test"},
        fill=_scene("slug"),
    ),
    Case("PUT", "/topics/{slug}/watch", reachers(204), fill=_scene("slug")),
    Case("DELETE", "/topics/{slug}/watch", reachers(204), fill=_scene("slug")),
    Case("GET", "/topics/{slug}/threads", reachers(200), fill=_scene("slug")),
    Case(
        "POST",
        "/topics/{slug}/threads",
        reachers(201),
        body=lambda s: {"title": "New thread", "body": "Body."},
        fill=_scene("slug"),
    ),
    Case("GET", "/threads/{thread_id}", reachers(200), fill=_scene("thread_id")),
    Case("GET", "/threads/{thread_id}/posts", reachers(200), fill=_scene("thread_id")),
    Case(
        "POST",
        "/threads/{thread_id}/posts",
        reachers(201),
        body=lambda s: {"body": "A reply."},
        fill=_scene("thread_id"),
    ),
    Case("PUT", "/threads/{thread_id}/watch", reachers(204), fill=_scene("thread_id")),
    Case("DELETE", "/threads/{thread_id}/watch", reachers(204), fill=_scene("thread_id")),
    Case("GET", "/posts/{post_id}", reachers(200), fill=_scene("post_id")),
    # Someone else's post: visible to the member, but only its author edits or deletes it.
    Case(
        "PATCH",
        "/posts/{post_id}",
        reachers(403),
        body=lambda s: {"body": "Edited."},
        fill=_scene("post_id"),
    ),
    Case("DELETE", "/posts/{post_id}", reachers(403), fill=_scene("post_id")),
    Case("GET", "/posts/{post_id}/revisions", reachers(200), fill=_scene("post_id")),
    Case("POST", "/posts/{post_id}/flags", reachers(201), body=REASON, fill=_scene("post_id")),
    Case("GET", "/search", signed_in(200), params=lambda s: {"q": "scene words"}),
    Case("GET", "/mod/flags", signed_in(403, moderator=200, admin_no_mfa=200, admin=200)),
    Case(
        "POST",
        "/mod/flags/{flag_id}/dismiss",
        moderation(),
        body=REASON,
        fill=_scene("flag_id"),
    ),
    Case("POST", "/mod/posts/{post_id}/hide", moderation(), body=REASON, fill=_scene("post_id")),
    Case("POST", "/mod/posts/{post_id}/unhide", moderation(), body=REASON, fill=_scene("post_id")),
    Case("POST", "/mod/threads/{thread_id}/lock", moderation(), fill=_scene("thread_id")),
    Case("POST", "/mod/threads/{thread_id}/unlock", moderation(), fill=_scene("thread_id")),
    Case(
        "POST",
        "/mod/threads/{thread_id}/quarantine",
        moderation(),
        body=REASON,
        fill=_scene("thread_id"),
    ),
    Case(
        "POST",
        "/mod/threads/{thread_id}/release",
        moderation(),
        body=REASON,
        fill=_scene("thread_id"),
    ),
    Case("GET", "/me/notifications", signed_in(200)),
    # Someone else's notification is as missing as a made-up one.
    Case(
        "POST",
        "/me/notifications/{notification_id}/read",
        signed_in(404),
        fill=_scene("notification_id"),
    ),
    Case("POST", "/me/notifications/read-all", signed_in(204)),
    Case("GET", "/me/watches", signed_in(200)),
    Case("GET", "/me/discussion-profile", signed_in(200)),
    Case("PATCH", "/me/discussion-profile", signed_in(200), body=lambda s: {"email_digest": True}),
    # Artifacts, in the scene's general topic, uploaded by the target member (see `reachers`).
    Case(
        "POST",
        "/topics/{slug}/artifacts",
        reachers(201),
        fill=_scene("slug"),
        files=lambda s: {
            "metadata": (None, '{"title": "Table artifact"}', "application/json"),
            "file": ("table.bin", b"table bytes"),
        },
    ),
    Case("GET", "/topics/{slug}/artifacts", reachers(200), fill=_scene("slug")),
    Case("GET", "/artifacts/{artifact_id}", reachers(200), fill=_scene("artifact_id")),
    Case("GET", "/artifacts/{artifact_id}/versions", reachers(200), fill=_scene("artifact_id")),
    # Only the uploader adds versions.
    Case(
        "POST",
        "/artifacts/{artifact_id}/versions",
        reachers(403),
        fill=_scene("artifact_id"),
        files=lambda s: {"file": ("v2.bin", b"second version")},
    ),
    Case("GET", "/artifacts/{artifact_id}/content", reachers(200), fill=_scene("artifact_id")),
    Case("HEAD", "/artifacts/{artifact_id}/content", reachers(200), fill=_scene("artifact_id")),
    Case(
        "GET",
        "/artifacts/{artifact_id}/versions/{number}/provenance",
        reachers(200),
        fill=_scene("artifact_id", "number"),
    ),
    # Export records: admins and auditors, and the uploader (not this member).
    Case(
        "GET",
        "/artifacts/{artifact_id}/downloads",
        signed_in(404, member=403, auditor=200, admin_no_mfa=200, admin=200),
        fill=_scene("artifact_id"),
    ),
    # Review needs the role and TOTP, then reach: this table's admin has no membership.
    Case(
        "POST",
        "/admin/artifacts/{artifact_id}/review",
        admins_only(404),
        body=lambda s: {"decision": "release", "reason": "policy test"},
        fill=_scene("artifact_id"),
    ),
    Case("GET", "/admin/artifacts", admins_only(200)),
    Case("GET", "/admin/exports/downloads", admins_only(200)),
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
    if case.params is not None:
        kwargs["params"] = case.params(scene)
    response = await world.client.request(case.method, path, **kwargs)
    expected = case.expected[persona]
    assert response.status_code == expected, (persona, case.method, path, response.text)
    if expected >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        # A HEAD answer has the headers of the problem document but never its body.
        assert case.method == "HEAD" or response.json()["code"]
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
