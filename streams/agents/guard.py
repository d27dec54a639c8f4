"""Timers must not crash a worker: Faust stops the whole app when a timer raises."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def guarded(fun: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Run ``fun``; log and swallow its errors so the next tick tries again."""

    @functools.wraps(fun)
    async def run() -> None:
        try:
            await fun()
        except Exception:  # noqa: BLE001
            log.exception("timer %s failed; retrying on its next tick", fun.__name__)

    return run
