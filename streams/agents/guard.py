"""Timers must not crash a worker: Faust stops the whole app when a timer raises."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from streams.retry import UNAVAILABLE

log = logging.getLogger(__name__)
Timer = Callable[[], Awaitable[None]]


def guarded(fun: Timer | None = None, *, on_error: Callable[[Exception], None] | None = None):  # noqa: ANN201
    """Run ``fun``; log and swallow its errors (counted by ``on_error``) so the next tick
    tries again. Use as ``@guarded`` or ``@guarded(on_error=...)``."""
    if fun is None:
        return functools.partial(guarded, on_error=on_error)

    @functools.wraps(fun)
    async def run() -> None:
        try:
            await fun()
        except UNAVAILABLE as exc:  # a dependency away: one line, not a traceback every tick
            if on_error is not None:
                on_error(exc)
            log.warning("timer %s: %s (%s); retrying on its next tick", fun.__name__, type(exc).__name__, exc)
        except Exception as exc:  # noqa: BLE001
            if on_error is not None:
                on_error(exc)
            log.exception("timer %s failed; retrying on its next tick", fun.__name__)

    return run
