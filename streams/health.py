"""Liveness and readiness of a stream worker, answered from another thread.

*Live*: the worker's event loop still runs its heartbeat timer (a loop blocked by
a stuck handler, or a stopped app, stops beating). *Ready*: the broker answers, the
consumer group gave this worker partitions and it is not rebalancing or recovering
its table, Redis answers, and the scorer has read the model registry at least once
(so it scores with the newest model, or knows there is none and uses the prior).

The loop's state is handed over in plain attributes (``beat``, ``assigned``,
``busy``) that the loop writes and the probe thread only reads; the Redis and broker
checks run in the probe thread with short timeouts.

>>> h = Health(checks={"redis": lambda: True}, model_checked=lambda: True, clock=lambda: 100.0)
>>> h.live()[0], h.ready()
(True, (False, {'redis': 'ok', 'partitions': 'no heartbeat from the worker loop', 'model': 'ok'}))
>>> h.beat(assigned=frozenset({("orders", 0)}), busy=False)
>>> h.ready()
(True, {'redis': 'ok', 'partitions': '1 assigned', 'model': 'ok'})
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

Check = Callable[[], bool]


class Health:
    def __init__(self, *, checks: dict[str, Check], model_checked: Check, stale_after_s: float = 30.0,
                 start_grace_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        """``checks``: name → a quick, thread-safe probe of a service (True: it answers)."""
        self.checks, self.model_checked, self.clock = checks, model_checked, clock
        self.stale_after_s, self.start_grace_s = stale_after_s, start_grace_s
        self.started = clock()
        self.last_beat: float | None = None
        self.assigned: Collection = frozenset()
        self.busy = False  # rebalancing or recovering tables

    def beat(self, *, assigned: Collection, busy: bool) -> None:
        """Called by the loop's heartbeat timer: it is alive, with this assignment."""
        self.last_beat, self.assigned, self.busy = self.clock(), frozenset(assigned), busy

    def live(self) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        if self.last_beat is None:
            age = now - self.started
            return age < self.start_grace_s, {"loop": f"starting for {age:.0f}s"}
        age = now - self.last_beat
        return age < self.stale_after_s, {"loop": f"last heartbeat {age:.1f}s ago"}

    def ready(self) -> tuple[bool, dict[str, str]]:
        out = {name: "ok" if _safe(check) else "unreachable" for name, check in self.checks.items()}
        ok = all(v == "ok" for v in out.values())
        assigned, out["partitions"] = self._partitions()
        model = _safe(self.model_checked)
        out["model"] = "ok" if model else "model registry not read yet"
        return ok and assigned and model, out

    def _partitions(self) -> tuple[bool, str]:
        if self.last_beat is None or not self.live()[0]:
            return False, "no heartbeat from the worker loop"
        if self.busy:
            return False, "rebalancing or recovering"
        return bool(self.assigned), f"{len(self.assigned)} assigned" if self.assigned else "none assigned"


def _safe(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - a probe that raises means "not healthy", never a crashed probe thread
        return False


def broker_answers(bootstrap_servers: str, timeout: float = 1.0) -> Check:
    """A check: some bootstrap server accepts a TCP connection."""
    from services.embedded import port_answers

    hosts = [h.strip().rsplit(":", 1) for h in bootstrap_servers.split(",") if h.strip()]
    return lambda: any(port_answers(host, int(port), timeout) for host, port in hosts)


def redis_answers(url: str, password: str | None, on_error: Callable[[], None], timeout: float = 1.0) -> Check:
    """A check: Redis answers PING (a blocking client of the probe thread's own); failures
    call ``on_error`` (counted as Redis errors)."""
    import redis

    client = redis.Redis.from_url(url, password=password, socket_timeout=timeout, socket_connect_timeout=timeout)

    def check() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            on_error()
            return False

    return check
