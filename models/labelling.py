"""Delayed labels from the stream itself (pure functions, event time).

A *snapshot* of a customer's features is kept when the customer is scored (at most
one pending snapshot per customer, and at most one new one per interval, so busy
customers do not dominate the training stream). It resolves into a
:class:`LabelledExample`:

* **negative** (``y=False``) when the customer is active again within the horizon;
* **positive** (``y=True``) when the horizon passes in silence (found by the silence
  sweep, or late by the next activity) or on an explicit ``account_closed``.

Every label is *released* to the learner at the snapshot's horizon, whatever its
outcome: a negative known early (the customer came back) is held in the pending
snapshot until then. Released at once, negatives would reach the learner up to a
horizon before the positives of snapshots taken at the same time, so the newest
labels would always over-represent the customers who came back, and an online
learner, which follows its newest labels, would learn from that skew (on CDNOW, where
one cohort ages together: "long tenure means no churn"; the shipped logistic model's
ROC AUC is 0.746 that way, 0.763 held, same learning rate; see docs/MODEL.md). Held,
the label stream at any moment is an unbiased sample of the snapshots taken one
horizon earlier. While a negative is held no new snapshot is taken.

Two label rules (``CHURN_LABEL_RULE``). ``silence`` (the default, above): positive
when the horizon after the snapshot passes in silence — "is this customer already
gone?", the question of CDNOW's holdout. ``stops``: positive when a silence of a
horizon *begins* within the snapshot's horizon (the customer's latest activity in it
is followed by a horizon without any), or the account is closed; negative at the
first activity past the horizon without such a silence — "will this customer, still
here, leave within the horizon?", the question a retention team asks of an app whose
churners do not fade first. It resolves between one and two horizons after the
snapshot, on resolution (no holding: its negatives are known only past the horizon).

Examples carry no customer id: they leave the customer's partition for the one
learner. Times are epoch seconds; ``now`` may be an aware ``datetime`` or a float.

>>> s = on_score(None, None, 0.0, {"orders_30d": 1.0}, "rules-1", interval_days=7)
>>> horizon_due(s, horizon_days=30) / 86400
30.0
>>> held, ex = on_activity(s, 10 * 86400.0, horizon_days=30)
>>> held.outcome, ex
(False, None)
>>> on_silence(held, 30 * 86400.0, horizon_days=30)[1].y
False
>>> on_silence(s, 31 * 86400.0, horizon_days=30)[1].y
True
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

DAY = 86400.0
Features = Mapping[str, float]


def _epoch(t: float | datetime) -> float:
    return t.timestamp() if isinstance(t, datetime) else float(t)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Features of one customer when scored, waiting for their label; ``outcome`` and
    ``resolved_at`` are set once the label is known early (held until the horizon).

    >>> s = Snapshot(taken_at=5.0, x={"a": 1.5}, model_version="m-000001")
    >>> Snapshot.from_json(s.to_json()) == s
    True
    >>> h = Snapshot(taken_at=5.0, x={"a": 1.5}, model_version="m-000001", outcome=False, resolved_at=9.0)
    >>> Snapshot.from_json(h.to_json()) == h
    True
    """

    taken_at: float
    x: Features
    model_version: str
    outcome: bool | None = None
    resolved_at: float | None = None
    last_seen: float | None = None  # latest activity within the horizon (churn-within-horizon labels)

    def to_json(self) -> dict[str, Any]:
        """Compact JSON: values only when the keys are the catalogue in order."""
        names = _catalogue()
        if isinstance(self.x, CatalogueValues) and self.x.names is names:  # as decoded: the values as they came
            doc = {"t": self.taken_at, "v": self.model_version, "x": self.x.value_list()}
        elif names is not None and tuple(self.x) == names[:len(self.x)]:  # the catalogue, or its start (an
            # older snapshot, from before features were added at its end)
            doc = {"t": self.taken_at, "v": self.model_version, "x": list(self.x.values())}
        else:
            doc = {"t": self.taken_at, "v": self.model_version, "d": dict(self.x)}
        if self.outcome is not None:
            doc["y"], doc["r"] = self.outcome, self.resolved_at
        if self.last_seen is not None:
            doc["l"] = self.last_seen
        return doc

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Snapshot:
        if "x" in obj:
            names = _catalogue()
            x = CatalogueValues(names, obj["x"]) if names is not None else {}
        else:
            x = dict(obj["d"])
        y, r, last = obj.get("y"), obj.get("r"), obj.get("l")
        return cls(taken_at=float(obj["t"]), x=x, model_version=str(obj["v"]),
                   outcome=None if y is None else bool(y), resolved_at=None if r is None else float(r),
                   last_seen=None if last is None else float(last))


class CatalogueValues(Mapping):
    """A decoded snapshot's features: the catalogue's names and the values in their order
    (fewer values: a snapshot from before features were added at the catalogue's end).
    The dict is built only when the features are read, at the label's resolution: a
    record is decoded in every batch, and its snapshot is mostly only carried along
    (re-encoded from its bytes).

    >>> v = CatalogueValues(("a", "b", "c"), [1.0, 2.0])
    >>> dict(v), len(v), v["b"], v == {"a": 1.0, "b": 2.0}
    ({'a': 1.0, 'b': 2.0}, 2, 2.0, True)
    """

    __slots__ = ("names", "_values", "_dict")

    def __init__(self, names: tuple[str, ...], values: list[float]) -> None:
        self.names, self._values, self._dict = names, values, None

    def as_dict(self) -> dict[str, float]:
        """The features as a dict (built once)."""
        if self._dict is None:
            self._dict = dict(zip(self.names, self._values))
        return self._dict

    def value_list(self) -> list[float]:
        """The values in catalogue order, as many as there are names."""
        return self._values[:len(self.names)]

    def __getitem__(self, name: str) -> float:
        return self.as_dict()[name]

    def __iter__(self):  # noqa: ANN204
        return iter(self.as_dict())

    def __len__(self) -> int:
        return min(len(self.names), len(self._values))

    def __repr__(self) -> str:
        return repr(self.as_dict())


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
    def from_json(cls, obj: Mapping[str, Any]) -> LabelledExample:
        return cls(x=dict(obj["x"]), y=bool(obj["y"]), taken_at=float(obj["t"]),
                   resolved_at=float(obj["r"]), model_version=str(obj["v"]))


@functools.cache  # a snapshot is decoded and encoded with every customer's record
def _catalogue() -> tuple[str, ...] | None:
    try:
        from models.features import FEATURE_NAMES
    except ImportError:  # features not installed: fall back to the dict form
        return None
    return tuple(FEATURE_NAMES)


def _resolve(s: Snapshot, y: bool, at: float) -> LabelledExample:
    if s.outcome is not None:  # held: the outcome known early is the label
        y, at = s.outcome, s.resolved_at if s.resolved_at is not None else at
    x = s.x.as_dict() if isinstance(s.x, CatalogueValues) else s.x
    return LabelledExample(x=x, y=y, taken_at=s.taken_at, resolved_at=at, model_version=s.model_version)


RULES = ("silence", "stops")


def horizon_due(pending: Snapshot, horizon_days: float, rule: str = "silence") -> float:
    """Epoch seconds when ``pending`` becomes positive if the customer stays silent
    (``rule="stops"``: a horizon after the customer's latest activity within its horizon)."""
    if rule == "stops" and pending.outcome is None:
        return (pending.last_seen if pending.last_seen is not None else pending.taken_at) + horizon_days * DAY
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
    # 6 significant digits: what the features mean survives, and the record (written on
    # every event) carries about 100 bytes less than with repr'd floats
    # (whole values under a million, most of them: counts and flags, are that already)
    x6 = {k: v if type(v) is float and v.is_integer() and -1e6 < v < 1e6 else float(f"{v:.6g}")
          for k, v in x.items()}
    return Snapshot(taken_at=t, x=x6, model_version=version)


def on_activity(pending: Snapshot | None, now: float | datetime, horizon_days: float,
                rule: str = "silence") -> tuple[Snapshot | None, LabelledExample | None]:
    """The customer is active: negative within the horizon (held until the horizon),
    positive if it had passed.

    A late positive (the sweep did not run in time) resolves at the horizon itself; a
    late release of a held negative happens now.
    """
    if pending is None:
        return None, None
    t, due = _epoch(now), horizon_due(pending, horizon_days, rule)
    if rule == "stops" and pending.outcome is None:
        last = pending.last_seen if pending.last_seen is not None else pending.taken_at
        if t > due:  # a silence of a horizon began at ``last``, within the snapshot's horizon
            return None, _resolve(pending, True, due)
        if t <= pending.taken_at + horizon_days * DAY:
            return replace(pending, last_seen=max(t, last)), None
        return None, _resolve(pending, False, t)  # still active past the horizon, never a horizon's silence
    if t > due:
        return None, _resolve(pending, True, due)
    if pending.outcome is not None:
        return pending, None
    return replace(pending, outcome=False, resolved_at=t), None


def on_silence(pending: Snapshot | None, now: float | datetime, horizon_days: float,
               rule: str = "silence") -> tuple[Snapshot | None, LabelledExample | None]:
    """Silence sweep: at the horizon, the held outcome or else positive; before it, wait.

    >>> s = Snapshot(0.0, {}, "rules-1")
    >>> on_silence(s, 29 * DAY, horizon_days=30) == (s, None)
    True
    """
    if pending is None:
        return None, None
    due = horizon_due(pending, horizon_days, rule)
    if _epoch(now) < due:
        return pending, None
    return None, _resolve(pending, True, due)


def on_churn(pending: Snapshot | None, now: float | datetime) -> tuple[Snapshot | None, LabelledExample | None]:
    """Explicit churn (``account_closed``): the pending snapshot is positive now.

    A held negative stays held: the customer was active within its horizon.
    """
    if pending is None or pending.outcome is not None:
        return pending, None
    return None, _resolve(pending, True, _epoch(now))
