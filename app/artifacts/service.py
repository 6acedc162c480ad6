"""Artifact actions. Each takes a keyword-only actor (and its discussion scope), asks the
policy, writes its audit event in the same transaction, and leaves committing to the caller.

`access_artifact` answers "does not exist" and "you may not see it" with the same 404: an
artifact is exactly as visible as its topic's content.

Lock order (as in discussion): topic, then artifact row, then the uploader's user row (quota),
then the audit chain (taken by `audit.record`, always last).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import policy
from app.artifacts import repository
from app.artifacts.crypto import IntegrityError, KeyRing, UnknownKeyError
from app.artifacts.delivery import ByteRange
from app.artifacts.schemas import ArtifactMetadata, ReviewRequest, VersionMetadata
from app.artifacts.upload import ReceivedUpload, UploadLimits, blob_aad
from app.audit import service as audit
from app.auth import enforce
from app.core.context import request_context
from app.core.database import Database
from app.core.errors import Conflict, NotFound, TooLarge, Unprocessable
from app.core.runtime import Runtime
from app.discussion import repository as discussion_repository
from app.discussion import service as discussion
from app.models import Artifact, ArtifactDownload, ArtifactVersion, Topic
from app.models.base import new_id, utcnow
from app.policy import Actor, ArtifactStatus, DiscussionScope, Tier

# --- Access -------------------------------------------------------------------------------


async def access_artifact(
    session: AsyncSession, scope: DiscussionScope, artifact_id: uuid.UUID, *, lock: bool = False
) -> tuple[Artifact, Topic]:
    found = await repository.artifact_with_topic(session, artifact_id, lock=lock)
    if found is None:
        raise NotFound()
    artifact, topic = found
    enforce(policy.can_open_topic(scope, Tier(topic.tier)))
    return artifact, topic


async def version_of(
    session: AsyncSession, artifact: Artifact, number: int | None
) -> ArtifactVersion:
    """The numbered version, or the newest one; a missing number is a 404."""
    found = await repository.version(session, artifact.id, number or artifact.latest_version)
    if found is None:
        raise NotFound("No such version of this artifact.")
    return found


# --- Uploads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadPlan:
    """Everything decided before the body is read: ids (the encryption binds to them) and
    the limits the stream must stay under."""

    artifact_id: uuid.UUID
    version_id: uuid.UUID
    limits: UploadLimits


async def _limits(session: AsyncSession, runtime: Runtime, actor: Actor) -> UploadLimits:
    settings = runtime.settings
    # Counted per attempt, before the body: a member cannot stream without limit by having
    # every upload refused late.
    await runtime.rate_limits.consume(
        settings.artifact_uploads_per_member, "artifact-upload", str(actor.user_id)
    )
    used = await repository.bytes_stored_by(session, actor.user_id)
    return UploadLimits(
        max_bytes=settings.max_artifact_bytes,
        quota_left=settings.artifact_quota_bytes - used,
        max_provenance_bytes=settings.artifact_max_provenance_bytes,
    )


async def plan_upload(
    session: AsyncSession, runtime: Runtime, *, actor: Actor, scope: DiscussionScope, slug: str
) -> UploadPlan:
    topic = await discussion.access_topic(session, scope, slug, content=True)
    enforce(
        policy.can_upload_artifact(scope, Tier(topic.tier), archived=topic.archived_at is not None)
    )
    return UploadPlan(new_id(), new_id(), await _limits(session, runtime, actor))


async def plan_version(
    session: AsyncSession,
    runtime: Runtime,
    *,
    actor: Actor,
    scope: DiscussionScope,
    artifact_id: uuid.UUID,
) -> UploadPlan:
    artifact, topic = await access_artifact(session, scope, artifact_id)
    enforce(
        policy.can_add_artifact_version(
            scope,
            Tier(topic.tier),
            archived=topic.archived_at is not None,
            owner_id=artifact.uploader_id,
        )
    )
    return UploadPlan(artifact.id, new_id(), await _limits(session, runtime, actor))


async def _check_quota(session: AsyncSession, runtime: Runtime, actor: Actor, size: int) -> None:
    """Again under the member's row lock: concurrent uploads each passed the early check."""
    await repository.lock_user(session, actor.user_id)
    used = await repository.bytes_stored_by(session, actor.user_id)
    if used + size > runtime.settings.artifact_quota_bytes:
        raise TooLarge(
            "The file does not fit in your remaining upload quota.", code="quota_exceeded"
        )


async def _linked_thread(
    session: AsyncSession, scope: DiscussionScope, topic: Topic, thread_id: uuid.UUID | None
) -> uuid.UUID | None:
    if thread_id is None:
        return None
    found = await discussion_repository.thread_in_topic(session, thread_id)
    # A thread elsewhere, hidden, or missing: one answer, so ids do not leak.
    if found is None or found[0].topic_id != topic.id:
        raise Unprocessable("thread_id: no such thread in this topic", code="invalid_thread")
    thread, _ = found
    visible = policy.can_open_thread(
        scope, Tier(topic.tier), quarantined=thread.quarantined_at is not None
    )
    if visible is not None:
        raise Unprocessable("thread_id: no such thread in this topic", code="invalid_thread")
    enforce(
        policy.can_contribute(
            archived=topic.archived_at is not None,
            locked=thread.locked_at is not None,
            quarantined=thread.quarantined_at is not None,
        )
    )
    return thread.id


def _version_row(
    runtime: Runtime,
    *,
    actor: Actor,
    plan: UploadPlan,
    received: ReceivedUpload[ArtifactMetadata] | ReceivedUpload[VersionMetadata],
    number: int,
    status: ArtifactStatus,
    license: str | None,
    source_url: str | None,
    source_commit: str | None,
    changelog: str | None,
) -> ArtifactVersion:
    key_id, wrapped = runtime.artifact_keys.wrap(
        received.data_key, aad=blob_aad(plan.artifact_id, plan.version_id)
    )
    stored, provenance = received.file, received.provenance
    return ArtifactVersion(
        id=plan.version_id,
        artifact_id=plan.artifact_id,
        number=number,
        uploader_id=actor.user_id,
        status=status.value,
        filename=stored.filename,
        media_type=stored.media_type,
        sha256=stored.sha256,
        plaintext_size=stored.size,
        ciphertext_size=stored.ciphertext_size,
        blob_key=stored.key,
        key_id=key_id,
        wrapped_key=wrapped,
        license=license,
        source_url=source_url,
        source_commit=source_commit,
        changelog=changelog,
        provenance_blob_key=provenance.key if provenance else None,
        provenance_filename=provenance.filename if provenance else None,
        provenance_media_type=provenance.media_type if provenance else None,
        provenance_sha256=provenance.sha256 if provenance else None,
        provenance_size=provenance.size if provenance else None,
        created_at=utcnow(),
    )


def _upload_details(topic: Topic, version: ArtifactVersion) -> dict[str, object]:
    return {
        "topic": topic.slug,
        "tier": topic.tier,
        "version": version.number,
        "version_id": str(version.id),
        "sha256": version.sha256,
        "size": version.plaintext_size,
        "filename": version.filename,
        "status": version.status,
        "provenance_sha256": version.provenance_sha256,
    }


async def create_artifact(
    session: AsyncSession,
    runtime: Runtime,
    *,
    actor: Actor,
    scope: DiscussionScope,
    slug: str,
    plan: UploadPlan,
    received: ReceivedUpload[ArtifactMetadata],
) -> tuple[Artifact, ArtifactVersion, Topic]:
    """Write the rows for a blob that is already durable. Access is judged again: the topic
    may have been re-tiered or archived while the bytes were streaming."""
    topic = await discussion.access_topic(session, scope, slug, content=True)
    tier = Tier(topic.tier)
    enforce(policy.can_upload_artifact(scope, tier, archived=topic.archived_at is not None))
    meta = received.metadata
    thread_id = await _linked_thread(session, scope, topic, meta.thread_id)
    await _check_quota(session, runtime, actor, received.file.size)
    now = utcnow()
    artifact = Artifact(
        id=plan.artifact_id,
        topic_id=topic.id,
        thread_id=thread_id,
        uploader_id=actor.user_id,
        title=meta.title,
        description=meta.description or "",
        durc_category=meta.durc_category,
        latest_version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(artifact)
    await session.flush()
    version = _version_row(
        runtime,
        actor=actor,
        plan=plan,
        received=received,
        number=1,
        status=policy.initial_artifact_status(tier),
        license=meta.license,
        source_url=meta.source_url,
        source_commit=meta.source_commit,
        changelog=None,
    )
    session.add(version)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="artifact.uploaded",
        target_type="artifact",
        target_id=artifact.id,
        details={"title": artifact.title, **_upload_details(topic, version)},
    )
    return artifact, version, topic


async def add_version(
    session: AsyncSession,
    runtime: Runtime,
    *,
    actor: Actor,
    scope: DiscussionScope,
    plan: UploadPlan,
    received: ReceivedUpload[VersionMetadata],
) -> tuple[Artifact, ArtifactVersion, Topic]:
    artifact, topic = await access_artifact(session, scope, plan.artifact_id, lock=True)
    tier = Tier(topic.tier)
    enforce(
        policy.can_add_artifact_version(
            scope, tier, archived=topic.archived_at is not None, owner_id=artifact.uploader_id
        )
    )
    await _check_quota(session, runtime, actor, received.file.size)
    previous = await version_of(session, artifact, None)
    meta = received.metadata
    version = _version_row(
        runtime,
        actor=actor,
        plan=plan,
        received=received,
        number=artifact.latest_version + 1,
        status=policy.initial_artifact_status(tier),
        license=meta.license or previous.license,
        source_url=meta.source_url or previous.source_url,
        source_commit=meta.source_commit,
        changelog=meta.changelog,
    )
    session.add(version)
    artifact.latest_version = version.number
    artifact.updated_at = version.created_at
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="artifact.version_added",
        target_type="artifact",
        target_id=artifact.id,
        details={"previous_sha256": previous.sha256, **_upload_details(topic, version)},
    )
    return artifact, version, topic


# --- Release review -----------------------------------------------------------------------


async def review(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    artifact_id: uuid.UUID,
    body: ReviewRequest,
) -> tuple[Artifact, ArtifactVersion, Topic]:
    artifact, topic = await access_artifact(session, scope, artifact_id, lock=True)
    if body.version is not None:
        version = await version_of(session, artifact, body.version)
    else:
        pending = await repository.newest_pending(session, artifact.id)
        if pending is None:
            raise Conflict("No version of this artifact awaits review.", code="not_pending_review")
        version = pending
    enforce(
        policy.can_review_artifact(
            actor,
            scope,
            Tier(topic.tier),
            uploader_id=version.uploader_id,
            status=ArtifactStatus(version.status),
        )
    )
    released = body.decision == "release"
    version.status = (ArtifactStatus.available if released else ArtifactStatus.rejected).value
    version.reviewed_by = actor.user_id
    version.reviewed_at = utcnow()
    version.review_reason = body.reason
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="artifact.released" if released else "artifact.rejected",
        target_type="artifact",
        target_id=artifact.id,
        reason=body.reason,
        details={
            "version": version.number,
            "version_id": str(version.id),
            "sha256": version.sha256,
            "uploader_id": str(version.uploader_id),
            "topic": topic.slug,
            "tier": topic.tier,
        },
    )
    return artifact, version, topic


# --- Downloads ----------------------------------------------------------------------------


def countries_at(actor: Actor) -> list[dict[str, str | None]]:
    """The member's attached countries as they stand right now: the export record keeps
    them, since a later suspension must not rewrite who was eligible when."""
    return [
        {
            "code": fact.code,
            "relation": fact.relation.value,
            "status": fact.status.value,
            "tier": fact.cert_tier.value if fact.cert_tier else None,
        }
        for fact in actor.countries
    ]


async def start_download(
    session: AsyncSession,
    *,
    actor: Actor,
    artifact: Artifact,
    version: ArtifactVersion,
    kind: str,
    byte_range: ByteRange | None,
    planned: int,
) -> ArtifactDownload:
    """The export record, written (and committed) before the first byte leaves."""
    context = request_context.get()
    tier = actor.eligibility.tier
    record = ArtifactDownload(
        id=new_id(),
        artifact_id=artifact.id,
        version_id=version.id,
        user_id=actor.user_id,
        kind=kind,
        started_at=utcnow(),
        range_start=byte_range.start if byte_range else None,
        range_end=byte_range.end if byte_range else None,
        bytes_planned=planned,
        bytes_served=0,
        outcome="started",
        effective_tier=tier.value if tier else None,
        countries=countries_at(actor),
        client_address=context.client_address,
        request_id=context.request_id,
    )
    session.add(record)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="artifact.downloaded",
        target_type="artifact",
        target_id=artifact.id,
        details={
            "download_id": str(record.id),
            "kind": kind,
            "version": version.number,
            "sha256": version.sha256,
            "range": [byte_range.start, byte_range.end] if byte_range else None,
            "bytes_planned": planned,
            "effective_tier": record.effective_tier,
            "countries": [f"{c['code']}:{c['relation']}:{c['status']}" for c in record.countries],
        },
    )
    return record


async def finish_download(
    db: Database,
    *,
    actor_id: uuid.UUID,
    artifact_id: uuid.UUID,
    download_id: uuid.UUID,
    bytes_served: int,
    outcome: str,
    error: BaseException | None,
) -> None:
    """Runs after the response ended, in a transaction of its own (the request's committed
    before the first byte). A failed transfer is an audit event: it means corrupt storage."""
    async with db.session() as session:
        await repository.finish_download(
            session,
            download_id,
            bytes_served=bytes_served,
            outcome=outcome,
            finished_at=utcnow(),
        )
        if outcome == "failed":
            await audit.record(
                session,
                actor_id=actor_id,
                action="artifact.transfer_failed",
                target_type="artifact",
                target_id=artifact_id,
                details={
                    "download_id": str(download_id),
                    "bytes_served": bytes_served,
                    "error": type(error).__name__ if error else None,
                    "integrity": isinstance(error, IntegrityError),
                },
            )


async def record_unreadable(
    session: AsyncSession,
    *,
    actor: Actor,
    artifact: Artifact,
    version: ArtifactVersion,
    problem: str,
) -> None:
    """A blob that is missing or fails authentication before the first byte."""
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="artifact.unreadable",
        target_type="artifact",
        target_id=artifact.id,
        details={"version": version.number, "version_id": str(version.id), "problem": problem},
    )


async def downloads_for(
    session: AsyncSession,
    *,
    actor: Actor,
    scope: DiscussionScope,
    artifact_id: uuid.UUID,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[repository.AnyRow]:
    found = await repository.artifact_with_topic(session, artifact_id)
    if found is None:
        raise NotFound()
    artifact, topic = found
    enforce(
        policy.can_read_download_records(
            actor, scope, Tier(topic.tier), uploader_id=artifact.uploader_id
        )
    )
    return await repository.downloads_page(session, artifact_id, before=before, limit=limit)


async def record_export(
    session: AsyncSession,
    *,
    actor: Actor,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
) -> None:
    """Who took the compliance export, and of which window: an export is a disclosure too."""
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="artifact.downloads_exported",
        target_type="export",
        target_id="downloads",
        details={
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "format": fmt,
        },
    )


# --- Key rotation -------------------------------------------------------------------------


@dataclass
class RotationReport:
    current_key_id: str
    rewrapped: int = 0
    unknown_key: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


async def rotate_keys(db: Database, ring: KeyRing, *, batch: int = 500) -> RotationReport:
    """Re-wrap every data key not under the current master key; the blobs stay untouched.

    One transaction per batch, so a large store makes progress even if interrupted; running
    it again carries on. Versions whose key id the ring does not know, or whose wrapped key
    fails to open, are reported and left as they are.
    """
    report = RotationReport(current_key_id=ring.current_key_id)
    after: uuid.UUID | None = None
    while True:
        async with db.session() as session:
            rows = await repository.versions_needing_rewrap(
                session, ring.current_key_id, after=after, limit=batch
            )
            if not rows:
                return report
            done = 0
            for version in rows:
                aad = blob_aad(version.artifact_id, version.id)
                try:
                    version.key_id, version.wrapped_key = ring.rewrap(
                        version.key_id, version.wrapped_key, aad=aad
                    )
                except UnknownKeyError:
                    report.unknown_key.append(str(version.id))
                    continue
                except IntegrityError:
                    report.unreadable.append(str(version.id))
                    continue
                done += 1
            after = rows[-1].id
            report.rewrapped += done
            if done:
                await session.flush()
                await audit.record(
                    session,
                    actor_id=None,
                    action="artifact.keys_rewrapped",
                    target_type="master_key",
                    target_id=ring.current_key_id,
                    details={"versions": done},
                )
