"""A dependency that is away pauses the work that needs it; it never loses or dead-letters it.

Every Redis operation of the stream (claims, caps, experiment counters, scores, the model
registry) is idempotent by its stable id, so while Redis does not answer the same call is
retried with capped exponential backoff until it does. The customer agent waits meanwhile
(per-customer order is kept and the message stays uncommitted), readiness reports the
dependency down, and the worker logs one line when it goes away and one when it is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.exceptions
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors that mean "the dependency is away", not "this message is bad".
UNAVAILABLE: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                                                KafkaConnectionError, KafkaTimeoutError, ConnectionError)


class Dependency:
    """Calls to one dependency, retried while it is away.

    >>> async def demo():
    ...     calls = []
    ...     async def flaky():
    ...         calls.append(1)
    ...         if len(calls) < 3:
    ...             raise ConnectionError("refused")
    ...         return "ok"
    ...     redis_dep = Dependency("redis", first_delay_s=0.001)
    ...     return await redis_dep.call(flaky), len(calls), redis_dep.up
    >>> asyncio.run(demo())
    ('ok', 3, True)
    """

    def __init__(self, name: str, *, first_delay_s: float = 0.1, max_delay_s: float = 5.0,
                 on_change: Callable[[bool], None] | None = None,
                 on_retry: Callable[[], None] | None = None) -> None:
        self.name, self.first_delay_s, self.max_delay_s = name, first_delay_s, max_delay_s
        self.on_change, self.on_retry = on_change, on_retry
        self.down_since: float | None = None

    @property
    def up(self) -> bool:
        return self.down_since is None

    async def call(self, fn: Callable[..., Awaitable[T]], *args: object, **kwargs: object) -> T:
        """``await fn(*args, **kwargs)``, again and again while the dependency is away."""
        delay = self.first_delay_s
        while True:
            try:
                result = await fn(*args, **kwargs)
            except UNAVAILABLE as exc:
                self._down(exc)
                await asyncio.sleep(delay)  # backoff before the next attempt
                delay = min(self.max_delay_s, delay * 2)
                continue
            if self.down_since is not None:
                log.warning("%s is back after %.1f s; resuming", self.name, time.monotonic() - self.down_since)
                self.down_since = None
                if self.on_change:
                    self.on_change(True)
            return result

    def _down(self, exc: BaseException) -> None:
        if self.on_retry:
            self.on_retry()
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("%s is not answering (%s: %s); pausing the work that needs it and retrying until it does",
                        self.name, type(exc).__name__, exc)
            if self.on_change:
                self.on_change(False)
