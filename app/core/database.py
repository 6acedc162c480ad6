"""Engine and session factory; the one place that knows which database is underneath."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def async_url(url: str) -> str:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick our async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(f"unsupported database: {backend}")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    full_url = async_url(url)
    if is_sqlite(url):
        database = make_url(full_url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full_url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if kwargs.get("poolclass") is None:
        kwargs.pop("poolclass", None)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(full_url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """SQLite: WAL, enforced foreign keys, and write-locking transactions.

    Every transaction starts with BEGIN IMMEDIATE. A deferred transaction that reads and
    then writes can fail with SQLITE_BUSY when another writer committed in between; taking
    the write lock up front makes concurrent requests queue (busy timeout) instead, which
    also keeps the audit hash chain linear without a separate lock.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Holds the engine and session factory for the life of the process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = is_sqlite(url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for work outside a request (CLI, background tasks); commits on success."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                session.info.pop("after_commit", None)
                raise
            await run_session_after_commit(session)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def run_session_after_commit(session: AsyncSession) -> None:
    """Jobs scheduled with `after_commit` outside a request (CLI, background tasks)."""
    jobs = session.info.pop("after_commit", [])
    for job in jobs:
        await job()
