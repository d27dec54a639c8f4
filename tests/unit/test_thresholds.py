"""Tier thresholds from resolved labels: lowest thresholds reaching a precision or a daily capacity."""

import random

import pytest

from models.thresholds import thresholds_from_labels
from schemas.errors import ConfigError


def _labelled(seed=3, n=2000):
    rng = random.Random(seed)
    scores = [round(rng.random(), 3) for _ in range(n)]
    labels = [rng.random() < s for s in scores]  # calibrated: churn probability equals the score
    return scores, labels


def _precision(scores, labels, thr):
    hits = [lab for s, lab in zip(scores, labels) if s >= thr]
    return sum(hits) / len(hits)


def test_from_labels_target_precision_takes_lowest_reaching_threshold():
    scores, labels = _labelled()
    goals = (0.6, 0.75, 0.9)
    tiers = thresholds_from_labels(scores, labels, target_precision=goals)
    lower = sorted(set(scores))
    for goal, thr in zip(goals, tiers):
        assert _precision(scores, labels, thr) >= goal
    # the next lower candidate of the watch threshold misses the target
    below = max(s for s in lower if s < tiers[0])
    assert _precision(scores, labels, below) < goals[0]
    assert tiers[0] < tiers[1] < tiers[2]


def test_from_labels_daily_capacity():
    scores, labels = _labelled()
    days = 10
    tiers = thresholds_from_labels(scores, labels, daily_capacity=(40, 20, 5), days=days)
    for cap, thr in zip((40, 20, 5), tiers):
        assert sum(s >= thr for s in scores) <= cap * days
    below = max(s for s in scores if s < tiers[0])
    assert sum(s >= below for s in scores) > 40 * days


@pytest.mark.parametrize("kwargs", [dict(), dict(target_precision=0.5, daily_capacity=3, days=1),
                                    dict(daily_capacity=3), dict(target_precision=(0.5, 0.6))])
def test_from_labels_needs_exactly_one_valid_mode(kwargs):
    scores, labels = _labelled(n=50)
    with pytest.raises(ConfigError):
        thresholds_from_labels(scores, labels, **kwargs)


def test_from_labels_unreachable_precision_names_it():
    with pytest.raises(ConfigError, match="target_precision"):
        thresholds_from_labels([0.2, 0.4, 0.9], [False, False, False], target_precision=0.5)
