"""One dependency that may be away (Redis for the workers, PostgreSQL for the team service):
calls to it are retried with capped exponential backoff while it does not answer, and one
line is logged when it goes away and one when it is back, however many tasks wait for it.

What counts as "away" is the caller's: the errors that mean "not answering", not "this
request is bad" (``streams.retry.UNAVAILABLE`` for the workers, ``team.db.UNAVAILABLE``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


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

    def __init__(self, name: str, *, errors: tuple[type[BaseException], ...] = (ConnectionError,),
                 first_delay_s: float = 0.1, max_delay_s: float = 5.0,
                 on_change: Callable[[bool], None] | None = None,
                 on_retry: Callable[[], None] | None = None) -> None:
        self.name, self.errors, self.first_delay_s, self.max_delay_s = name, errors, first_delay_s, max_delay_s
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
            except self.errors as exc:
                self.mark_down(exc)
                await asyncio.sleep(delay)  # backoff before the next attempt
                delay = min(self.max_delay_s, delay * 2)
                continue
            self.mark_up()
            return result

    def mark_up(self) -> None:
        """The dependency answered (logged once, when it had been away)."""
        if self.down_since is not None:
            log.warning("%s is back after %.1f s; resuming", self.name, time.monotonic() - self.down_since)
            self.down_since = None
            if self.on_change:
                self.on_change(True)

    def mark_down(self, exc: BaseException) -> None:
        """A call failed because the dependency is away (logged once per outage)."""
        if self.on_retry:
            self.on_retry()
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("%s is not answering (%s: %s); pausing the work that needs it and retrying until it does",
                        self.name, type(exc).__name__, " ".join(str(exc).split()))  # one line
            if self.on_change:
                self.on_change(False)
