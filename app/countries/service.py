"""Country status changes. Each takes effect for every attached member on their next request,
because eligibility is computed from these rows on every request; nothing else is touched."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.errors import Conflict, NotFound, Unprocessable
from app.countries import repository
from app.models import Country
from app.models.base import utcnow
from app.policy import Actor, CountryStatus


async def _country(session: AsyncSession, code: str) -> Country:
    country = await repository.get(session, code, lock=True)
    if country is None:
        raise NotFound("No such country.")
    return country


def _refuse_home(country: Country) -> None:
    if country.status == CountryStatus.home:
        raise Conflict("The home country's status cannot change.", code="home_country")


def _set_status(country: Country, status: CountryStatus, reason: str) -> str:
    previous = country.status
    country.status = status.value
    country.status_reason = reason
    country.status_changed_at = utcnow()
    return previous


def _clear_certification(country: Country) -> None:
    country.cert_tier = None
    country.cert_standards_version = None
    country.cert_evidence = None
    country.cert_certified_at = None
    country.cert_certified_by = None
    country.cert_expires_at = None


async def certify(
    session: AsyncSession,
    *,
    actor: Actor,
    code: str,
    tier: str,
    standards_version: str,
    expires_at: datetime,
    evidence: str,
) -> Country:
    country = await _country(session, code)
    _refuse_home(country)
    if country.status == CountryStatus.embargoed:
        raise Conflict(
            "An embargoed country cannot be certified; lift the embargo first (reinstate).",
            code="country_embargoed",
        )
    if expires_at <= utcnow():
        raise Unprocessable("expires_at must be in the future.", code="validation_error")
    previous = _set_status(country, CountryStatus.certified, f"certified: {standards_version}")
    country.cert_tier = tier
    country.cert_standards_version = standards_version
    country.cert_evidence = evidence
    country.cert_certified_at = utcnow()
    country.cert_certified_by = actor.user_id
    country.cert_expires_at = expires_at
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="country.certified",
        target_type="country",
        target_id=country.code,
        reason=evidence[:2000],
        details={
            "from": previous,
            "tier": tier,
            "standards_version": standards_version,
            "expires_at": expires_at.isoformat(),
        },
    )
    return country


# action -> (statuses it applies to, status it leads to)
_TRANSITIONS: dict[str, tuple[frozenset[CountryStatus], CountryStatus]] = {
    "suspend": (frozenset({CountryStatus.certified}), CountryStatus.suspended),
    "revoke": (
        frozenset({CountryStatus.certified, CountryStatus.suspended}),
        CountryStatus.pending,
    ),
    "embargo": (
        frozenset(
            {
                CountryStatus.pending,
                CountryStatus.certified,
                CountryStatus.suspended,
                CountryStatus.embargoed,
            }
        ),
        CountryStatus.embargoed,
    ),
}


async def change_status(
    session: AsyncSession, *, actor: Actor, code: str, action: str, reason: str
) -> Country:
    """suspend: certified -> suspended (certification kept, so reinstating restores it);
    reinstate: suspended -> certified, or embargoed -> pending (lifts an embargo);
    revoke: certified/suspended -> pending (certification withdrawn);
    embargo: any but home -> embargoed (certification withdrawn)."""
    country = await _country(session, code)
    _refuse_home(country)
    current = CountryStatus(country.status)
    if action == "reinstate":
        if current is CountryStatus.suspended:
            target = CountryStatus.certified
        elif current is CountryStatus.embargoed:
            target = CountryStatus.pending
        else:
            raise Conflict(
                f"Only a suspended or embargoed country can be reinstated; {country.code} is "
                f"{current.value}.",
                code="invalid_transition",
            )
    else:
        allowed, target = _TRANSITIONS[action]
        if current not in allowed:
            raise Conflict(
                f"Cannot {action} {country.code} while it is {current.value}.",
                code="invalid_transition",
            )
    if target in {CountryStatus.pending, CountryStatus.embargoed}:
        _clear_certification(country)
    previous = _set_status(country, target, reason)
    await audit.record(
        session,
        actor_id=actor.user_id,
        action=f"country.{action}",
        target_type="country",
        target_id=country.code,
        reason=reason,
        details={"from": previous, "to": target.value},
    )
    return country
