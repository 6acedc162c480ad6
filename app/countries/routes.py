from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query

from app.auth import AdminActor, CurrentActor, DbSession
from app.core.errors import NotFound, problem_responses
from app.core.pagination import Page
from app.core.uow import domain_router
from app.countries import repository, service
from app.countries.schemas import (
    CertificationRead,
    CertifyRequest,
    CountryActionRequest,
    CountryRead,
)
from app.models import Country

router = domain_router(tags=["countries"])
ADMIN = problem_responses(401, 403, 404, 409, 422)
CountryCodePath = Annotated[str, Path(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$")]
StatusFilter = Literal["home", "certified", "pending", "suspended", "embargoed"]


def country_read(country: Country) -> CountryRead:
    certification = None
    if (
        country.cert_tier
        and country.cert_standards_version
        and country.cert_certified_at
        and country.cert_expires_at
    ):
        certification = CertificationRead(
            tier=country.cert_tier,
            standards_version=country.cert_standards_version,
            certified_at=country.cert_certified_at,
            expires_at=country.cert_expires_at,
        )
    return CountryRead(
        code=country.code,
        name=country.name,
        status=country.status,
        status_reason=country.status_reason,
        certification=certification,
    )


@router.get("/countries", responses=problem_responses(401, 422))
async def list_countries(
    _actor: CurrentActor,
    session: DbSession,
    status: StatusFilter | None = None,
    limit: Annotated[int, Query(ge=1, le=300)] = 300,
    cursor: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
) -> Page[CountryRead]:
    rows = await repository.list_countries(
        session, status=status, after=cursor.upper() if cursor else None, limit=limit
    )
    next_cursor = rows[-1].code if len(rows) == limit else None
    return Page(items=[country_read(c) for c in rows], next_cursor=next_cursor)


@router.get("/countries/{code}", responses=problem_responses(401, 404, 422))
async def get_country(
    code: CountryCodePath, _actor: CurrentActor, session: DbSession
) -> CountryRead:
    country = await repository.get(session, code)
    if country is None:
        raise NotFound("No such country.")
    return country_read(country)


@router.put("/admin/countries/{code}/certification", responses=ADMIN)
async def certify(
    code: CountryCodePath, body: CertifyRequest, actor: AdminActor, session: DbSession
) -> CountryRead:
    country = await service.certify(
        session,
        actor=actor,
        code=code,
        tier=body.tier,
        standards_version=body.standards_version,
        expires_at=body.expires_at,
        evidence=body.evidence,
    )
    return country_read(country)


def _status_route(action: str, summary: str) -> None:
    async def change_status(
        code: CountryCodePath, body: CountryActionRequest, actor: AdminActor, session: DbSession
    ) -> CountryRead:
        country = await service.change_status(
            session, actor=actor, code=code, action=action, reason=body.reason
        )
        return country_read(country)

    router.add_api_route(
        f"/admin/countries/{{code}}/{action}",
        change_status,
        methods=["POST"],
        name=f"{action}_country",
        summary=summary,
        responses=ADMIN,
    )


_status_route("suspend", "Suspend a certification (reinstating restores it)")
_status_route("reinstate", "Reinstate a suspended certification, or lift an embargo to pending")
_status_route("revoke", "Withdraw a certification (country back to pending)")
_status_route("embargo", "Embargo a country (grants nothing)")
