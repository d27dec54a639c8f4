"""Delayed labels from the stream itself (pure functions, event time).

A *snapshot* of a customer's features is kept when the customer is scored (at most
one pending snapshot per customer, and at most one new one per interval, so busy
customers do not dominate the training stream). It resolves into a
:class:`LabelledExample`:

* **negative** (``y=False``) when the customer is active again within the horizon;
* **positive** (``y=True``) when the horizon passes in silence (found by the silence
  sweep, or late by the next activity) or on an explicit ``account_closed``.

Examples carry no customer id: they leave the customer's partition for the one
learner. Times are epoch seconds; ``now`` may be an aware ``datetime`` or a float.

>>> s = on_score(None, None, 0.0, {"orders_30d": 1.0}, "rules-1", interval_days=7)
>>> horizon_due(s, horizon_days=30) / 86400
30.0
>>> on_activity(s, 10 * 86400.0, horizon_days=30)[1].y
False
>>> on_silence(s, 31 * 86400.0, horizon_days=30)[1].y
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

DAY = 86400.0
Features = Mapping[str, float]


def _epoch(t: float | datetime) -> float:
    return t.timestamp() if isinstance(t, datetime) else float(t)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Features of one customer when scored, waiting for their label.

    >>> s = Snapshot(taken_at=5.0, x={"a": 1.5}, model_version="m-000001")
    >>> Snapshot.from_json(s.to_json()) == s
    True
    """

    taken_at: float
    x: Features
    model_version: str

    def to_json(self) -> dict[str, Any]:
        """Compact JSON: values only when the keys are the catalogue in order."""
        names = _catalogue()
        if names is not None and tuple(self.x) == names:
            return {"t": self.taken_at, "v": self.model_version, "x": list(self.x.values())}
        return {"t": self.taken_at, "v": self.model_version, "d": dict(self.x)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Snapshot":
        if "x" in obj:
            x = dict(zip(_catalogue() or (), obj["x"]))
        else:
            x = dict(obj["d"])
        return cls(taken_at=float(obj["t"]), x=x, model_version=str(obj["v"]))


@dataclass(frozen=True, slots=True)
class LabelledExample:
    """One resolved snapshot: features, label and when it was taken and resolved.

    >>> e = LabelledExample(x={"a": 1.0}, y=True, taken_at=0.0, resolved_at=9.0, model_version="rules-1")
    >>> LabelledExample.from_json(e.to_json()) == e
    True
    """

    x: Features
    y: bool
    taken_at: float
    resolved_at: float
    model_version: str

    def to_json(self) -> dict[str, Any]:
        return {"x": dict(self.x), "y": self.y, "t": self.taken_at, "r": self.resolved_at, "v": self.model_version}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "LabelledExample":
        return cls(x=dict(obj["x"]), y=bool(obj["y"]), taken_at=float(obj["t"]),
                   resolved_at=float(obj["r"]), model_version=str(obj["v"]))


def _catalogue() -> tuple[str, ...] | None:
    try:
        from models.features import FEATURE_NAMES
    except ImportError:  # features not installed: fall back to the dict form
        return None
    return tuple(FEATURE_NAMES)


def _resolve(s: Snapshot, y: bool, at: float) -> LabelledExample:
    return LabelledExample(x=s.x, y=y, taken_at=s.taken_at, resolved_at=at, model_version=s.model_version)


def horizon_due(pending: Snapshot, horizon_days: float) -> float:
    """Epoch seconds when ``pending`` becomes positive if the customer stays silent."""
    return pending.taken_at + horizon_days * DAY


def on_score(pending: Snapshot | None, last_snapshot_at: float | None, now: float | datetime,
             x: Features, version: str, interval_days: float) -> Snapshot | None:
    """The snapshot that is pending after a score: ``pending`` itself if there is one,
    a new one when the last was taken ``interval_days`` ago or more, else ``None``.

    A caller knows a snapshot was taken when the result ``is not pending``.

    >>> on_score(None, 0.0, 3 * DAY, {}, "rules-1", interval_days=7) is None
    True
    >>> s = Snapshot(0.0, {}, "rules-1")
    >>> on_score(s, 0.0, 30 * DAY, {}, "rules-1", interval_days=7) is s
    True
    """
    if pending is not None:
        return pending
    t = _epoch(now)
    if last_snapshot_at is not None and t - last_snapshot_at < interval_days * DAY:
        return None
    return Snapshot(taken_at=t, x=x, model_version=version)


def on_activity(pending: Snapshot | None, now: float | datetime,
                horizon_days: float) -> tuple[None, LabelledExample | None]:
    """The customer is active: negative within the horizon, positive if it had passed.

    A late positive (the sweep did not run in time) resolves at the horizon itself.
    """
    if pending is None:
        return None, None
    t, due = _epoch(now), horizon_due(pending, horizon_days)
    return None, _resolve(pending, False, t) if t <= due else _resolve(pending, True, due)


def on_silence(pending: Snapshot | None, now: float | datetime,
               horizon_days: float) -> tuple[Snapshot | None, LabelledExample | None]:
    """Silence sweep: positive once the horizon has passed, else keep waiting.

    >>> s = Snapshot(0.0, {}, "rules-1")
    >>> on_silence(s, 29 * DAY, horizon_days=30) == (s, None)
    True
    """
    if pending is None:
        return None, None
    due = horizon_due(pending, horizon_days)
    if _epoch(now) < due:
        return pending, None
    return None, _resolve(pending, True, due)


def on_churn(pending: Snapshot | None, now: float | datetime) -> tuple[None, LabelledExample | None]:
    """Explicit churn (``account_closed``): the pending snapshot is positive now."""
    if pending is None:
        return None, None
    return None, _resolve(pending, True, _epoch(now))
