"""Rate limits: scaled allowances, and counters shared through a real Redis."""

from __future__ import annotations

import os
import uuid

import pytest
import redis.asyncio as redis_async

from app.core.errors import RateLimited
from app.core.ratelimit import RateLimits

REDIS_URL = os.environ.get("EXCHANGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _redis_available() -> bool:
    client = redis_async.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis_async.RedisError):
        return False
    finally:
        await client.aclose()
    return True


async def test_scale_multiplies_every_allowance() -> None:
    limits = RateLimits(scale=3, redis_url=None)
    key = uuid.uuid4().hex
    for _ in range(6):
        await limits.consume("2/minute", key)
    with pytest.raises(RateLimited) as caught:
        await limits.consume("2/minute", key)
    assert int(caught.value.headers["Retry-After"]) >= 1


async def test_processes_share_counters_through_redis() -> None:
    if not await _redis_available():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    # Two independent limiters stand for two app processes behind a load balancer.
    first = RateLimits(scale=1, redis_url=REDIS_URL)
    second = RateLimits(scale=1, redis_url=REDIS_URL)
    key = f"shared-{uuid.uuid4().hex}"
    await first.consume("3/minute", key)
    await second.consume("3/minute", key)
    await first.consume("3/minute", key)
    with pytest.raises(RateLimited):
        await second.consume("3/minute", key)
    await first.clear("3/minute", key)
    await second.consume("3/minute", key)


async def test_registration_is_limited_per_address(world: object) -> None:
    from tests.helpers import World

    assert isinstance(world, World)
    statuses = []
    for i in range(11):
        r = await world.client.post(
            "/auth/register",
            json={
                "email": f"r{i}-{uuid.uuid4().hex[:6]}@example.org",
                "password": "correct horse battery staple",
                "display_name": f"R{i}",
            },
        )
        statuses.append(r.status_code)
    assert statuses[:10] == [201] * 10
    assert statuses[10] == 429
