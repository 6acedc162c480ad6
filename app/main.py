"""The ASGI application: `app.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.requests import Request
from starlette.routing import Route

from app.artifacts import bench_routes as artifact_bench_routes
from app.artifacts.routes import router as artifacts_router
from app.audit import service as audit_service
from app.audit.routes import router as audit_router
from app.core.context import RequestContextMiddleware
from app.core.errors import PROBLEM_JSON, Problem, install_error_handlers
from app.core.metrics import MetricsMiddleware, metrics_endpoint
from app.core.runtime import Runtime
from app.core.settings import VAR_DIR, Environment, Settings, get_settings
from app.countries.routes import router as countries_router
from app.discussion import bench_routes
from app.discussion.routes import router as discussion_router
from app.identity import repository as identity_repository
from app.identity import service as identity_service
from app.identity.routes import router as identity_router
from app.membership.routes import router as membership_router
from app.screening import repository as screening_repository
from app.screening import service as screening_service
from app.screening.routes import router as screening_router

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


async def bootstrap_admin(runtime: Runtime) -> None:
    """Create the first admin from settings, once, when no admin exists yet."""
    settings = runtime.settings
    if not settings.bootstrap_admin_email:
        return
    async with runtime.db.session() as session:
        if await identity_repository.any_admin(session):
            return
        password = settings.bootstrap_admin_password
        if not password:
            if settings.environment == Environment.production:
                log.error("EXCHANGE_BOOTSTRAP_ADMIN_PASSWORD is unset: no admin created")
                return
            password = _generated_admin_password()
        await identity_service.create_admin(
            session,
            runtime,
            email=settings.bootstrap_admin_email,
            password=password,
            check_strength=settings.environment == Environment.production,
        )
        log.warning("bootstrap admin %s created", settings.bootstrap_admin_email)


def _generated_admin_password() -> str:
    """Development convenience: a strong password written (0600) under var/, never logged."""
    path = VAR_DIR / "bootstrap-admin-password"
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    log.warning("EXCHANGE_BOOTSTRAP_ADMIN_PASSWORD is unset: generated one into %s", path)
    return password


async def _checkpoint_loop(runtime: Runtime) -> None:
    """Sign the audit head periodically; harmless when several processes do it."""
    interval = runtime.settings.audit_checkpoint_minutes * 60
    while True:
        await asyncio.sleep(interval)
        try:
            async with runtime.db.session() as session:
                await audit_service.sign_checkpoint(session, runtime.settings.master_key_bytes)
        except Exception:
            log.exception("audit checkpoint failed")


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not hasattr(app.state, "runtime"):
            app.state.runtime = Runtime.build(settings)
        current: Runtime = app.state.runtime
        await bootstrap_admin(current)
        task = None
        if settings.audit_checkpoint_minutes > 0:
            task = asyncio.create_task(_checkpoint_loop(current))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if runtime is None:
                await current.db.dispose()

    app = FastAPI(
        title="DURC Exchange",
        version="1.0.0",
        description=(
            "Closed researcher exchange for dual-use research of concern on AI. Errors are RFC "
            "9457 problem documents (application/problem+json) with a stable `code`."
        ),
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    for router in (
        identity_router,
        membership_router,
        countries_router,
        screening_router,
        discussion_router,
        artifacts_router,
        audit_router,
    ):
        if router is discussion_router and settings.benchmark_endpoints:
            # Off by default, refused in production, never in the OpenAPI document (bench/).
            # Mounted just before the discussion routes, so that route matching costs the
            # benchmark endpoint what it costs the gated list it is compared with.
            app.include_router(bench_routes.router, prefix=API_PREFIX)
            app.include_router(bench_routes.bare_router, prefix=API_PREFIX)
        app.include_router(router, prefix=API_PREFIX)
    if settings.benchmark_endpoints:
        # Plain transfer baselines for bench/artifact_transfer.py; same conditions as above.
        app.include_router(artifact_bench_routes.router, prefix=API_PREFIX)

    @app.get("/healthz", tags=["operations"], include_in_schema=True)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "Not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        current: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with current.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # any failure here means "not ready", never a crash
            checks["database"] = f"unreachable: {type(exc).__name__}"
        ready = checks["database"] == "ok"
        screening = "unknown"
        if ready:
            async with current.db.session() as session:
                active = await screening_repository.active_list(session)
            problem = screening_service.freshness_problem(current.settings, active)
            screening = "ok" if problem is None else f"stale: {problem}"
        # A stale list stops approvals (fail closed) but the API still serves members, so it
        # is reported here without taking the instance out of the load balancer.
        checks["screening"] = screening
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    app.router.routes.append(Route("/metrics", metrics_endpoint, include_in_schema=False))
    app.add_middleware(MetricsMiddleware, api_prefix=API_PREFIX)
    app.add_middleware(RequestContextMiddleware, trust_forwarded_for=settings.trust_forwarded_for)

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema()
        # Validation errors are answered as problem documents too, not FastAPI's default shape.
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                response = operation.get("responses", {}).get("422")
                if response is not None:
                    response["content"] = {
                        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _lazy_app() -> FastAPI:
    return create_app()


app = _lazy_app()
