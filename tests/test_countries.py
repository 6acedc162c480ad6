"""Country eligibility: certification, suspension, embargo, and the member's effective tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.policy import (
    CountryFact,
    CountryStatus,
    MembershipState,
    Relation,
    Tier,
    compute_eligibility,
)
from tests.helpers import World

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def fact(
    code: str,
    relation: Relation,
    status: CountryStatus,
    tier: Tier | None = None,
    expires: datetime | None = None,
) -> CountryFact:
    return CountryFact(code, relation, status, tier, expires or (NOW + timedelta(days=30)))


US_CIT = fact("US", Relation.citizenship, CountryStatus.home)
US_RES = fact("US", Relation.residence, CountryStatus.home)


@pytest.mark.parametrize(
    ("state", "facts", "tier", "limited"),
    [
        (MembershipState.active, [US_CIT, US_RES], Tier.us_only, []),
        (MembershipState.suspended, [US_CIT], None, []),
        (MembershipState.expired, [US_CIT], None, []),
        (None, [US_CIT], None, []),
        (
            MembershipState.active,
            [fact("DE", Relation.citizenship, CountryStatus.certified, Tier.restricted), US_RES],
            Tier.restricted,
            ["DE"],
        ),
        (
            MembershipState.active,
            [
                fact("DE", Relation.citizenship, CountryStatus.certified, Tier.restricted),
                fact("FR", Relation.residence, CountryStatus.certified, Tier.general),
            ],
            Tier.general,
            ["DE", "FR"],
        ),
        # Deemed export: living in the US does not lift the nationality's limit.
        (
            MembershipState.active,
            [fact("CN", Relation.citizenship, CountryStatus.embargoed), US_CIT, US_RES],
            None,
            ["CN"],
        ),
        (
            MembershipState.active,
            [US_CIT, fact("DE", Relation.affiliation, CountryStatus.suspended, Tier.restricted)],
            None,
            ["DE"],
        ),
        (
            MembershipState.active,
            [
                fact(
                    "DE",
                    Relation.citizenship,
                    CountryStatus.certified,
                    Tier.restricted,
                    NOW - timedelta(days=1),
                )
            ],
            None,
            ["DE"],
        ),
        (
            MembershipState.active,
            [fact("BR", Relation.citizenship, CountryStatus.pending)],
            None,
            ["BR"],
        ),
    ],
)
async def test_effective_tier_is_the_minimum_over_every_country(
    state: MembershipState | None, facts: list[CountryFact], tier: Tier | None, limited: list[str]
) -> None:
    result = compute_eligibility(state, facts, NOW)
    assert result.tier == tier
    assert [limit.country for limit in result.limited_by] == limited
    assert result.summary


async def test_reasons_are_worded_for_people() -> None:
    result = compute_eligibility(
        MembershipState.active,
        [US_CIT, fact("DE", Relation.residence, CountryStatus.suspended, Tier.restricted)],
        NOW,
    )
    assert result.limited_by[0].reason == "limited by residence country DE: certification suspended"


async def test_german_researcher_follows_the_certification(world: World) -> None:
    admin = await world.admin()
    member = await world.member("de", citizenships=("DE",), residence="DE", affiliation="DE")
    tokens = (await world.login(member.email)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = (await world.client.get("/me", headers=headers)).json()
    assert me["membership"]["status"] == "active" and me["effective_tier"] is None
    assert {limit["country"] for limit in me["eligibility"]["limited_by"]} == {"DE"}

    expires = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    cert = await world.client.put(
        "/admin/countries/DE/certification",
        json={
            "tier": "restricted",
            "standards_version": "DURC-2026.1",
            "expires_at": expires,
            "evidence": "Bilateral assessment report 2026-11",
        },
        headers=admin.headers,
    )
    assert cert.status_code == 200, cert.text
    assert cert.json()["status"] == "certified"
    assert cert.json()["certification"]["tier"] == "restricted"
    assert (await world.client.get("/me", headers=headers)).json()["effective_tier"] == "restricted"

    suspended = await world.client.post(
        "/admin/countries/DE/suspend", json={"reason": "standards lapse"}, headers=admin.headers
    )
    assert suspended.json()["status"] == "suspended"
    me = (await world.client.get("/me", headers=headers)).json()  # the same token
    assert me["effective_tier"] is None
    assert me["eligibility"]["limited_by"][0]["country"] == "DE"
    assert "suspended" in me["eligibility"]["limited_by"][0]["reason"]

    await world.client.post(
        "/admin/countries/DE/reinstate", json={"reason": "remedied"}, headers=admin.headers
    )
    assert (await world.client.get("/me", headers=headers)).json()["effective_tier"] == "restricted"


async def test_dual_national_with_embargoed_country_has_no_tier(world: World) -> None:
    admin = await world.admin()
    # CN is seeded embargoed (15 CFR 791.4); embargoing again just records the reason.
    again = await world.client.post(
        "/admin/countries/CN/embargo", json={"reason": "policy"}, headers=admin.headers
    )
    assert again.status_code == 200 and again.json()["status"] == "embargoed"
    member = await world.member("dual", citizenships=("US", "CN"))
    me = (await world.client.get("/me", headers=member.headers)).json()
    assert me["effective_tier"] is None
    assert me["eligibility"]["limited_by"][0]["country"] == "CN"


async def test_expired_certification_grants_nothing(world: World) -> None:
    await world.country("FR", status="certified", tier="general", expires_in=timedelta(seconds=-1))
    member = await world.member("fr", citizenships=("FR",), residence="FR", affiliation="FR")
    me = (await world.client.get("/me", headers=member.headers)).json()
    assert me["effective_tier"] is None
    assert "expired" in me["eligibility"]["limited_by"][0]["reason"]


@pytest.mark.parametrize(
    ("setup", "action", "expected_status", "expected_code"),
    [
        ("pending", "suspend", 409, "invalid_transition"),
        ("pending", "reinstate", 409, "invalid_transition"),
        ("pending", "revoke", 409, "invalid_transition"),
        ("certified", "revoke", 200, None),
        ("embargoed", "reinstate", 200, None),
    ],
)
async def test_country_transitions(
    world: World, setup: str, action: str, expected_status: int, expected_code: str | None
) -> None:
    admin = await world.admin()
    await world.country("JP", status=setup, tier="general" if setup == "certified" else None)
    r = await world.client.post(
        f"/admin/countries/JP/{action}", json={"reason": "test"}, headers=admin.headers
    )
    assert r.status_code == expected_status, r.text
    if expected_code:
        assert r.json()["code"] == expected_code
    else:
        assert r.json()["certification"] is None


async def test_home_and_embargoed_cannot_be_certified(world: World) -> None:
    admin = await world.admin()
    body = {
        "tier": "general",
        "standards_version": "1",
        "evidence": "e",
        "expires_at": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
    }
    home = await world.client.put(
        "/admin/countries/US/certification", json=body, headers=admin.headers
    )
    assert home.status_code == 409 and home.json()["code"] == "home_country"
    embargoed = await world.client.put(
        "/admin/countries/IR/certification", json=body, headers=admin.headers
    )
    assert embargoed.status_code == 409 and embargoed.json()["code"] == "country_embargoed"
    us_only = await world.client.put(
        "/admin/countries/DE/certification", json={**body, "tier": "us_only"}, headers=admin.headers
    )
    assert us_only.status_code == 422
    past = await world.client.put(
        "/admin/countries/DE/certification",
        json={**body, "expires_at": "2020-01-01T00:00:00Z"},
        headers=admin.headers,
    )
    assert past.status_code == 422
    naive = await world.client.put(
        "/admin/countries/DE/certification",
        json={**body, "expires_at": "2030-01-01T00:00:00"},
        headers=admin.headers,
    )
    assert naive.status_code == 422
    unknown = await world.client.put(
        "/admin/countries/QQ/certification", json=body, headers=admin.headers
    )
    assert unknown.status_code == 404


async def test_country_listing(world: World) -> None:
    user = await world.user()
    r = await world.client.get("/countries", headers=user.headers)
    codes = {c["code"]: c for c in r.json()["items"]}
    assert len(codes) == 250 and codes["US"]["status"] == "home"
    assert codes["XK"]["name"] == "Kosovo"
    embargoed = await world.client.get(
        "/countries", params={"status": "embargoed"}, headers=user.headers
    )
    assert {"CN", "IR", "KP", "RU", "CU", "VE"} <= {c["code"] for c in embargoed.json()["items"]}
    one = await world.client.get("/countries/de", headers=user.headers)
    assert one.json()["code"] == "DE"
    assert (await world.client.get("/countries/ZZ", headers=user.headers)).status_code == 404
