"""The pure parts of artifact sharing, case by case: Range arithmetic, names and headers,
metadata validation, the streaming multipart reader, and the artifact policy functions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from app import policy
from app.artifacts.delivery import (
    ByteRange,
    Unsatisfiable,
    content_disposition,
    etag_matches,
    parse_range,
)
from app.artifacts.multipart import PartEnd, PartStart, normalise_media_type, read_parts
from app.artifacts.schemas import ArtifactMetadata
from app.artifacts.upload import blob_key, clean_filename, provenance_key, version_id_of_key
from app.core.errors import ProblemError
from app.policy import Actor, ArtifactStatus, Eligibility, Role, Tier


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """Nothing here touches the database: skip the suite's per-test cleaning."""


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-0", 100, ByteRange(0, 0)),
        ("bytes=0-99", 100, ByteRange(0, 99)),
        ("bytes=10-", 100, ByteRange(10, 99)),
        ("bytes=-1", 100, ByteRange(99, 99)),
        ("bytes=-1000", 100, ByteRange(0, 99)),
        ("bytes=90-500", 100, ByteRange(90, 99)),
        ("BYTES = 5 - 6", 100, ByteRange(5, 6)),
        ("bytes=5-4", 100, None),  # invalid: ignored, the whole representation
        ("bytes=0-1,3-4", 100, None),  # several ranges: not honoured
        ("items=0-1", 100, None),
        ("bytes=-", 100, None),
        ("bytes=abc", 100, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0)]
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_etag_matching() -> None:
    tag = '"abc"'
    assert etag_matches('"abc"', tag)
    assert etag_matches('"x", W/"abc"', tag)
    assert etag_matches("*", tag)
    assert not etag_matches('"abcd"', tag)
    assert not etag_matches(None, tag)


@pytest.mark.parametrize(
    ("name", "fallback", "encoded"),
    [
        ("report.pdf", "report.pdf", "report.pdf"),
        ('a"b\\c;d%e.txt', "a_b_c_d_e.txt", "a%22b%5Cc%3Bd%25e.txt"),
        ("résumé.pdf", "resume.pdf", "r%C3%A9sum%C3%A9.pdf"),
        ("数据.bin", "artifact.bin", "%E6%95%B0%E6%8D%AE.bin"),
        ("数据", "artifact", "%E6%95%B0%E6%8D%AE"),
    ],
)
def test_content_disposition_follows_rfc_6266(name: str, fallback: str, encoded: str) -> None:
    header = content_disposition(name)
    assert header == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (None, "artifact"),
        ("", "artifact"),
        ("/abs/path/x.bin", "x.bin"),
        ("C:\\Users\\me\\x.bin", "x.bin"),
        ("a\tb\x7fc", "a_b_c"),
        ("x" * 300, "x" * 255),
        ("e\u0301", "\u00e9"),  # NFC
    ],
)
def test_clean_filename(raw: str | None, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_blob_keys_round_trip_and_foreign_keys_are_ignored() -> None:
    version = uuid.uuid4()
    assert version_id_of_key(blob_key(version)) == version
    assert version_id_of_key(provenance_key(version)) == version
    for foreign in (
        "bench-plain/" + version.hex,
        f"blobs/{version.hex}",
        f"blobs/zz/{version.hex}",
        f"blobs/{version.hex[:2]}/{version.hex}.other",
        f"blobs/{version.hex[:2]}/not-a-uuid",
    ):
        assert version_id_of_key(foreign) is None


@pytest.mark.parametrize(
    "expression",
    ["MIT", "Apache-2.0", "MIT OR Apache-2.0", "(MIT AND BSD-3-Clause) OR GPL-2.0-or-later",
     "GPL-2.0-only WITH Classpath-exception-2.0", "LicenseRef-Internal-1", "GPL-2.0+"],
)  # fmt: skip
def test_spdx_expressions_are_accepted(expression: str) -> None:
    assert ArtifactMetadata(title="t", license=expression).license == expression


@pytest.mark.parametrize(
    "expression", ["MIT OR", "AND MIT", "(MIT", "MIT)", "MIT Apache-2.0", "MIT; rm", "()", "-MIT"]
)
def test_malformed_licenses_are_refused(expression: str) -> None:
    with pytest.raises(ValidationError):
        ArtifactMetadata(title="t", license=expression)


def test_media_types_are_kept_only_when_well_formed() -> None:
    assert normalise_media_type("Application/JSON; charset=utf-8") == "application/json"
    assert normalise_media_type("text/html\r\nX: y") == "application/octet-stream"
    assert normalise_media_type(None) == "application/octet-stream"


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


BODY = (
    b'--xx\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{}\r\n'
    b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a\xc3\xa9.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n--x-\r\n--x\r\nbody\r\n--xx--\r\nepilogue"
)


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, len(BODY)])
async def test_the_multipart_reader_is_independent_of_chunking(chunk: int) -> None:
    events = [event async for event in read_parts(_chunks(BODY, chunk), b"xx")]
    starts = [e for e in events if isinstance(e, PartStart)]
    assert [(s.name, s.filename) for s in starts] == [("metadata", None), ("file", "aé.bin")]
    assert starts[1].content_type == "application/octet-stream"
    data: dict[str, bytes] = {}
    current = ""
    for event in events:
        if isinstance(event, PartStart):
            current = event.name
            data[current] = b""
        elif isinstance(event, bytes):
            data[current] += event
        else:
            assert isinstance(event, PartEnd)
    assert data == {"metadata": b"{}", "file": b"--x-\r\n--x\r\nbody"}


@pytest.mark.parametrize(
    "body",
    [
        b'--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\nno end',
        b"--xx\r\nContent-Disposition: attachment\r\n\r\nx\r\n--xx--\r\n",
        b"--yy\r\n\r\n",
        b"--xx\r\n" + b"X-Long: " + b"a" * 10000 + b"\r\n\r\n",
    ],
)
async def test_malformed_multipart_is_a_422(body: bytes) -> None:
    with pytest.raises(ProblemError) as raised:
        async for _ in read_parts(_chunks(body, 5), b"xx"):
            pass
    assert raised.value.status == 422
    assert raised.value.code == "malformed_multipart"


# --- Policy -------------------------------------------------------------------------------


def _actor(*, tier: Tier | None, roles: tuple[Role, ...] = (), mfa: bool = False) -> Actor:
    return Actor(
        user_id=uuid.uuid4(),
        email="a@example.org",
        display_name="A",
        email_verified=True,
        roles=frozenset(roles),
        mfa_passed=mfa,
        via_personal_token=False,
        scopes=frozenset({"read", "write"}),
        session_id=uuid.uuid4(),
        membership=policy.MembershipState.active if tier else None,
        eligibility=Eligibility(tier),
    )


def _scope(actor: Actor) -> policy.DiscussionScope:
    return policy.discussion_scope(actor, Tier.us_only)


def _code(decision: policy.Decision) -> str | None:
    return None if decision is None else f"{decision.error.status} {decision.error.code}"


def test_review_is_needed_from_restricted_up() -> None:
    assert policy.initial_artifact_status(Tier.general) is ArtifactStatus.available
    assert policy.initial_artifact_status(Tier.restricted) is ArtifactStatus.pending_review
    assert policy.initial_artifact_status(Tier.us_only) is ArtifactStatus.pending_review


def test_who_receives_which_version() -> None:
    member = _actor(tier=Tier.us_only)
    admin = _actor(tier=Tier.us_only, roles=(Role.admin,), mfa=True)
    weak_admin = _actor(tier=Tier.us_only, roles=(Role.admin,))
    cases = [
        (member, ArtifactStatus.available, None),
        (member, ArtifactStatus.pending_review, "409 pending_review"),
        (admin, ArtifactStatus.pending_review, None),
        (weak_admin, ArtifactStatus.pending_review, "409 pending_review"),
        (admin, ArtifactStatus.rejected, "409 artifact_rejected"),
        (member, ArtifactStatus.rejected, "409 artifact_rejected"),
    ]
    for actor, status, expected in cases:
        assert _code(policy.can_receive_version(actor, status)) == expected


def test_review_rules() -> None:
    admin = _actor(tier=Tier.restricted, roles=(Role.admin,), mfa=True)
    scope = _scope(admin)
    pending = ArtifactStatus.pending_review
    other = uuid.uuid4()

    def review(
        who: Actor, tier: Tier, uploader: uuid.UUID, status: ArtifactStatus = pending
    ) -> str | None:
        return _code(
            policy.can_review_artifact(who, _scope(who), tier, uploader_id=uploader, status=status)
        )

    assert scope.open_tiers == (Tier.general, Tier.restricted)
    assert review(admin, Tier.restricted, other) is None
    assert review(admin, Tier.restricted, admin.user_id) == "403 forbidden"
    assert review(admin, Tier.us_only, other) == "404 not_found"
    assert review(admin, Tier.general, other, ArtifactStatus.available) == "409 not_pending_review"
    outsider = _actor(tier=None, roles=(Role.admin,), mfa=True)
    assert review(outsider, Tier.general, other) == "404 not_found"


def test_who_reads_download_records() -> None:
    uploader = _actor(tier=Tier.general)
    reader = _actor(tier=Tier.general)
    auditor = _actor(tier=None, roles=(Role.auditor,))

    def records(who: Actor, tier: Tier, owner: Actor) -> str | None:
        return _code(
            policy.can_read_download_records(who, _scope(who), tier, uploader_id=owner.user_id)
        )

    assert records(uploader, Tier.general, uploader) is None
    assert records(reader, Tier.general, uploader) == "403 forbidden"
    assert records(auditor, Tier.us_only, uploader) is None
    # An uploader who lost reach loses the records with it.
    assert records(uploader, Tier.restricted, uploader) == "404 not_found"


def test_uploads_and_versions() -> None:
    member = _actor(tier=Tier.us_only)
    scope = _scope(member)
    stranger = uuid.uuid4()
    assert policy.can_upload_artifact(scope, Tier.restricted, archived=False) is None
    assert _code(policy.can_upload_artifact(scope, Tier.us_only, archived=False)) == (
        "403 mfa_required"
    )
    assert _code(policy.can_upload_artifact(scope, Tier.general, archived=True)) == (
        "409 topic_archived"
    )
    assert (
        policy.can_add_artifact_version(
            scope, Tier.general, archived=False, owner_id=member.user_id
        )
        is None
    )
    assert _code(
        policy.can_add_artifact_version(scope, Tier.general, archived=False, owner_id=stranger)
    ) == ("403 forbidden")
