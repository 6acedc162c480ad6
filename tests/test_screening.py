"""Denied-party screening as the product uses it: imports, vetting, monitoring, alerts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from app.models import ScreeningList
from app.models.base import utcnow
from tests.helpers import World, application_body

HEADER = "_id,source,entity_number,type,programs,name,alt_names,addresses,citizenships\n"
SIDOROV = (
    "e-1,Specially Designated Nationals (SDN) - Treasury Department,1,Individual,"
    'UKRAINE-EO13661,"SIDOROV, Ivan Petrovich",Ivan Sidorov,"Moscow, RU",RU\n'
)
FILLER = (
    "e-2,Entity List (EL) - Bureau of Industry and Security,2,Entity,,"
    "Northwind Photonics Ltd,Northwind Optics,Shenzhen CN,\n"
    "e-3,Specially Designated Nationals (SDN) - Treasury Department,3,Individual,,"
    '"KARIMOV, Rustam",,Tashkent UZ,UZ\n'
)


def csv_list(*rows: str) -> bytes:
    return (HEADER + "".join(rows)).encode()


@pytest.fixture
def fail_closed(world: World) -> Iterator[None]:
    """The production default: no approval without a current list."""
    world.runtime.settings.screening_fail_closed = True
    yield
    world.runtime.settings.screening_fail_closed = False


async def import_list(
    world: World, admin_headers: dict[str, str], data: bytes, name: str = "csl.csv"
) -> dict[str, object]:
    r = await world.client.post(
        "/admin/screening/lists", files={"file": (name, data, "text/csv")}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


async def test_applicant_matching_a_listed_alias_needs_two_admins(world: World) -> None:
    admin, second = await world.admin(), await world.admin()
    imported = await import_list(world, admin.headers, csv_list(SIDOROV, FILLER))
    assert imported["entries"] == 3 and imported["version"] == 1
    suspect = await world.applicant(
        legal_name="Ivan P. Sidorov",
        citizenships=["RU"],
        residence_country="DE",
        affiliation={"name": "Lab", "country": "DE"},
    )
    clean = await world.applicant(legal_name="Maria Gonzalez")
    view = (
        await world.client.get(
            f"/admin/applications/{suspect.application_id}", headers=admin.headers
        )
    ).json()
    assert view["screening"]["result"] == "potential_match"
    match = view["screening"]["matches"][0]
    assert match["entry_id"] == "e-1" and match["score"] >= 85
    assert match["matched_name"] in {"SIDOROV, Ivan Petrovich", "Ivan Sidorov"}
    assert view["approvals_required"] == 2
    # The applicant sees none of it.
    own = (
        await world.client.get(f"/applications/{suspect.application_id}", headers=suspect.headers)
    ).json()
    assert "screening" not in own and "Sidorov" not in str(
        {k: v for k, v in own.items() if k != "legal_name"}
    )
    clear = (
        await world.client.get(f"/admin/applications/{clean.application_id}", headers=admin.headers)
    ).json()
    assert clear["screening"]["result"] == "clear" and clear["approvals_required"] == 1
    first = await world.client.post(
        f"/admin/applications/{suspect.application_id}/decision",
        json={"decision": "approve", "reason": "namesake, DOB differs"},
        headers=admin.headers,
    )
    assert first.json()["status"] == "under_review"
    done = await world.client.post(
        f"/admin/applications/{suspect.application_id}/decision",
        json={"decision": "approve", "reason": "agree"},
        headers=second.headers,
    )
    assert done.json()["status"] == "approved"


async def test_new_listing_suspends_member_until_false_positive(world: World) -> None:
    admin = await world.admin()
    member = await world.member("ivan")
    async with world.runtime.db.session() as session:
        from app.models import Application

        await session.execute(
            update(Application)
            .where(Application.user_id == member.user_id)
            .values(legal_name="Ivan Petrovich Sidorov")
        )
    first = await import_list(world, admin.headers, csv_list(FILLER))
    assert first["alerts_raised"] == 0
    assert (await world.client.get("/me", headers=member.headers)).json()["effective_tier"]
    second = await import_list(world, admin.headers, csv_list(SIDOROV, FILLER))
    assert second["alerts_raised"] == 1 and second["memberships_suspended"] == 1
    me = (await world.client.get("/me", headers=member.headers)).json()
    assert me["membership"]["status"] == "suspended" and me["effective_tier"] is None
    alerts = (
        await world.client.get(
            "/admin/screening/alerts", params={"status": "open"}, headers=admin.headers
        )
    ).json()["items"]
    assert len(alerts) == 1 and alerts[0]["suspended_membership"] is True
    assert alerts[0]["user_id"] == str(member.user_id)
    resolved = await world.client.post(
        f"/admin/screening/alerts/{alerts[0]['id']}/resolve",
        json={"disposition": "false_positive", "reason": "different person, verified ID"},
        headers=admin.headers,
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "false_positive"
    me = (await world.client.get("/me", headers=member.headers)).json()
    assert me["membership"]["status"] == "active" and me["effective_tier"] == "us_only"
    again = await world.client.post(
        f"/admin/screening/alerts/{alerts[0]['id']}/resolve",
        json={"disposition": "confirmed", "reason": "x"},
        headers=admin.headers,
    )
    assert again.status_code == 409 and again.json()["code"] == "already_resolved"
    # The same entry, unchanged, does not alert again; a changed entry does.
    third = await import_list(world, admin.headers, csv_list(SIDOROV, FILLER))
    assert third["alerts_raised"] == 0
    changed = SIDOROV.replace("UKRAINE-EO13661", "UKRAINE-EO13661;RUSSIA-EO14024")
    fourth = await import_list(world, admin.headers, csv_list(changed, FILLER))
    assert fourth["alerts_raised"] == 1
    events = (
        await world.client.get(
            "/audit/events", params={"action": "screening.alert_raised"}, headers=admin.headers
        )
    ).json()["items"]
    assert len(events) == 2


async def test_confirmed_match_revokes(world: World) -> None:
    admin = await world.admin()
    member = await world.member("listed")
    async with world.runtime.db.session() as session:
        from app.models import Application

        await session.execute(
            update(Application)
            .where(Application.user_id == member.user_id)
            .values(legal_name="Rustam Karimov")
        )
    await import_list(world, admin.headers, csv_list(FILLER))
    alerts = (await world.client.get("/admin/screening/alerts", headers=admin.headers)).json()[
        "items"
    ]
    assert alerts, "a strong or review-level hit on Karimov is expected"
    r = await world.client.post(
        f"/admin/screening/alerts/{alerts[0]['id']}/resolve",
        json={"disposition": "confirmed", "reason": "same DOB and passport"},
        headers=admin.headers,
    )
    assert r.json()["status"] == "confirmed"
    me = await world.client.get("/me", headers=member.headers)
    assert me.status_code == 401  # revocation ended every session


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"_id,source,title\nx,SDN,Mr\n", None),  # no name column
        (HEADER.encode() + b"e-9,SDN,9,Individual,,,,,\n", 2),  # empty name
        (csv_list(SIDOROV, SIDOROV), 3),  # duplicate id
        (b"\xff\xfe\x00n\x00a\x00m\x00e", None),  # not UTF-8
        (b'{"results": [', None),  # broken JSON
    ],
)
async def test_malformed_lists_change_nothing(world: World, data: bytes, line: int | None) -> None:
    admin = await world.admin()
    await import_list(world, admin.headers, csv_list(SIDOROV))
    r = await world.client.post(
        "/admin/screening/lists", files={"file": ("bad.csv", data)}, headers=admin.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_list"
    if line is not None:
        assert r.json()["line"] == line
    versions = (await world.client.get("/admin/screening/lists", headers=admin.headers)).json()
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["active"] is True


async def test_oversized_list_is_refused(world: World) -> None:
    admin = await world.admin()
    limit = world.runtime.settings.screening_max_list_bytes
    world.runtime.settings.screening_max_list_bytes = 2048
    try:
        r = await world.client.post(
            "/admin/screening/lists",
            files={"file": ("big.csv", csv_list(*[FILLER] * 50))},
            headers=admin.headers,
        )
    finally:
        world.runtime.settings.screening_max_list_bytes = limit
    assert r.status_code == 413 and r.json()["code"] == "too_large"


async def test_json_layout_is_accepted(world: World) -> None:
    admin = await world.admin()
    data = (
        b'{"results": [{"id": "j-1", "source": "SDN", "name": "SIDOROV, Ivan Petrovich",'
        b' "alt_names": ["Ivan Sidorov"], "addresses": [{"country": "RU"}],'
        b' "type": "Individual", "programs": ["UKRAINE-EO13661"]}]}'
    )
    r = await world.client.post(
        "/admin/screening/lists",
        files={"file": ("csl.json", data, "application/json")},
        headers=admin.headers,
    )
    assert r.status_code == 201 and r.json()["entries"] == 1
    check = await world.client.post(
        "/admin/screening/check",
        json={"name": "Ivan Sidorov", "country": "RU"},
        headers=admin.headers,
    )
    assert check.json()["matches"][0]["entry_id"] == "j-1"
    none = await world.client.post(
        "/admin/screening/check", json={"name": "Maria Gonzalez"}, headers=admin.headers
    )
    assert none.json()["matches"] == []


@pytest.mark.usefixtures("fail_closed")
async def test_approval_fails_closed_without_a_current_list(world: World) -> None:
    admin = await world.admin()
    applicant = await world.applicant()
    decision = {"decision": "approve", "reason": "vetted"}
    url = f"/admin/applications/{applicant.application_id}/decision"
    r = await world.client.post(url, json=decision, headers=admin.headers)
    assert r.status_code == 409 and r.json()["code"] == "screening_stale"
    ready = await world.client.get("http://testserver/readyz")
    assert ready.json()["checks"]["screening"].startswith("stale")
    await import_list(world, admin.headers, csv_list(FILLER))
    async with world.runtime.db.session() as session:
        await session.execute(
            update(ScreeningList).values(imported_at=utcnow() - timedelta(days=31))
        )
    stale = await world.client.post(url, json=decision, headers=admin.headers)
    assert stale.status_code == 409 and "31 days" in stale.json()["detail"]
    await import_list(world, admin.headers, csv_list(FILLER))
    ok = await world.client.post(url, json=decision, headers=admin.headers)
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    # Screened before any list existed, it was re-screened against the current one first.
    assert ok.json()["screening"]["list_id"] is not None
    ready = await world.client.get("http://testserver/readyz")
    assert ready.json()["checks"]["screening"] == "ok"


async def test_rejection_is_allowed_while_screening_is_stale(
    world: World, fail_closed: None
) -> None:
    admin = await world.admin()
    applicant = await world.applicant()
    r = await world.client.post(
        f"/admin/applications/{applicant.application_id}/decision",
        json={"decision": "reject", "reason": "incomplete"},
        headers=admin.headers,
    )
    assert r.status_code == 200


async def test_cli_import_with_progress(world: World, tmp_path: Path) -> None:
    await world.member("cli")
    path = tmp_path / "list.csv"
    path.write_bytes(csv_list(SIDOROV, FILLER))
    env = {
        "EXCHANGE_DATABASE_URL": world.runtime.settings.database_url,
        "EXCHANGE_MASTER_KEY": world.runtime.settings.master_key or "",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "screening", "import", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "imported version 1: 3 entries" in done.stdout
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_list(SIDOROV, SIDOROV))
    failed = subprocess.run(
        [sys.executable, "-m", "app.cli", "screening", "import", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert failed.returncode == 2 and "line 3" in failed.stderr


async def test_members_never_see_screening(world: World) -> None:
    member = await world.member()
    for path in ("/admin/screening/alerts", "/admin/screening/lists"):
        r = await world.client.get(path, headers=member.headers)
        assert r.status_code == 403
    r = await world.client.post(
        "/admin/screening/check", json={"name": "x"}, headers=member.headers
    )
    assert r.status_code == 403
    assert application_body()  # the helper stays importable for table rows
