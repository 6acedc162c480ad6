"""Artifact routes: streamed encrypted uploads, ranged decrypted downloads, release review,
and the export record. Access and actions live in `service`, decisions in `app.policy`.

Uploads read the request body themselves (see `upload`): FastAPI's `UploadFile` would spool
the plaintext to a temporary file. The body is therefore documented with `openapi_extra`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app import policy
from app.artifacts import downloads, exports, repository, service, views
from app.artifacts.schemas import (
    ArtifactMetadata,
    ArtifactRead,
    DownloadRead,
    ReviewQueueItem,
    ReviewRequest,
    VersionMetadata,
    VersionRead,
)
from app.artifacts.upload import (
    ReceivedUpload,
    receive_upload,
)
from app.auth import AdminActor, AppRuntime, DbSession
from app.core.errors import Unprocessable, problem_responses
from app.core.pagination import Page, TimeKey, decode_time_key, encode_time_key, page_params
from app.core.runtime import Runtime
from app.core.uow import domain_router
from app.discussion import service as discussion
from app.discussion.routes import Caller, Member, SlugPath
from app.policy import Tier

router = domain_router(tags=["artifacts"])

PageArgs = Annotated[tuple[int, str | None], Depends(page_params)]
ArtifactPath = Annotated[uuid.UUID, Path(description="Artifact id")]
# Bounded so that no database sees an integer it cannot hold.
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
VersionQuery = Annotated[
    int | None,
    Query(ge=1, le=2**31 - 1, description="A version number; the newest version by default"),
]

UPLOAD_ERRORS = problem_responses(401, 403, 404, 409, 413, 415, 422, 429, 503)
READ_ERRORS = problem_responses(401, 403, 404, 422)
CONTENT_ERRORS = problem_responses(401, 403, 404, 409, 416, 422, 500)
ADMIN_ERRORS = problem_responses(401, 403, 404, 409, 422)

_BINARY = {"schema": {"type": "string", "format": "binary"}}


def _upload_body(model: type[BaseModel], *, metadata_required: bool) -> dict[str, Any]:
    required = ["file", "metadata"] if metadata_required else ["file"]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": required,
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The artifact. Its file name is kept as "
                                "metadata only; the storage location is server-generated.",
                            },
                            "metadata": {
                                "type": "string",
                                "contentMediaType": "application/json",
                                "contentSchema": model.model_json_schema(),
                                "description": "JSON object (see contentSchema).",
                            },
                            "provenance": {
                                "type": "string",
                                "format": "binary",
                                "description": "Optional detached signature or in-toto/SLSA "
                                "provenance, stored and served verbatim with its digest.",
                            },
                        },
                    },
                    "encoding": {"metadata": {"contentType": "application/json"}},
                }
            },
        }
    }


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


async def _end_transaction(session: AsyncSession) -> None:
    """Commit the checks' transaction before a long body streams in.

    Its only writes are authentication bookkeeping; holding it open would keep SQLite's
    write lock (or an idle PostgreSQL transaction) for the whole upload. The rows are
    written later, in a fresh transaction of this same unit of work.
    """
    await session.commit()


M = TypeVar("M", bound=BaseModel)


async def _receive(
    request: Request,
    runtime: Runtime,
    plan: service.UploadPlan,
    model: type[M],
    *,
    metadata_required: bool,
) -> ReceivedUpload[M]:
    return await receive_upload(
        request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=_content_length(request),
        storage=runtime.storage,
        artifact_id=plan.artifact_id,
        version_id=plan.version_id,
        limits=plan.limits,
        metadata_model=model,
        metadata_required=metadata_required,
    )


@router.post(
    "/topics/{slug}/artifacts",
    status_code=status.HTTP_201_CREATED,
    responses=UPLOAD_ERRORS,
    openapi_extra=_upload_body(ArtifactMetadata, metadata_required=True),
)
async def upload_artifact(
    slug: SlugPath, caller: Member, session: DbSession, runtime: AppRuntime, request: Request
) -> ArtifactRead:
    """Share a file in a topic. Streamed, hashed and encrypted on the way to storage;
    `status` is `pending_review` in `restricted` and `us_only` topics until an admin releases
    it. Over `EXCHANGE_MAX_ARTIFACT_BYTES` (or the member's quota) answers 413 and keeps
    nothing."""
    plan = await service.plan_upload(
        session, runtime, actor=caller.actor, scope=caller.scope, slug=slug
    )
    await _end_transaction(session)
    received = await _receive(request, runtime, plan, ArtifactMetadata, metadata_required=True)
    try:
        artifact, version, topic = await service.create_artifact(
            session,
            runtime,
            actor=caller.actor,
            scope=caller.scope,
            slug=slug,
            plan=plan,
            received=received,
        )
    except BaseException:
        await received.discard(runtime.storage)
        raise
    return views.artifact_read(artifact, version, topic)


@router.get("/topics/{slug}/artifacts", responses=READ_ERRORS)
async def list_artifacts(
    slug: SlugPath, caller: Member, session: DbSession, page: PageArgs
) -> Page[ArtifactRead]:
    """Newest first, with each artifact's newest version."""
    limit, cursor = page
    topic = await discussion.access_topic(session, caller.scope, slug, content=True)
    rows = await repository.topic_page(
        session, topic.id, before=_time_id_cursor(cursor), limit=limit + 1
    )
    items = [views.artifact_read(a, v, topic) for a, v in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_time_key(last.created_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/artifacts/{artifact_id}", responses=READ_ERRORS)
async def get_artifact(
    artifact_id: ArtifactPath, caller: Member, session: DbSession
) -> ArtifactRead:
    artifact, topic = await service.access_artifact(session, caller.scope, artifact_id)
    version = await service.version_of(session, artifact, None)
    return views.artifact_read(artifact, version, topic)


@router.get("/artifacts/{artifact_id}/versions", responses=READ_ERRORS)
async def list_versions(
    artifact_id: ArtifactPath, caller: Member, session: DbSession
) -> list[VersionRead]:
    """Every version, oldest first, each with its own digest and the one it replaced."""
    artifact, _topic = await service.access_artifact(session, caller.scope, artifact_id)
    versions = await repository.versions(session, artifact.id)
    previous: str | None = None
    items = []
    for version in versions:
        items.append(views.version_read(version, previous))
        previous = version.sha256
    return items


@router.post(
    "/artifacts/{artifact_id}/versions",
    status_code=status.HTTP_201_CREATED,
    responses=UPLOAD_ERRORS,
    openapi_extra=_upload_body(VersionMetadata, metadata_required=False),
)
async def add_version(
    artifact_id: ArtifactPath,
    caller: Member,
    session: DbSession,
    runtime: AppRuntime,
    request: Request,
) -> ArtifactRead:
    """A new version (uploader only), reviewed like the first in restricted tiers."""
    plan = await service.plan_version(
        session, runtime, actor=caller.actor, scope=caller.scope, artifact_id=artifact_id
    )
    await _end_transaction(session)
    received = await _receive(request, runtime, plan, VersionMetadata, metadata_required=False)
    try:
        artifact, version, topic = await service.add_version(
            session,
            runtime,
            actor=caller.actor,
            scope=caller.scope,
            plan=plan,
            received=received,
        )
    except BaseException:
        await received.discard(runtime.storage)
        raise
    return views.artifact_read(artifact, version, topic)


# --- Content ------------------------------------------------------------------------------

CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole version", "content": {"application/octet-stream": _BINARY}},
    206: {
        "description": "The requested byte range",
        "content": {"application/octet-stream": _BINARY},
    },
    304: {"description": "Not modified (If-None-Match)"},
    **CONTENT_ERRORS,
}


@router.get(
    "/artifacts/{artifact_id}/content", response_class=Response, responses=CONTENT_RESPONSES
)
async def download(
    artifact_id: ArtifactPath,
    caller: Member,
    session: DbSession,
    runtime: AppRuntime,
    request: Request,
    version: VersionQuery = None,
) -> Response:
    """The bytes, decrypted as they stream. `ETag: "<sha256>"`, `If-None-Match`, one
    `Range: bytes=` range (206), `Repr-Digest`. Access is judged at this moment; every
    download, whole or ranged, is recorded with the member's countries and tier. 409
    `pending_review` until an admin releases the version (admins may fetch it to review)."""
    return await downloads.serve_content(
        request,
        session,
        runtime,
        actor=caller.actor,
        scope=caller.scope,
        artifact_id=artifact_id,
        number=version,
        head=False,
    )


@router.head(
    "/artifacts/{artifact_id}/content", response_class=Response, responses=CONTENT_RESPONSES
)
async def download_head(
    artifact_id: ArtifactPath,
    caller: Member,
    session: DbSession,
    runtime: AppRuntime,
    request: Request,
    version: VersionQuery = None,
) -> Response:
    """The headers of a download (size, ETag, Content-Range); no bytes, no record."""
    return await downloads.serve_content(
        request,
        session,
        runtime,
        actor=caller.actor,
        scope=caller.scope,
        artifact_id=artifact_id,
        number=version,
        head=True,
    )


@router.get(
    "/artifacts/{artifact_id}/versions/{number}/provenance",
    response_class=Response,
    responses={
        200: {
            "description": "The provenance file, verbatim",
            "content": {"application/octet-stream": _BINARY},
        },
        304: {"description": "Not modified (If-None-Match)"},
        **CONTENT_ERRORS,
    },
)
async def download_provenance(
    artifact_id: ArtifactPath,
    number: VersionNumber,
    caller: Member,
    session: DbSession,
    runtime: AppRuntime,
    request: Request,
) -> Response:
    """The detached signature or in-toto/SLSA statement attached to a version, byte for byte
    as uploaded; its SHA-256 is the ETag. Same access rules as the content."""
    return await downloads.serve_provenance(
        request,
        session,
        runtime,
        actor=caller.actor,
        scope=caller.scope,
        artifact_id=artifact_id,
        number=number,
    )


# --- Release review -----------------------------------------------------------------------


async def admin_caller(actor: AdminActor, runtime: AppRuntime) -> Caller:
    step_up = policy.step_up_tier(runtime.settings.step_up_tier)
    return Caller(actor, policy.discussion_scope(actor, step_up))


Admin = Annotated[Caller, Depends(admin_caller)]


@router.post("/admin/artifacts/{artifact_id}/review", responses=ADMIN_ERRORS)
async def review_artifact(
    artifact_id: ArtifactPath, body: ReviewRequest, caller: Admin, session: DbSession
) -> ArtifactRead:
    """Release or reject a version awaiting review (the newest by default). The reviewer
    must be an admin other than the uploader and, receiving the content, must reach the
    topic's tier like anyone else."""
    artifact, _version, topic = await service.review(
        session, actor=caller.actor, scope=caller.scope, artifact_id=artifact_id, body=body
    )
    newest = await service.version_of(session, artifact, None)
    return views.artifact_read(artifact, newest, topic)


@router.get("/admin/artifacts", responses=ADMIN_ERRORS)
async def review_queue(
    caller: Admin,
    session: DbSession,
    page: PageArgs,
    status: Literal["pending_review", "available", "rejected"] = "pending_review",
) -> Page[ReviewQueueItem]:
    """Versions by review status, oldest first, in the topics this admin can reach."""
    limit, cursor = page
    rows = await repository.review_queue(
        session,
        tiers=caller.scope.open_tiers,
        status=status,
        after=_time_id_cursor(cursor),
        limit=limit + 1,
    )
    items = [
        ReviewQueueItem(
            artifact_id=artifact.id,
            topic=topic.slug,
            tier=Tier(topic.tier).value,
            title=artifact.title,
            durc_category=artifact.durc_category,
            version=views.version_read(version, None),
        )
        for artifact, version, topic in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][1]
        next_cursor = encode_time_key(last.created_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


# --- Export records -----------------------------------------------------------------------


@router.get("/artifacts/{artifact_id}/downloads", responses=READ_ERRORS)
async def list_downloads(
    artifact_id: ArtifactPath, caller: Member, session: DbSession, page: PageArgs
) -> Page[DownloadRead]:
    """Who received this artifact: admins, auditors, and its uploader. Newest first."""
    limit, cursor = page
    rows = await service.downloads_for(
        session,
        actor=caller.actor,
        scope=caller.scope,
        artifact_id=artifact_id,
        before=_time_id_cursor(cursor),
        limit=limit + 1,
    )
    contact = policy.can_read_audit(caller.actor) is None
    items = [views.download_read(row, contact=contact) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_time_key(last.started_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


def _moment(value: datetime | None, name: str) -> datetime | None:
    """Query timestamps: naive ones are read as UTC; impossible ones are a 422."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise Unprocessable(f"{name}: out of range", code="validation_error") from None


@router.get(
    "/admin/exports/downloads",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every download record in the window, oldest first",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **problem_responses(401, 403, 422),
    },
)
async def export_downloads(
    actor: AdminActor,
    session: DbSession,
    runtime: AppRuntime,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> StreamingResponse:
    """The compliance export: who received what, when, from which country set and tier.
    `since` inclusive, `until` exclusive; JSON Lines or CSV (formula-safe cells)."""
    start, end = _moment(since, "since"), _moment(until, "until")
    await service.record_export(session, actor=actor, since=start, until=end, fmt=format)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        exports.export_lines(runtime.db, since=start, until=end, fmt=format),
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="downloads-{stamp}.{format}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


# --- Cursors ------------------------------------------------------------------------------


def _time_id_cursor(cursor: str | None) -> TimeKey | None:
    """The shared (timestamp, id) keyset, refusing naive timestamps: a doctored cursor must
    be a 422, not a value the database layer rejects."""
    key = decode_time_key(cursor)
    if key is not None and key[0].tzinfo is None:
        raise Unprocessable("cursor is not valid", code="invalid_cursor")
    return key
