"""Plain helpers that build the people and countries a test talks about.

They write rows directly (fast, and independent of the routes under test) but hand out real
tokens, so every request still goes through the full authentication path.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
from sqlalchemy import func, select

from app.core.runtime import Runtime
from app.core.security import totp_new_secret
from app.models import (
    Application,
    AuthSession,
    Country,
    Membership,
    MembershipCountry,
    Post,
    ScreeningAlert,
    ScreeningList,
    Thread,
    Topic,
    User,
    UserRole,
)
from app.models.base import utcnow

DEFAULT_PASSWORD = "a long and unusual passphrase for tests"


@dataclass
class Persona:
    user_id: uuid.UUID
    email: str
    password: str
    token: str | None = None
    totp_secret: str | None = None
    application_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def application_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "legal_name": "Alice Q. Researcher",
        "citizenships": ["US"],
        "residence_country": "US",
        "affiliation": {"name": "Example University", "country": "US"},
        "orcid": "0000-0002-1825-0097",
        "federal_award_ids": ["NSF-2345678"],
        "research_statement": "Evaluating robustness of frontier models under adversarial use.",
        "attestation": True,
    }
    body.update(overrides)
    return body


class World:
    def __init__(self, runtime: Runtime, client: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.client = client
        self._counter = 0

    def _email(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter}-{uuid.uuid4().hex[:6]}@example.org"

    async def user(
        self,
        prefix: str = "user",
        *,
        verified: bool = True,
        roles: tuple[str, ...] = (),
        mfa: bool = False,
        display_name: str = "Researcher",
    ) -> Persona:
        email = self._email(prefix)
        secret = totp_new_secret() if mfa else None
        async with self.runtime.db.session() as session:
            user = User(
                id=uuid.uuid4(),
                email=email,
                display_name=display_name,
                password_hash=self.runtime.passwords.hash(DEFAULT_PASSWORD),
                email_verified_at=utcnow() if verified else None,
                totp_secret_sealed=self.runtime.totp_box.seal(secret) if secret else None,
                totp_enabled_at=utcnow() if secret else None,
            )
            session.add(user)
            await session.flush()
            for role in roles:
                session.add(UserRole(user_id=user.id, role=role, granted_at=utcnow()))
            auth_session = AuthSession(
                id=uuid.uuid4(),
                user_id=user.id,
                kind="login",
                mfa_passed=mfa,
                auth_method="password",
                expires_at=utcnow() + timedelta(days=1),
            )
            session.add(auth_session)
            await session.flush()
            token = self.runtime.access_tokens.issue(auth_session.id, user.id)
        return Persona(user.id, email, DEFAULT_PASSWORD, token, secret)

    async def admin(self, *, mfa: bool = True) -> Persona:
        return await self.user("admin", roles=("admin",), mfa=mfa)

    async def applicant(self, **application: Any) -> Persona:
        persona = await self.user("applicant")
        response = await self.client.post(
            "/applications", json=application_body(**application), headers=persona.headers
        )
        assert response.status_code == 201, response.text
        persona.application_id = uuid.UUID(response.json()["id"])
        return persona

    async def member(
        self,
        prefix: str = "member",
        *,
        citizenships: tuple[str, ...] = ("US",),
        residence: str = "US",
        affiliation: str = "US",
        status: str = "active",
        expires_in: timedelta = timedelta(days=365),
        roles: tuple[str, ...] = (),
        mfa: bool = False,
    ) -> Persona:
        persona = await self.user(prefix, roles=roles, mfa=mfa)
        now = utcnow()
        async with self.runtime.db.session() as session:
            application = Application(
                id=uuid.uuid4(),
                user_id=persona.user_id,
                status="approved",
                legal_name="Member " + prefix,
                citizenships=list(citizenships),
                residence_country=residence,
                affiliation_name="Example Lab",
                affiliation_country=affiliation,
                orcid=None,
                federal_award_ids=[],
                research_statement="Vetted research statement for the test member.",
                attested_at=now,
                screening_result="clear",
                screening_matches=[],
                screened_at=now,
                decided_at=now,
                decision_reason="test fixture",
            )
            session.add(application)
            await session.flush()
            membership = Membership(
                id=uuid.uuid4(),
                user_id=persona.user_id,
                application_id=application.id,
                status=status,
                status_changed_at=now,
                approved_at=now - timedelta(days=1),
                expires_at=now + expires_in,
            )
            session.add(membership)
            await session.flush()
            attached = {(c, "citizenship") for c in citizenships}
            attached |= {(residence, "residence"), (affiliation, "affiliation")}
            for code, relation in sorted(attached):
                session.add(
                    MembershipCountry(
                        membership_id=membership.id, country_code=code, relation=relation
                    )
                )
        persona.application_id = application.id
        return persona

    async def country(
        self,
        code: str,
        *,
        status: str,
        tier: str | None = None,
        expires_in: timedelta = timedelta(days=365),
    ) -> None:
        async with self.runtime.db.session() as session:
            country = await session.scalar(select(Country).where(Country.code == code))
            assert country is not None
            country.status = status
            country.cert_tier = tier
            if tier is not None:
                country.cert_standards_version = "DURC-STD-1.0"
                country.cert_certified_at = utcnow()
                country.cert_expires_at = utcnow() + expires_in

    async def login(
        self, email: str, password: str = DEFAULT_PASSWORD, totp_code: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"email": email, "password": password}
        if totp_code is not None:
            body["totp_code"] = totp_code
        return await self.client.post("/auth/login", json=body)

    async def screening_alert(self, user_id: uuid.UUID) -> uuid.UUID:
        """An open alert about `user_id` on a one-entry list version."""
        now = utcnow()
        async with self.runtime.db.session() as session:
            version = await session.scalar(select(func.max(ScreeningList.version))) or 0
            listed = ScreeningList(
                id=uuid.uuid4(),
                version=version + 1,
                checksum="0" * 64,
                filename="fixture.csv",
                file_format="csv",
                entry_count=1,
                source_counts={"SDN": 1},
                imported_at=now,
            )
            session.add(listed)
            await session.flush()
            alert = ScreeningAlert(
                id=uuid.uuid4(),
                user_id=user_id,
                list_id=listed.id,
                entry_id="fx-1",
                entry_fingerprint="1" * 64,
                entry_name="Listed Person",
                matched_name="Listed Person",
                screened_name="Listed Person",
                score=90.0,
                method="fixture",
                source="SDN",
                status="open",
                created_at=now,
            )
            session.add(alert)
        return alert.id

    async def topic(
        self, slug: str | None = None, *, tier: str = "general", title: str = "A topic"
    ) -> str:
        """A topic written directly (no admin needed); returns its slug."""
        slug = slug or f"topic-{uuid.uuid4().hex[:10]}"
        now = utcnow()
        async with self.runtime.db.session() as session:
            session.add(
                Topic(
                    id=uuid.uuid4(),
                    slug=slug,
                    title=title,
                    description="Written by a test helper.",
                    tier=tier,
                    thread_seq=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return slug

    async def thread(
        self, slug: str, author: Persona, *, title: str = "A thread", body: str = "First post."
    ) -> tuple[uuid.UUID, uuid.UUID]:
        """A thread with its first post written directly; returns (thread id, post id)."""
        now = utcnow()
        thread_id, post_id = uuid.uuid4(), uuid.uuid4()
        async with self.runtime.db.session() as session:
            topic = await session.scalar(select(Topic).where(Topic.slug == slug))
            assert topic is not None
            topic.thread_seq += 1
            session.add(
                Thread(
                    id=thread_id,
                    topic_id=topic.id,
                    seq=topic.thread_seq,
                    author_id=author.user_id,
                    title=title,
                    created_at=now,
                    post_count=1,
                    last_post_at=now,
                )
            )
            await session.flush()
            session.add(
                Post(
                    id=post_id,
                    thread_id=thread_id,
                    topic_id=topic.id,
                    seq=1,
                    author_id=author.user_id,
                    headline=title,
                    body=body,
                    revision=1,
                    created_at=now,
                )
            )
        return thread_id, post_id

    def mails(self) -> list[str]:
        folder = Path(self.runtime.settings.mail_dir)
        if not folder.exists():
            return []
        return [p.read_text() for p in sorted(folder.glob("*.eml"))]

    def last_token_mailed_to(self, email: str) -> str:
        for message in reversed(self.mails()):
            if f"To: {email}" in message:
                found = re.search(r"token=([A-Za-z0-9_-]+)", message)
                assert found
                return found.group(1)
        raise AssertionError(f"no mail to {email}")


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()
