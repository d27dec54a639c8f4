"""Risk tiers with hysteresis, and thresholds learned from resolved labels.

A tier is entered at or above its threshold and left only below
``threshold - hysteresis``, so a score wobbling around a threshold does not flap.

>>> t = Tiers(watch=0.5, high=0.7, critical=0.85, hysteresis=0.05)
>>> t.next_tier("none", 0.72), t.next_tier("high", 0.67), t.next_tier("high", 0.64)
('high', 'high', 'watch')
>>> t.next_tier("critical", 0.2)
'none'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.errors import ConfigError
from schemas.events import TIERS, Tier

RANK: dict[str, int] = {name: i for i, name in enumerate(TIERS)}


@dataclass(frozen=True, slots=True)
class Tiers:
    """Enter thresholds of ``watch < high < critical`` and the exit margin."""

    watch: float = 0.5
    high: float = 0.7
    critical: float = 0.85
    hysteresis: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.watch < self.high < self.critical <= 1.0:
            raise ConfigError(f"tiers: need 0 <= watch < high < critical <= 1, got {self.watch}, {self.high}, {self.critical}")
        if not 0.0 <= self.hysteresis < 0.5:
            raise ConfigError(f"tiers: hysteresis must be in [0, 0.5), got {self.hysteresis}")

    def threshold(self, tier: Tier) -> float:
        """Enter threshold of ``tier`` (0 for ``none``)."""
        return 0.0 if tier == "none" else getattr(self, tier)

    def next_tier(self, current: Tier, score: float) -> Tier:
        """Tier after seeing ``score`` while in ``current``; may drop several tiers at once."""
        for tier in ("critical", "high", "watch"):
            if score >= self.threshold(tier):
                entered: Tier = tier
                break
        else:
            entered = "none"
        if RANK[entered] >= RANK[current]:
            return entered
        for tier in TIERS[RANK[current]:0:-1]:  # current, then each lower tier, hold within the margin
            if score >= self.threshold(tier) - self.hysteresis:
                return tier  # type: ignore[return-value]
        return "none"

    @classmethod
    def from_labels(cls, scores: Sequence[float], labels: Sequence[bool], *, target_precision: float | Sequence[float] | None = None,
                    daily_capacity: float | Sequence[float] | None = None, days: float | None = None,
                    hysteresis: float = 0.05) -> "Tiers":
        """Thresholds set from resolved labels (``True`` = churned).

        ``target_precision``: each tier gets the lowest threshold whose alerts reach
        the precision; a single ``p`` means ``(p, p + (1-p)/3, p + 2(1-p)/3)``.
        ``daily_capacity`` (with ``days``, the span the labels cover): each tier gets
        the lowest threshold that alerts at most that many per day; a single ``c``
        means ``(c, c/2, c/4)``. Exactly one of the two modes must be given.

        >>> Tiers.from_labels([0.1, 0.4, 0.6, 0.8, 0.9], [False, False, True, True, True], target_precision=(0.75, 0.9, 1.0))
        Tiers(watch=0.4, high=0.6, critical=0.8, hysteresis=0.05)
        >>> Tiers.from_labels([i / 100 for i in range(100)], [False] * 100, daily_capacity=10, days=2)
        Tiers(watch=0.8, high=0.9, critical=0.95, hysteresis=0.05)
        """
        if len(scores) != len(labels) or not scores:
            raise ConfigError("tiers.from_labels: scores and labels must be non-empty and of equal length")
        ranked = sorted(zip(scores, labels), key=lambda p: -p[0])
        candidates: list[tuple[float, int, int]] = []  # (threshold, alerts at/above it, true positives)
        hits = 0
        for i, (score, label) in enumerate(ranked):
            hits += bool(label)
            if i + 1 == len(ranked) or ranked[i + 1][0] < score:
                candidates.append((score, i + 1, hits))
        candidates.reverse()  # lowest threshold first
        if (target_precision is None) == (daily_capacity is None):
            raise ConfigError("tiers.from_labels: give exactly one of target_precision or daily_capacity")
        if target_precision is not None:
            goals = _three(target_precision, lambda p: (p, p + (1 - p) / 3, p + 2 * (1 - p) / 3))
            ok = [lambda c, g=g: c[2] / c[1] >= g - 1e-12 for g in goals]
            what = "target_precision"
        else:
            if not days or days <= 0:
                raise ConfigError("tiers.from_labels: daily_capacity needs days > 0")
            goals = _three(daily_capacity, lambda c: (c, c / 2, c / 4))
            ok = [lambda c, g=g: c[1] <= g * days for g in goals]
            what = "daily_capacity"
        chosen: list[float] = []
        for goal, reaches in zip(goals, ok):
            above = [c for c in candidates if (not chosen or c[0] > chosen[-1]) and reaches(c)]
            if not above:
                raise ConfigError(f"tiers.from_labels: no threshold reaches {what}={goal:g} for every tier")
            chosen.append(above[0][0])
        return cls(*chosen, hysteresis=hysteresis)


def _three(value, expand) -> tuple[float, float, float]:
    goals = tuple(expand(float(value))) if isinstance(value, (int, float)) else tuple(float(v) for v in value)
    if len(goals) != 3:
        raise ConfigError(f"tiers.from_labels: need one value or three (watch, high, critical), got {value!r}")
    return goals
