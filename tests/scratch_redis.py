"""One Redis for the whole test session, and a fresh key prefix for each test that uses it.

The session's Redis is the configured one (``CHURN_REDIS_URL``) when it answers. When the
URL is the default and nothing answers there, an embedded ``redis-server`` is started for the
session. A configured URL that does not answer fails the tests that need it: never a skip.
``tests/conftest.py`` turns these into the ``redis_url`` and ``scratch_redis`` fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import redis
import redis.asyncio as aioredis

from schemas.errors import ServiceError
from services import embedded, redis_answers

T = TypeVar("T")


@contextlib.contextmanager
def session_redis(url: str, *, embed_when_silent: bool) -> Iterator[str]:
    """Yield the URL of a Redis that answers: ``url`` itself, else (with ``embed_when_silent``)
    an embedded redis-server, stopped on exit. Without it, a silent ``url`` raises ``ServiceError``."""
    if redis_answers(url):
        yield url
        return
    if not embed_when_silent:
        raise ServiceError(f"Redis at {urlparse(url).netloc} does not answer (CHURN_REDIS_URL)")
    with embedded.redis_server() as server:
        yield f"redis://{server.address}/0"


@dataclass(frozen=True)
class ScratchRedis:
    """One test's Redis: the session's URL and a key prefix no other test uses."""

    url: str
    prefix: str

    @classmethod
    def fresh(cls, url: str, label: str = "test") -> ScratchRedis:
        """A new prefix ``test-<label>-<uuid>``; the label is cut to characters glob patterns take literally."""
        return cls(url, f"test-{re.sub(r'[^A-Za-z0-9_-]+', '-', label)[:40]}-{uuid.uuid4().hex[:12]}")

    def client(self, **kwargs: Any) -> aioredis.Redis:
        """A new asyncio client on the session's Redis; the caller closes it (``aclose``)."""
        return aioredis.Redis.from_url(self.url, **kwargs)

    def run(self, body: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """``asyncio.run`` of ``body(client)`` with a client that is closed afterwards."""
        async def main() -> T:
            client = self.client()
            try:
                return await body(client)
            finally:
                await client.aclose()
        return asyncio.run(main())

    def keys(self) -> list[bytes]:
        """Every key under the prefix."""
        with contextlib.closing(redis.Redis.from_url(self.url)) as r:
            return list(r.scan_iter(match=f"{self.prefix}:*", count=1000))

    def delete_keys(self) -> int:
        """Delete every key under the prefix; returns how many there were."""
        keys = self.keys()
        with contextlib.closing(redis.Redis.from_url(self.url)) as r:
            for start in range(0, len(keys), 500):
                r.delete(*keys[start:start + 500])
            return len(keys)
