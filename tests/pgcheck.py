"""Exit 0 when the PostgreSQL server at argv[1] accepts connections (used by `make test`)."""

from __future__ import annotations

import asyncio
import sys

import asyncpg


async def reachable(url: str) -> bool:
    try:
        connection = await asyncio.wait_for(asyncpg.connect(url), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(reachable(sys.argv[1])) else 1)
