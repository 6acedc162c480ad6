"""Rate limits shared by every process when Redis is configured, in-process otherwise."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.core.errors import RateLimited


class RateLimits:
    def __init__(self, *, scale: float, redis_url: str | None) -> None:
        self.scale = scale
        storage: Storage
        if redis_url:
            uri = redis_url.replace("redis://", "async+redis://", 1)
            shared = storage_from_string(uri, implementation="redispy", key_prefix="exchange")
            if not isinstance(shared, Storage):
                raise TypeError("an async+redis:// URI must give an async storage")
            storage = shared
        else:
            storage = MemoryStorage()
        self.storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, spec: str) -> RateLimitItem:
        item = self._items.get(spec)
        if item is None:
            base = parse(spec)
            amount = max(1, math.floor(base.amount * self.scale))
            item = type(base)(amount, base.multiples, base.namespace)
            self._items[spec] = item
        return item

    async def check(self, spec: str, *identifiers: str) -> None:
        """Raise 429 if the limit is already used up, without counting this call."""
        item = self._item(spec)
        if not await self._limiter.test(item, *identifiers):
            stats = await self._limiter.get_window_stats(item, *identifiers)
            raise RateLimited(retry_after=math.ceil(stats.reset_time - time.time()))

    async def hit(self, spec: str, *identifiers: str) -> bool:
        """Count one event; False when it went over the limit."""
        return await self._limiter.hit(self._item(spec), *identifiers)

    async def consume(self, spec: str, *identifiers: str) -> None:
        """Count one event and raise 429 when over the limit."""
        item = self._item(spec)
        if not await self._limiter.hit(item, *identifiers):
            stats = await self._limiter.get_window_stats(item, *identifiers)
            raise RateLimited(retry_after=math.ceil(stats.reset_time - time.time()))

    async def clear(self, spec: str, *identifiers: str) -> None:
        await self._limiter.clear(self._item(spec), *identifiers)

    async def reset_all(self) -> None:
        await self.storage.reset()
