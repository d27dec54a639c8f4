"""Tier thresholds set from resolved labels: the lowest thresholds that reach a target
precision, or a daily alert capacity, on the learner's rolling window. The learner puts
them in each version's meta; the engine turns them into ``alerts.tiers.Tiers``.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.errors import ConfigError


def top_share_thresholds(scores: Sequence[float], share: float | Sequence[float] = 0.1) -> tuple[float, float, float]:
    """(watch, high, critical): the scores above which the top ``share`` of the window's
    snapshots lie; a single ``s`` means ``(s, s/2, s/5)``. Whatever the base rate, the
    riskiest customers are flagged (the default once the model is in use).

    >>> top_share_thresholds([i / 100 for i in range(100)], (0.1, 0.05, 0.02))
    (0.9, 0.95, 0.98)
    """
    if not scores:
        raise ConfigError("top_share_thresholds: no scores")
    shares = _three(share, lambda s: (s, s / 2, s / 5))
    ranked = sorted(scores, reverse=True)
    out = []
    for sh in shares:
        t = ranked[min(len(ranked) - 1, max(0, int(round(sh * len(ranked))) - 1))]
        out.append(max(t, out[-1] + 1e-6) if out else t)
    if out[-1] > 1.0:
        raise ConfigError("top_share_thresholds: scores too tied to separate three tiers")
    return out[0], out[1], out[2]


def thresholds_from_labels(scores: Sequence[float], labels: Sequence[bool], *,
                           target_precision: float | Sequence[float] | None = None,
                           daily_capacity: float | Sequence[float] | None = None,
                           days: float | None = None, top_share: float | Sequence[float] | None = None,
                           ) -> tuple[float, float, float]:
    """(watch, high, critical) thresholds set from resolved labels (``True`` = churned).

    ``target_precision``: each tier gets the lowest threshold whose alerts reach
    the precision; a single ``p`` means ``(p, p + (1-p)/3, p + 2(1-p)/3)``.
    ``daily_capacity`` (with ``days``, the span the labels cover): each tier gets
    the lowest threshold that alerts at most that many per day; a single ``c``
    means ``(c, c/2, c/4)``. Exactly one of the two modes must be given.

    >>> thresholds_from_labels([0.1, 0.4, 0.6, 0.8, 0.9], [False, False, True, True, True], target_precision=(0.75, 0.9, 1.0))
    (0.4, 0.6, 0.8)
    >>> thresholds_from_labels([i / 100 for i in range(100)], [False] * 100, daily_capacity=10, days=2)
    (0.8, 0.9, 0.95)
    """
    if len(scores) != len(labels) or not scores:
        raise ConfigError("thresholds_from_labels: scores and labels must be non-empty and of equal length")
    if top_share is not None:
        return top_share_thresholds(scores, top_share)
    ranked = sorted(zip(scores, labels), key=lambda p: -p[0])
    candidates: list[tuple[float, int, int]] = []  # (threshold, alerts at/above it, true positives)
    hits = 0
    for i, (score, label) in enumerate(ranked):
        hits += bool(label)
        if i + 1 == len(ranked) or ranked[i + 1][0] < score:
            candidates.append((score, i + 1, hits))
    candidates.reverse()  # lowest threshold first
    if (target_precision is None) == (daily_capacity is None):
        raise ConfigError("thresholds_from_labels: give exactly one of target_precision or daily_capacity")
    if target_precision is not None:
        goals = _three(target_precision, lambda p: (p, p + (1 - p) / 3, p + 2 * (1 - p) / 3))
        ok = [lambda c, g=g: c[2] / c[1] >= g - 1e-12 for g in goals]
        what = "target_precision"
    else:
        if not days or days <= 0:
            raise ConfigError("thresholds_from_labels: daily_capacity needs days > 0")
        goals = _three(daily_capacity, lambda c: (c, c / 2, c / 4))
        ok = [lambda c, g=g: c[1] <= g * days for g in goals]
        what = "daily_capacity"
    chosen: list[float] = []
    for goal, reaches in zip(goals, ok):
        above = [c for c in candidates if (not chosen or c[0] > chosen[-1]) and reaches(c)]
        if not above:
            raise ConfigError(f"thresholds_from_labels: no threshold reaches {what}={goal:g} for every tier")
        chosen.append(above[0][0])
    return chosen[0], chosen[1], chosen[2]


def _three(value, expand) -> tuple[float, float, float]:
    goals = tuple(expand(float(value))) if isinstance(value, (int, float)) else tuple(float(v) for v in value)
    if len(goals) != 3:
        raise ConfigError(f"thresholds_from_labels: need one value or three (watch, high, critical), got {value!r}")
    return goals
