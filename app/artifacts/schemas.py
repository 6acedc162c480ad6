"""Artifact request and response bodies. Upload metadata arrives as a JSON string inside the
multipart body and is validated with the same strictness as any JSON body."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel

from app.core.types import Input, MultiLine, Reason, SingleLine

ArtifactStatusName = Literal["available", "pending_review", "rejected"]
TierName = Literal["general", "restricted", "us_only"]

# A declared category, so compliance can report what kind of dual-use risk was shared. The
# vocabulary follows the usual frontier-AI risk areas; `none` is an explicit declaration that
# the uploader sees no dual-use concern, `other` leaves the judgement to the reviewer.
DurcCategory = Literal[
    "none",
    "cbrn_uplift",
    "cyber_offense",
    "autonomous_replication",
    "dangerous_capability_evaluation",
    "model_weights",
    "persuasion_manipulation",
    "surveillance",
    "other",
]

_SPDX_ID = re.compile(
    r"^(LicenseRef-|DocumentRef-[A-Za-z0-9.-]+:LicenseRef-)?[A-Za-z0-9][A-Za-z0-9.-]*\+?$"
)
_SPDX_OPERATORS = {"AND", "OR", "WITH"}


def _spdx_expression(value: str) -> str:
    """An SPDX license identifier or expression (`MIT`, `Apache-2.0 OR MIT`,
    `GPL-2.0-only WITH Classpath-exception-2.0`, `LicenseRef-Internal`), checked for syntax:
    the SPDX list itself changes, and an unknown id is the reviewer's call, not a 422."""
    tokens = value.replace("(", " ( ").replace(")", " ) ").split()
    depth, expect_id = 0, True
    for term in tokens:
        if term == "(":
            if not expect_id:
                raise ValueError("not an SPDX license expression")
            depth += 1
        elif term == ")":
            depth -= 1
            if depth < 0 or expect_id:
                raise ValueError("not an SPDX license expression")
        elif term in _SPDX_OPERATORS:
            if expect_id:
                raise ValueError("not an SPDX license expression")
            expect_id = True
        else:
            if not expect_id or not _SPDX_ID.match(term):
                raise ValueError("not an SPDX license identifier or expression")
            expect_id = False
    if depth != 0 or expect_id:
        raise ValueError("not an SPDX license expression")
    return " ".join(value.split())


def _source_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an http(s) URL of the source repository")
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain whitespace")
    return value


def _commit(value: str) -> str:
    value = value.lower()
    if not re.fullmatch(r"[0-9a-f]{7,64}", value):
        raise ValueError("must be a hexadecimal commit id (7 to 64 characters)")
    return value


License = Annotated[str, SingleLine(100), AfterValidator(_spdx_expression)]
SourceUrl = Annotated[str, SingleLine(2000), AfterValidator(_source_url)]
SourceCommit = Annotated[str, SingleLine(64), AfterValidator(_commit)]


class ArtifactMetadata(Input):
    """The `metadata` part of `POST /topics/{slug}/artifacts`."""

    title: Annotated[str, SingleLine(300)]
    description: Annotated[str, MultiLine(20000)] | None = None
    license: License | None = None
    source_url: SourceUrl | None = None
    source_commit: SourceCommit | None = None
    durc_category: DurcCategory | None = None
    thread_id: uuid.UUID | None = None


class VersionMetadata(Input):
    """The optional `metadata` part of `POST /artifacts/{id}/versions`; `license` and
    `source_url` carry over from the previous version when left out."""

    changelog: Annotated[str, MultiLine(20000)] | None = None
    license: License | None = None
    source_url: SourceUrl | None = None
    source_commit: SourceCommit | None = None


class ReviewRequest(Input):
    decision: Literal["release", "reject"]
    reason: Reason
    # Which version to review; by default the newest one awaiting review.
    version: int | None = None


class ProvenanceRead(BaseModel):
    filename: str
    media_type: str
    sha256: str
    size: int


class ReviewRead(BaseModel):
    decision: Literal["release", "reject"]
    reviewed_by: uuid.UUID
    reviewed_at: datetime
    reason: str


class VersionRead(BaseModel):
    id: uuid.UUID
    number: int
    status: ArtifactStatusName
    sha256: str
    size: int
    filename: str
    media_type: str
    license: str | None
    source_url: str | None
    source_commit: str | None
    changelog: str | None
    provenance: ProvenanceRead | None
    # The digest of the version this one replaced: the chain of versions, digest by digest.
    previous_sha256: str | None
    uploader_id: uuid.UUID
    created_at: datetime
    review: ReviewRead | None


class ArtifactRead(BaseModel):
    """An artifact with the facts of its newest version at the top level; `GET
    /artifacts/{id}/content` serves that version (older ones with `?version=`)."""

    id: uuid.UUID
    topic: str
    tier: TierName
    thread_id: uuid.UUID | None
    title: str
    description: str
    durc_category: DurcCategory | None
    uploader_id: uuid.UUID
    status: ArtifactStatusName
    version: int
    version_id: uuid.UUID
    sha256: str
    size: int
    filename: str
    media_type: str
    license: str | None
    source_url: str | None
    source_commit: str | None
    provenance: ProvenanceRead | None
    created_at: datetime
    updated_at: datetime


class CountryAtDownload(BaseModel):
    code: str
    relation: str
    status: str
    tier: str | None = None


class DownloadRead(BaseModel):
    """One export record. `email` and `client_address` are shown to admins and auditors;
    an uploader sees who (by name) received their artifact, not how to reach them."""

    id: uuid.UUID
    artifact_id: uuid.UUID
    version: int
    version_id: uuid.UUID
    sha256: str
    kind: Literal["content", "provenance"]
    user_id: uuid.UUID
    display_name: str
    email: str | None
    started_at: datetime
    finished_at: datetime | None
    range_start: int | None
    range_end: int | None
    bytes_planned: int
    bytes_served: int
    outcome: Literal["started", "complete", "aborted", "failed"]
    effective_tier: TierName | None
    countries: list[CountryAtDownload]
    client_address: str | None


class ReviewQueueItem(BaseModel):
    artifact_id: uuid.UUID
    topic: str
    tier: TierName
    title: str
    durc_category: DurcCategory | None
    version: VersionRead
