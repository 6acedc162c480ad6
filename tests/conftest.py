"""Test harness: one fresh database per run (SQLite file or a new PostgreSQL database),
built by the real migrations, emptied between tests; an in-process ASGI client."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database, create_engine
from app.core.runtime import Runtime
from app.core.settings import Settings
from app.main import create_app
from app.migrate import upgrade
from app.models import Base, Country
from tests.helpers import World

TEST_DB_ENV = "EXCHANGE_TEST_DATABASE_URL"


def _test_server_url() -> str:
    return os.environ.get(TEST_DB_ENV, "sqlite")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database of our own for this run, dropped at the end."""
    server = _test_server_url()
    if server == "sqlite":
        folder = tempfile.mkdtemp(prefix="exchange-test-")
        yield f"sqlite:///{folder}/test.db"
        return
    name = f"exchange_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin_url = make_url(server)
    test_url = admin_url.set(database=name).render_as_string(hide_password=False)

    async def admin(sql: str) -> None:
        engine = create_engine(server, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield test_url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def settings(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("var")
    return Settings(
        environment="test",
        database_url=migrated_url,
        storage_url=str(var / "artifacts"),
        mail_dir=str(var / "mail"),
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        # Cheap argon2 parameters in tests only; production keeps the library defaults.
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        audit_checkpoint_minutes=0,
        # Most tests approve without importing a list; tests/test_screening.py turns
        # fail-closed back on (the production default) where it is the subject.
        screening_fail_closed=False,
    )


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.build(settings, Database(settings.database_url))
    yield rt
    await rt.db.dispose()


@pytest.fixture(scope="session")
async def country_snapshot(runtime: Runtime) -> dict[str, dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (await session.scalars(select(Country))).all()
        return {c.code: _country_state(c) for c in rows}


def _country_state(country: Country) -> dict[str, Any]:
    return {
        column.key: getattr(country, column.key)
        for column in Country.__table__.columns
        if column.key != "code"
    }


@pytest.fixture(autouse=True)
async def clean_database(
    runtime: Runtime, country_snapshot: dict[str, dict[str, Any]]
) -> AsyncIterator[None]:
    """Each test starts from the migrated state: empty tables, seeded countries."""
    yield
    async with runtime.db.session() as session:
        # Countries first: a certification names the admin (a user) who granted it.
        for country in (await session.scalars(select(Country))).all():
            seeded = country_snapshot[country.code]
            if _country_state(country) != seeded:
                for key, value in seeded.items():
                    setattr(country, key, value)
        await session.flush()
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "countries":
                await session.execute(delete(table))
    await runtime.rate_limits.reset_all()
    mail = Path(runtime.settings.mail_dir)
    if mail.exists():
        for message in mail.iterdir():
            message.unlink()


@pytest.fixture(scope="session")
def app(runtime: Runtime) -> Any:
    return create_app(runtime=runtime)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as c:
        yield c


@pytest.fixture
async def session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    async with runtime.db.session() as s:
        yield s


@pytest.fixture
def world(runtime: Runtime, client: httpx.AsyncClient) -> World:
    return World(runtime, client)


def pytest_report_header() -> str:
    server = _test_server_url()
    return f"database: {'SQLite' if server == 'sqlite' else 'PostgreSQL ' + server}"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"
