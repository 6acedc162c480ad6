"""Vetting: applications, two-person decisions, the membership lifecycle and roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.membership import service as membership_service
from app.models import Application, Membership
from app.models.base import utcnow
from tests.helpers import World, application_body


async def _decide(
    world: World,
    admin_headers: dict[str, str],
    application_id: object,
    decision: str = "approve",
    reason: str = "vetted",
) -> object:
    return await world.client.post(
        f"/admin/applications/{application_id}/decision",
        json={"decision": decision, "reason": reason},
        headers=admin_headers,
    )


async def test_us_researcher_is_approved_to_us_only(world: World) -> None:
    admin = await world.admin()
    applicant = await world.applicant()
    mine = await world.client.get(
        f"/applications/{applicant.application_id}", headers=applicant.headers
    )
    assert mine.status_code == 200
    assert mine.json()["status"] == "under_review"
    assert "screening" not in mine.json()  # applicants never see screening details
    listed = await world.client.get(
        "/admin/applications", params={"status": "under_review"}, headers=admin.headers
    )
    item = listed.json()["items"][0]
    assert item["screening"]["result"] == "clear"
    assert "no denied-party list" in item["screening"]["note"]
    assert item["approvals"] == 0 and item["approvals_required"] == 1
    decided = await _decide(world, admin.headers, applicant.application_id)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    me = (await world.client.get("/me", headers=applicant.headers)).json()
    assert me["membership"]["status"] == "active"
    assert me["effective_tier"] == "us_only"
    assert any("Welcome" in m for m in world.mails())


async def test_application_requires_verified_email(world: World) -> None:
    persona = await world.user(verified=False)
    r = await world.client.post("/applications", json=application_body(), headers=persona.headers)
    assert r.status_code == 403 and r.json()["code"] == "email_unverified"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"citizenships": ["ZZ"]}, "citizenships"),
        ({"citizenships": []}, "citizenships"),
        ({"citizenships": ["US", "US"]}, "citizenships"),
        ({"residence_country": "USA"}, "residence_country"),
        ({"orcid": "0000-0002-1825-0098"}, "orcid"),
        ({"orcid": "not-an-orcid"}, "orcid"),
        ({"attestation": False}, "attestation"),
        ({"attestation": "true"}, "attestation"),
        ({"legal_name": "x" * 301}, "legal_name"),
        ({"legal_name": "Bad\u0000Name"}, "body"),
        ({"research_statement": "too short"}, "research_statement"),
        ({"federal_award_ids": ["A"] * 21}, "federal_award_ids"),
        ({"affiliation": {"name": "Lab", "country": "US", "extra": 1}}, "affiliation"),
        ({"status": "approved"}, "status"),
    ],
)
async def test_invalid_applications_are_refused_and_store_nothing(
    world: World, override: dict[str, object], field: str
) -> None:
    persona = await world.user()
    r = await world.client.post(
        "/applications", json=application_body(**override), headers=persona.headers
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert any(field in ".".join(e["loc"]) for e in r.json()["errors"])
    mine = await world.client.get("/applications", headers=persona.headers)
    assert mine.json() == []


async def test_malformed_json_is_a_problem_document(world: World) -> None:
    persona = await world.user()
    r = await world.client.post(
        "/applications",
        content=b'{"legal_name": ',
        headers={**persona.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "malformed_json"


async def test_one_open_application_at_a_time(world: World) -> None:
    applicant = await world.applicant()
    again = await world.client.post(
        "/applications", json=application_body(), headers=applicant.headers
    )
    assert again.status_code == 409 and again.json()["code"] == "application_pending"


async def test_nobody_decides_their_own_application(world: World) -> None:
    admin = await world.admin()
    r = await world.client.post("/applications", json=application_body(), headers=admin.headers)
    own = await _decide(world, admin.headers, r.json()["id"])
    assert own.status_code == 403 and own.json()["code"] == "forbidden"
    # The refusal itself is on the record.
    events = await world.client.get(
        "/audit/events", params={"action": "access.denied"}, headers=admin.headers
    )
    assert len(events.json()["items"]) == 1


async def test_potential_match_needs_two_distinct_admins(world: World) -> None:
    first, second = await world.admin(), await world.admin()
    applicant = await world.applicant()
    async with world.runtime.db.session() as session:
        await session.execute(
            update(Application)
            .where(Application.id == applicant.application_id)
            .values(
                screening_result="potential_match",
                screening_matches=[{"entry_id": "e1", "name": "X", "source": "SDN", "score": 91.0}],
            )
        )
    one = await _decide(world, first.headers, applicant.application_id)
    assert one.status_code == 200
    assert one.json()["status"] == "under_review" and one.json()["approvals"] == 1
    assert one.json()["approvals_required"] == 2
    twice = await _decide(world, first.headers, applicant.application_id)
    assert twice.status_code == 409 and twice.json()["code"] == "duplicate_approval"
    me = (await world.client.get("/me", headers=applicant.headers)).json()
    assert me["membership"] is None
    two = await _decide(world, second.headers, applicant.application_id)
    assert two.json()["status"] == "approved" and two.json()["approvals"] == 2


async def test_rejection_and_cooldown(world: World) -> None:
    admin = await world.admin()
    applicant = await world.applicant()
    rejected = await _decide(
        world, admin.headers, applicant.application_id, "reject", "not eligible"
    )
    assert rejected.json()["status"] == "rejected"
    again = await world.client.post(
        "/applications", json=application_body(), headers=applicant.headers
    )
    assert again.status_code == 409 and again.json()["code"] == "reapply_cooldown"
    decided_again = await _decide(world, admin.headers, applicant.application_id)
    assert decided_again.status_code == 409 and decided_again.json()["code"] == "already_decided"
    async with world.runtime.db.session() as session:
        await session.execute(
            update(Application)
            .where(Application.id == applicant.application_id)
            .values(decided_at=utcnow() - timedelta(days=31))
        )
    later = await world.client.post(
        "/applications", json=application_body(), headers=applicant.headers
    )
    assert later.status_code == 201


async def test_decision_needs_a_reason(world: World) -> None:
    admin = await world.admin()
    applicant = await world.applicant()
    r = await world.client.post(
        f"/admin/applications/{applicant.application_id}/decision",
        json={"decision": "approve"},
        headers=admin.headers,
    )
    assert r.status_code == 422
    blank = await _decide(world, admin.headers, applicant.application_id, reason="   ")
    assert blank.status_code == 422


async def test_suspend_and_revoke_take_effect_on_the_next_request(world: World) -> None:
    admin = await world.admin()
    member = await world.member()
    tokens = (await world.login(member.email)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await world.client.get("/me", headers=headers)).json()["effective_tier"] == "us_only"
    s = await world.client.post(
        f"/admin/members/{member.user_id}/suspend",
        json={"reason": "investigation"},
        headers=admin.headers,
    )
    assert s.status_code == 200 and s.json()["status"] == "suspended"
    me = (await world.client.get("/me", headers=headers)).json()
    assert me["membership"]["status"] == "suspended" and me["effective_tier"] is None
    r = await world.client.post(
        f"/admin/members/{member.user_id}/reinstate",
        json={"reason": "cleared"},
        headers=admin.headers,
    )
    assert r.json()["status"] == "active"
    assert (await world.client.get("/me", headers=headers)).json()["effective_tier"] == "us_only"
    v = await world.client.post(
        f"/admin/members/{member.user_id}/revoke",
        json={"reason": "confirmed violation"},
        headers=admin.headers,
    )
    assert v.json()["status"] == "revoked"
    # Revocation ends every session: the access token and the refresh token are dead.
    assert (await world.client.get("/me", headers=headers)).status_code == 401
    refreshed = await world.client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    final = await world.client.post(
        f"/admin/members/{member.user_id}/reinstate", json={"reason": "try"}, headers=admin.headers
    )
    assert final.status_code == 409 and final.json()["code"] == "invalid_transition"
    reapply = await world.client.post(
        "/applications",
        json=application_body(),
        headers={
            "Authorization": f"Bearer {(await world.login(member.email)).json()['access_token']}"
        },
    )
    assert reapply.status_code == 409 and reapply.json()["code"] == "membership_revoked"


async def test_expiry_is_enforced_by_the_clock(world: World) -> None:
    member = await world.member(expires_in=timedelta(seconds=-1))
    me = (await world.client.get("/me", headers=member.headers)).json()
    assert me["membership"]["status"] == "expired"
    assert me["effective_tier"] is None
    admin = await world.admin()
    listed = await world.client.get(
        "/admin/members", params={"status": "expired"}, headers=admin.headers
    )
    assert [m["user_id"] for m in listed.json()["items"]] == [str(member.user_id)]


async def test_renewal_by_re_vetting(world: World) -> None:
    admin = await world.admin()
    member = await world.member(expires_in=timedelta(days=10))
    r = await world.client.post("/applications", json=application_body(), headers=member.headers)
    assert r.status_code == 201
    await _decide(world, admin.headers, r.json()["id"])
    me = (await world.client.get("/me", headers=member.headers)).json()
    assert me["membership"]["status"] == "active"
    far = await world.member(expires_in=timedelta(days=200))
    early = await world.client.post("/applications", json=application_body(), headers=far.headers)
    assert early.status_code == 409 and early.json()["code"] == "already_member"


async def test_expiry_reminders_are_sent_once(world: World) -> None:
    await world.member(expires_in=timedelta(days=5))
    await world.member(expires_in=timedelta(days=300))
    async with world.runtime.db.session() as session:
        assert await membership_service.send_expiry_reminders(session, world.runtime) == 1
    async with world.runtime.db.session() as session:
        assert await membership_service.send_expiry_reminders(session, world.runtime) == 0
    assert sum("expires soon" in m for m in world.mails()) == 1


async def test_roles_and_the_last_admin(world: World) -> None:
    admin = await world.admin()
    user = await world.user()
    granted = await world.client.post(
        f"/admin/users/{user.user_id}/roles", json={"role": "moderator"}, headers=admin.headers
    )
    assert granted.status_code == 200 and granted.json()["roles"] == ["moderator"]
    bad = await world.client.post(
        f"/admin/users/{user.user_id}/roles", json={"role": "superuser"}, headers=admin.headers
    )
    assert bad.status_code == 422
    last = await world.client.delete(
        f"/admin/users/{admin.user_id}/roles/admin", headers=admin.headers
    )
    assert last.status_code == 409 and last.json()["code"] == "last_admin"
    await world.client.post(
        f"/admin/users/{user.user_id}/roles", json={"role": "admin"}, headers=admin.headers
    )
    removed = await world.client.delete(
        f"/admin/users/{admin.user_id}/roles/admin", headers=admin.headers
    )
    assert removed.status_code == 200 and removed.json()["roles"] == []
    # Role removal takes effect on the very next request.
    again = await world.client.get("/admin/members", headers=admin.headers)
    assert again.status_code == 403


async def test_admin_cannot_change_own_membership(world: World) -> None:
    admin = await world.member("adminmember", roles=("admin",), mfa=True)
    r = await world.client.post(
        f"/admin/members/{admin.user_id}/suspend", json={"reason": "self"}, headers=admin.headers
    )
    assert r.status_code == 403


async def test_member_list_paginates_with_cursor(world: World) -> None:
    admin = await world.admin()
    members = [await world.member() for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await world.client.get("/admin/members", params=params, headers=admin.headers)
        ).json()
        seen += [m["user_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(str(m.user_id) for m in members)
    bad = await world.client.get("/admin/members", params={"cursor": "!!"}, headers=admin.headers)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"


async def test_membership_rows_untouched_by_failed_actions(world: World) -> None:
    admin = await world.admin()
    member = await world.member()
    async with world.runtime.db.session() as session:
        before = (await session.get(Membership, (await _membership_id(world, member)))).status
    r = await world.client.post(
        f"/admin/members/{member.user_id}/reinstate",
        json={"reason": "not suspended"},
        headers=admin.headers,
    )
    assert r.status_code == 409
    async with world.runtime.db.session() as session:
        after = (await session.get(Membership, (await _membership_id(world, member)))).status
    assert before == after == "active"


async def _membership_id(world: World, persona: object) -> object:
    from sqlalchemy import select

    async with world.runtime.db.session() as session:
        return await session.scalar(
            select(Membership.id).where(Membership.user_id == persona.user_id)  # type: ignore[attr-defined]
        )


async def test_doctored_naive_cursor_is_refused(world: World) -> None:
    from app.core.pagination import encode_cursor

    admin = await world.admin()
    cursor = encode_cursor(["2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"])
    r = await world.client.get("/admin/members", params={"cursor": cursor}, headers=admin.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_cursor"
