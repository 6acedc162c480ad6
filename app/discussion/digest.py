"""Send the discussion e-mail digest: `python -m app.discussion.digest` (e.g. hourly from cron).

Safe to run repeatedly and from several hosts at once only if they do not overlap; each
notification is counted in at most one digest (it is stamped in the same transaction).
"""

from __future__ import annotations

import asyncio

from app.core.runtime import Runtime
from app.core.settings import get_settings
from app.discussion.notifications import send_digests


async def run(runtime: Runtime) -> int:
    async with runtime.db.session() as session:
        return await send_digests(session, runtime)


def main() -> None:
    async def go() -> int:
        runtime = Runtime.build(get_settings())
        try:
            return await run(runtime)
        finally:
            await runtime.db.dispose()

    print(f"digests sent: {asyncio.run(go())}")


if __name__ == "__main__":
    main()
