"""A dependency that is away pauses the work that needs it; it never loses or dead-letters it.

Every Redis operation of the stream (claims, caps, experiment counters, scores, the model
registry) is idempotent by its stable id, so while Redis does not answer the same call is
retried with capped exponential backoff until it does. The customer agent waits meanwhile
(per-customer order is kept and the message stays uncommitted), readiness reports the
dependency down, and the worker logs one line when it goes away and one when it is back
(:mod:`services.retry`, shared with the team service).
"""

from __future__ import annotations

import asyncio  # noqa: F401 - the doctest's

import redis.exceptions
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from services.retry import Dependency as BaseDependency

#: Errors that mean "the dependency is away", not "this message is bad".
UNAVAILABLE: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                                                KafkaConnectionError, KafkaTimeoutError, ConnectionError)


class Dependency(BaseDependency):
    """A :class:`services.retry.Dependency` whose "away" errors are :data:`UNAVAILABLE`.

    >>> async def demo():
    ...     calls = []
    ...     async def flaky():
    ...         calls.append(1)
    ...         if len(calls) < 3:
    ...             raise redis.exceptions.ConnectionError("refused")
    ...         return "ok"
    ...     redis_dep = Dependency("redis", first_delay_s=0.001)
    ...     return await redis_dep.call(flaky), len(calls), redis_dep.up
    >>> asyncio.run(demo())
    ('ok', 3, True)
    """

    def __init__(self, name: str, **kwargs: object) -> None:
        super().__init__(name, errors=UNAVAILABLE, **kwargs)  # type: ignore[arg-type]
