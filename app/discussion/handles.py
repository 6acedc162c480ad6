"""Display handles (`@alice_b`) and the mentions written with them.

Display names are free text and not unique, so a mention needs something that is: each
member who takes part in discussion gets a unique, case-folded handle derived from their
display name (changeable later). Mentions inside Markdown code are not mentions: a Python
decorator in a code block must not notify a member called `dataclass`.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable

from anyascii import anyascii
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.discussion import repository
from app.models import DiscussionProfile
from app.models.base import utcnow

HANDLE_MAX = 32
MAX_MENTIONS = 20

_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{2,32})(?![\w@])")
_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`", re.DOTALL)
_INDENTED_CODE = re.compile(r"^(?: {4}|\t).*$", re.MULTILINE)
_NOT_HANDLE = re.compile(r"[^a-z0-9_]+")


def mentioned_handles(body: str) -> list[str]:
    """Handles mentioned outside code, case-folded, first occurrence order, at most 20."""
    text = _INDENTED_CODE.sub("", _CODE.sub(" ", body))
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        seen.setdefault(match.group(1).lower(), None)
        if len(seen) >= MAX_MENTIONS:
            break
    return list(seen)


def handle_base(display_name: str) -> str:
    base = _NOT_HANDLE.sub("_", anyascii(display_name).lower()).strip("_")
    return (base or "member")[: HANDLE_MAX - 6].rstrip("_") or "member"


async def profile_of(session: AsyncSession, user_id: uuid.UUID) -> DiscussionProfile | None:
    return await session.scalar(
        select(DiscussionProfile).where(DiscussionProfile.user_id == user_id)
    )


async def ensure_profile(
    session: AsyncSession, user_id: uuid.UUID, display_name: str
) -> DiscussionProfile:
    """The member's profile, created with a free handle on first use.

    Inserts ignore conflicts, so two first posts racing for the same member, or two members
    racing for the same handle, end with one row each instead of an error.
    """
    existing = await profile_of(session, user_id)
    if existing is not None:
        return existing
    base = handle_base(display_name)
    for attempt in range(12):
        candidate = base if attempt == 0 else f"{base}_{secrets.randbelow(10**4):04d}"
        taken = await session.scalar(
            select(DiscussionProfile.user_id).where(DiscussionProfile.handle == candidate)
        )
        if taken is not None:
            continue
        await repository.insert_ignoring_duplicates(
            session,
            DiscussionProfile,
            {
                "user_id": user_id,
                "handle": candidate,
                "email_digest": False,
                "created_at": utcnow(),
            },
        )
        created = await profile_of(session, user_id)
        if created is not None:
            return created
    # Twelve collisions in a row means a crowded base; a random handle always fits.
    profile = DiscussionProfile(
        user_id=user_id,
        handle=f"member_{secrets.token_hex(6)}",
        email_digest=False,
        created_at=utcnow(),
    )
    session.add(profile)
    await session.flush()
    return profile


async def users_by_handle(session: AsyncSession, handles: Iterable[str]) -> list[uuid.UUID]:
    wanted = list(handles)
    if not wanted:
        return []
    rows = await session.scalars(
        select(DiscussionProfile.user_id).where(DiscussionProfile.handle.in_(wanted))
    )
    return list(rows.all())
