"""The hash chain: canonical encoding of an event and the hash that links it to the last."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(
    *,
    seq: int,
    occurred_at: datetime,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str | None,
    target_id: str | None,
    reason: str | None,
    request_id: str | None,
    client_address: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """Sorted-key compact JSON: the same bytes whichever database stored the row."""
    document = {
        "seq": seq,
        "occurred_at": format_time(occurred_at),
        "actor_id": str(actor_id) if actor_id else None,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "reason": reason,
        "request_id": request_id,
        "client_address": client_address,
        "details": details,
        "prev_hash": prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()
