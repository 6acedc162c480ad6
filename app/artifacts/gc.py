"""`exchange storage gc`: remove orphaned blobs, purge abandoned temp files, and report rows
whose blob is missing.

Orphans are the designed residue of a crash: a blob is committed before its row, so a
process that dies (or a transaction that fails) in between leaves a blob nothing points at.
Only orphans older than the grace period are deleted, so an upload whose row is being
written right now is never raced. A row without its blob should never happen (rows are
written after the blob is durable); it means storage lost data, and is reported, not fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.artifacts import repository
from app.artifacts.storage import BlobStorage, LocalStorage
from app.artifacts.upload import version_id_of_key
from app.core.database import Database
from app.models.base import utcnow

PREFIX = "blobs/"
_LOOKUP_BATCH = 500


@dataclass
class GcReport:
    blobs_seen: int = 0
    orphans_deleted: list[str] = field(default_factory=list)
    orphans_within_grace: int = 0
    partials_purged: int = 0
    missing_blobs: list[dict[str, str]] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "blobs_seen": self.blobs_seen,
            "orphans_deleted" if not self.dry_run else "orphans_to_delete": self.orphans_deleted,
            "orphans_within_grace": self.orphans_within_grace,
            "partials_purged": self.partials_purged,
            "missing_blobs": self.missing_blobs,
            "dry_run": self.dry_run,
        }


async def collect(
    db: Database, storage: BlobStorage, *, grace: timedelta, dry_run: bool = False
) -> GcReport:
    report = GcReport(dry_run=dry_run)
    started = utcnow()
    cutoff = started - grace
    listed: dict[str, datetime] = {}
    async for key, modified in storage.list_keys(PREFIX):
        if version_id_of_key(key) is not None:
            listed[key] = modified
    report.blobs_seen = len(listed)

    keys = sorted(listed)
    for offset in range(0, len(keys), _LOOKUP_BATCH):
        chunk = keys[offset : offset + _LOOKUP_BATCH]
        ids = sorted({vid for vid in map(version_id_of_key, chunk) if vid is not None})
        async with db.session() as session:
            referenced = await repository.referenced_keys(session, ids)
        for key in chunk:
            if key in referenced:
                continue
            if listed[key] >= cutoff:
                report.orphans_within_grace += 1
                continue
            if not dry_run:
                await storage.delete(key)
            report.orphans_deleted.append(key)

    # Rows written before the listing began must all have their blobs in it.
    async with db.session() as session:
        async for version_id, blob, provenance in repository.version_blob_keys(
            session, created_before=started
        ):
            for wanted in (blob, provenance):
                if wanted is not None and wanted not in listed:
                    report.missing_blobs.append({"version_id": str(version_id), "key": wanted})

    if isinstance(storage, LocalStorage):
        # S3 keeps in-progress multipart uploads out of sight; its bucket lifecycle rule
        # (AbortIncompleteMultipartUpload) does the same job there.
        report.partials_purged = (
            0 if dry_run else await storage.purge_partials(grace.total_seconds())
        )
    return report
