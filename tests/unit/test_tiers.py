"""Tiers: entry at the threshold, exit only below threshold - hysteresis."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.tiers import RANK, Tiers
from schemas.errors import ChurnError, ConfigError
from schemas.events import TIERS

T = Tiers(watch=0.5, high=0.7, critical=0.85, hysteresis=0.05)


@pytest.mark.parametrize("score, tier", [(0.0, "none"), (0.4999, "none"), (0.5, "watch"), (0.7, "high"),
                                         (0.8499, "high"), (0.85, "critical"), (1.0, "critical")])
def test_enters_at_or_above_threshold(score, tier):
    assert T.next_tier("none", score) == tier


def test_leaves_only_below_threshold_minus_hysteresis():
    assert T.next_tier("high", 0.651) == "high"
    assert T.next_tier("high", 0.649) == "watch"
    assert T.next_tier("watch", 0.451) == "watch"
    assert T.next_tier("watch", 0.449) == "none"


def test_drops_several_tiers_at_once():
    assert T.next_tier("critical", 0.1) == "none"
    assert T.next_tier("critical", 0.6) == "watch"
    # from critical, a score within high's margin keeps high
    assert T.next_tier("critical", 0.66) == "high"


def test_wobbling_around_a_threshold_does_not_flap():
    rng = random.Random(7)
    tier, changes = "none", 0
    for _ in range(1000):
        new = T.next_tier(tier, 0.7 + rng.uniform(-0.045, 0.045))
        changes += new != tier
        tier = new
    # one climb into watch or high, then it settles in high and stays
    assert changes <= 2 and tier == "high"


@given(current=st.sampled_from(TIERS), score=st.floats(0, 1))
def test_never_above_entered_tier_and_only_held_within_margin(current, score):
    new = T.next_tier(current, score)
    entered = T.next_tier("none", score)
    assert RANK[new] >= RANK[entered]
    assert RANK[new] <= max(RANK[current], RANK[entered])
    if RANK[new] > RANK[entered]:
        assert score >= T.threshold(new) - T.hysteresis


@pytest.mark.parametrize("kwargs", [dict(watch=0.7, high=0.5, critical=0.9), dict(watch=0.5, high=0.7, critical=1.2),
                                    dict(hysteresis=0.6)])
def test_invalid_thresholds_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        Tiers(**kwargs)
    assert issubclass(ConfigError, ChurnError)
