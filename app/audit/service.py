"""Appending to the audit trail, verifying it, and signing checkpoints of its head."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import repository
from app.audit.chain import GENESIS_HASH, canonical_bytes, link_hash
from app.core.context import request_context
from app.core.security import signing_key
from app.models import AuditCheckpoint, AuditEvent
from app.models.base import utcnow

# Keys that must never reach the log, whatever a caller passes in `details`.
_SECRET_KEYS = {"password", "token", "refresh_token", "access_token", "code", "totp_code", "secret"}


def _clean(details: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (details or {}).items() if k not in _SECRET_KEYS}


async def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction; it commits or vanishes with the change."""
    context = request_context.get()
    await repository.lock_chain(session)
    last = await repository.head(session)
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        occurred_at=utcnow(),
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        reason=reason,
        request_id=context.request_id,
        client_address=context.client_address,
        details=_clean(details),
        prev_hash=prev_hash,
    )
    event.hash = link_hash(prev_hash, canonical_bytes(**_hashed_fields(event)))
    session.add(event)
    await session.flush()
    return event


def _hashed_fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "actor_id": event.actor_id,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "reason": event.reason,
        "request_id": event.request_id,
        "client_address": event.client_address,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None
    problem: str | None = None


async def verify(session: AsyncSession, master_key: bytes | None = None) -> VerifyResult:
    """Re-walk the chain; report the first event whose link or content does not hold."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    hashes_at_checkpoints: dict[int, str] = {}
    wanted = {cp.seq: cp for cp in await repository.checkpoints(session)}
    async for event in repository.walk(session):
        if event.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return VerifyResult(False, checked, event.seq, "link to previous event is broken")
        if link_hash(prev_hash, canonical_bytes(**_hashed_fields(event))) != event.hash:
            return VerifyResult(False, checked, event.seq, "event content does not match its hash")
        if event.seq in wanted:
            hashes_at_checkpoints[event.seq] = event.hash
        checked += 1
        prev_hash, expected_seq = event.hash, event.seq + 1
    for seq, checkpoint in wanted.items():
        if hashes_at_checkpoints.get(seq) != checkpoint.head_hash:
            return VerifyResult(False, checked, seq, f"signed checkpoint at {seq} does not match")
        if not checkpoint_signature_valid(checkpoint):
            return VerifyResult(False, checked, seq, f"checkpoint {seq} signature is invalid")
    return VerifyResult(True, checked, None)


def _checkpoint_message(seq: int, head_hash: str) -> bytes:
    return f"durc-exchange-audit-checkpoint:{seq}:{head_hash}".encode()


def checkpoint_signature_valid(checkpoint: AuditCheckpoint) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.public_key))
        public.verify(
            base64.b64decode(checkpoint.signature),
            _checkpoint_message(checkpoint.seq, checkpoint.head_hash),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


async def sign_checkpoint(session: AsyncSession, master_key: bytes) -> AuditCheckpoint | None:
    """Sign the current head, unless it is already signed. Safe to run from many processes."""
    await repository.lock_chain(session)
    last = await repository.head(session)
    if last is None:
        return None
    seq, head_hash = last
    if await session.get(AuditCheckpoint, seq) is not None:
        return None
    key = signing_key(master_key)
    checkpoint = AuditCheckpoint(
        seq=seq,
        head_hash=head_hash,
        signed_at=utcnow(),
        signature=base64.b64encode(key.sign(_checkpoint_message(seq, head_hash))).decode(),
        public_key=key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
    )
    session.add(checkpoint)
    await session.flush()
    return checkpoint
