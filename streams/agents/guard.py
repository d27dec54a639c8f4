"""Timers must not crash a worker: Faust stops the whole app when a timer raises."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from streams.retry import UNAVAILABLE

log = logging.getLogger(__name__)


def guarded(fun: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Run ``fun``; log and swallow its errors so the next tick tries again."""

    @functools.wraps(fun)
    async def run() -> None:
        try:
            await fun()
        except UNAVAILABLE as exc:  # a dependency away: one line, not a traceback every tick
            log.warning("timer %s: %s (%s); retrying on its next tick", fun.__name__, type(exc).__name__, exc)
        except Exception:  # noqa: BLE001
            log.exception("timer %s failed; retrying on its next tick", fun.__name__)

    return run
