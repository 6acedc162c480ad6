"""One session per request, committed in exactly one place.

`TransactionalRoute` wraps every API route: it opens a unit of work before the route's
dependencies run, commits after the handler returns (before the response leaves), rolls back
on error, and only then runs after-commit work such as sending mail. Services only flush.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import ProblemError

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._after_commit: list[AfterCommit] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessionmaker()
            self._session.info["uow"] = self
        return self._session

    def after_commit(self, job: AfterCommit) -> None:
        self._after_commit.append(job)

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        self._after_commit.clear()
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run_after_commit(self) -> None:
        jobs, self._after_commit = self._after_commit, []
        for job in jobs:
            try:
                await job()
            except Exception:
                log.exception("after-commit job failed")


def after_commit(session: AsyncSession, job: AfterCommit) -> None:
    """Schedule work (mail, notifications) to run only once the transaction has committed."""
    uow: UnitOfWork | None = session.info.get("uow")
    if uow is None:
        # Outside a request (CLI): the caller commits right after; keep the job on the session.
        session.info.setdefault("after_commit", []).append(job)
    else:
        uow.after_commit(job)


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run_in_transaction(request: Request) -> Response:
            uow = UnitOfWork(request.app.state.runtime.db.sessionmaker)
            request.state.uow = uow
            try:
                response = await handler(request)
                await uow.commit()
            except ProblemError as exc:
                if exc.keep_changes:
                    await uow.commit()
                else:
                    await uow.rollback()
                raise
            except BaseException:
                await uow.rollback()
                raise
            finally:
                await uow.close()
            await uow.run_after_commit()
            return response

        return run_in_transaction


def get_session(request: Request) -> AsyncSession:
    uow: UnitOfWork = request.state.uow
    return uow.session


def domain_router(**kwargs: Any) -> APIRouter:
    """Every domain's router: its routes run inside one unit of work each."""
    return APIRouter(route_class=TransactionalRoute, **kwargs)
