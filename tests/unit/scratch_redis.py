"""Unit tests that need Redis use the real one at 127.0.0.1:6379 under a fresh key prefix,
deleted afterwards."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

URL = "redis://127.0.0.1:6379/0"


def run_in_redis(body: Callable[[Redis, str], Awaitable[None]], kind: str) -> None:
    """``body(redis, prefix)`` with a prefix ``test-<kind>-<uuid>``; every key under it goes afterwards."""
    async def main() -> None:
        prefix = f"test-{kind}-{uuid.uuid4().hex}"
        redis = Redis.from_url(URL)
        try:
            await body(redis, prefix)
        finally:
            keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
    asyncio.run(main())
