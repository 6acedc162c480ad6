"""The schema is what the migrations build, the migrations reverse, and the published OpenAPI
document is what the app serves."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

from app.core.database import create_engine
from app.main import create_app
from app.migrate import downgrade, upgrade
from app.models import Base
from app.models.discussion import include_schema_name, include_schema_object

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def scratch_url() -> Iterator[str]:
    """An empty database of its own, so migrations run from nothing."""
    server = os.environ.get("EXCHANGE_TEST_DATABASE_URL", "sqlite")
    if server == "sqlite":
        yield f"sqlite:///{tempfile.mkdtemp(prefix='exchange-mig-')}/scratch.db"
        return
    name = f"exchange_mig_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        engine = create_engine(server, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _run(url: str, work: Any) -> Any:
    async def go() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": include_schema_name,
            "include_object": include_schema_object,
        },
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    names = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return {name for name in names if include_schema_name(name, "table", {})}


def test_upgrade_downgrade_upgrade_and_no_drift(scratch_url: str) -> None:
    upgrade(scratch_url)
    assert _run(scratch_url, _tables) == set(Base.metadata.tables)
    assert _run(scratch_url, _drift) == []
    downgrade(scratch_url, "base")
    assert _run(scratch_url, _tables) == set()
    upgrade(scratch_url)
    assert _run(scratch_url, _drift) == []


def test_migration_files_are_date_prefixed() -> None:
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        assert path.name[:8].isdigit(), path.name


def test_committed_openapi_matches_the_app() -> None:
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert committed == create_app().openapi(), "run `make openapi` and commit the result"


def test_every_error_status_is_a_declared_problem() -> None:
    document = create_app().openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path != "/readyz":
                    content = response.get("content", {})
                    assert "application/problem+json" in content, (method, path, status)
