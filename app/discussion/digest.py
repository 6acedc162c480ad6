"""The discussion e-mail digest, run by `exchange discussion digest` (e.g. hourly from cron).

Safe to run repeatedly, and from several hosts at once: each notification is claimed by the
run that stamps it (see `send_digests`), in the same transaction, so it is counted in at
most one mail.
"""

from __future__ import annotations

from app.core.runtime import Runtime
from app.discussion.notifications import send_digests


async def run(runtime: Runtime) -> int:
    async with runtime.db.session() as session:
        return await send_digests(session, runtime)
