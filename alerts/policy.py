"""One alert per risk episode: the pure decision and its compact per-customer state.

An episode starts when the tier leaves ``none`` (not within ``cooldown_days`` of the
last episode's end), re-alerts only when the tier escalates above the highest tier
already reached in the episode, and ends when the tier returns to ``none``. While
snoozed the state still tracks but no alert is made. Ids are hashes of event-time
facts, so a replay, a retry or a second worker computes the same ``alert_id``.

>>> from datetime import datetime, timezone
>>> from alerts.tiers import Tiers
>>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> s, d = decide(AlertState(), customer_id="c1", score=0.75, reasons=[], now=t0, tiers=Tiers(), cooldown_days=7)
>>> d.tier, d.previous_tier, d.alert_id == alert_id("c1", t0.timestamp(), "high")
('high', 'none', True)
>>> decide(s, customer_id="c1", score=0.72, reasons=[], now=t0, tiers=Tiers(), cooldown_days=7)[1] is None
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from datetime import datetime
from operator import attrgetter
from typing import Any

from alerts.drivers import primary_driver
from alerts.tiers import RANK, Tiers
from schemas.events import Driver, Reason, Tier

DAY_S = 86_400.0


def stable_id(prefix: str, *parts: object) -> str:
    """Short deterministic id from ``parts``: ``prefix-`` + 16 hex digits.

    >>> stable_id("al", "c1", 1.5, "high") == stable_id("al", "c1", 1.5, "high")
    True
    """
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).hexdigest()
    return f"{prefix}-{digest}"


def alert_id(customer_id: str, episode_started_at: float, tier: Tier) -> str:
    """The alert id of one episode and tier (``episode_started_at`` in epoch seconds)."""
    return stable_id("al", customer_id, repr(float(episode_started_at)), tier)


@dataclass(slots=True)
class AlertState:
    """Per-customer alert state; times are epoch seconds (event time)."""

    tier: Tier = "none"
    episode_id: str | None = None
    episode_started_at: float | None = None
    last_alert_at: float | None = None
    episode_ended_at: float | None = None
    snooze_until: float | None = None
    last_score: float | None = None
    peak: Tier = "none"  # highest tier alerted (or suppressed by snooze) in this episode

    _KEYS = {"tier": "t", "episode_id": "e", "episode_started_at": "s", "last_alert_at": "a",
             "episode_ended_at": "x", "snooze_until": "z", "last_score": "l", "peak": "p"}

    def to_json(self) -> dict[str, Any]:
        """Compact JSON: short keys, defaults left out.

        >>> AlertState(tier="watch", last_score=0.5).to_json()
        {'t': 'watch', 'l': 0.5}
        >>> AlertState.from_json(AlertState(tier="high", peak="high").to_json()).peak
        'high'
        """
        return {k: v for k, v in zip(_SHORT, _FIELDS(self)) if v is not None and v != "none"}

    @classmethod
    def from_json(cls, obj: dict[str, Any] | None) -> AlertState:
        """Inverse of :meth:`to_json`; ``None`` gives a fresh state."""
        if not obj:
            return cls()
        g = obj.get  # positional, in field order (decoded with every record)
        return cls(g("t", "none"), g("e"), g("s"), g("a"), g("x"), g("z"), g("l"), g("p", "none"))


_FIELDS = attrgetter(*AlertState._KEYS)
_SHORT = tuple(AlertState._KEYS.values())
assert tuple(AlertState._KEYS) == tuple(f.name for f in fields(AlertState)), "from_json is positional"


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """An alert to emit. ``previous_tier`` is the tier already known in this episode."""

    alert_id: str
    tier: Tier
    previous_tier: Tier
    score: float
    reasons: tuple[Reason, ...]
    driver: Driver
    episode_id: str


def snooze(state: AlertState, until: datetime) -> AlertState:
    """A copy of ``state`` whose alerts are suppressed until ``until``."""
    return replace(state, snooze_until=until.timestamp())


def decide(state: AlertState, *, customer_id: str, score: float, reasons: list[Reason], now: datetime | float,
           tiers: Tiers, cooldown_days: float) -> tuple[AlertState, AlertDecision | None]:
    """New state after ``score`` at event time ``now`` (or its epoch seconds), and the alert to emit, if any."""
    ts = now if isinstance(now, (int, float)) else now.timestamp()
    tier = tiers.next_tier(state.tier, score)
    new = AlertState(tier=tier, episode_id=state.episode_id, episode_started_at=state.episode_started_at,  # not replace():
                     last_alert_at=state.last_alert_at, episode_ended_at=state.episode_ended_at,  # it runs per score and
                     snooze_until=state.snooze_until, last_score=score, peak=state.peak)  # reads the fields each time
    if tier == "none":
        if state.episode_id is not None:
            new.episode_id, new.episode_started_at, new.episode_ended_at, new.peak = None, None, ts, "none"
        return new, None
    if new.episode_id is None:
        if state.episode_ended_at is not None and ts < state.episode_ended_at + cooldown_days * DAY_S:
            return new, None  # at risk, but still cooling down from the last episode
        new.episode_started_at, new.episode_id, new.peak = ts, stable_id("ep", customer_id, repr(ts)), "none"
    if RANK[tier] <= RANK[new.peak]:
        return new, None
    previous, new.peak = new.peak, tier
    if state.snooze_until is not None and ts < state.snooze_until:
        return new, None
    new.last_alert_at = ts
    assert new.episode_started_at is not None and new.episode_id is not None
    return new, AlertDecision(alert_id=alert_id(customer_id, new.episode_started_at, tier), tier=tier,
                              previous_tier=previous, score=score, reasons=tuple(reasons),
                              driver=primary_driver(reasons), episode_id=new.episode_id)
