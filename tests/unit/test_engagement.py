"""Per-feature engagement: use per key in the state, the slot features, their reasons."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from models.features import compute_features, describe
from models.model import ChurnModel
from models.prior import top_reasons
from models.state import CustomerState, apply_event
from models.usage import USAGE_SLOTS
from models.vocabulary import Vocabulary, key_hash
from tests.unit.test_state import T0, app, fold, order

VOCAB = Vocabulary(("messages", "groups", "help") + ("",) * 9)


def history(recent_messages: int, days: int = 120):
    """40 messages every 28 days for ``days`` days, then ``recent_messages`` in the last 28."""
    evs = [order(T0 - timedelta(days=days))]
    for d in range(days, 28, -1):
        if d % 7 == 0:
            evs += [app(T0 - timedelta(days=d), "feature_used", feature="messages") for _ in range(10)]
    evs += [app(T0 - timedelta(days=3 + i % 20), "feature_used", feature="messages") for i in range(recent_messages)]
    evs += [app(T0 - timedelta(days=2), "feature_used", feature="help") for _ in range(4)]
    return evs


def test_use_per_feature_against_the_customers_own_past():
    x = compute_features(fold(history(3)), T0, VOCAB)
    assert x["use_1_28d"] == 3.0 and x["use_3_28d"] == 4.0 and x["use_2_28d"] == 0.0
    assert x["use_1_usual_28d"] == pytest.approx(40.0, rel=0.1)  # 10 a week before (37: recent weeks weigh more)
    assert x["use_1_7d"] == pytest.approx(sum(1 for i in range(3) if 3 + i % 20 < 7))
    assert x["use_1_share_28d"] == round(3 / 7, 3) and x["use_3_share_28d"] == round(4 / 7, 3)
    assert x["main_features_used_28d"] == 2.0 and x["use_other_28d"] == 0.0
    assert describe("use_1_28d", x, VOCAB) == f"Messages fell to 3 in the last 28 days, from about {x['use_1_usual_28d']:.0f}"
    assert describe("main_features_used_28d", x, VOCAB) == "Uses 2 of the app's 3 main features"
    steady = compute_features(fold(history(40)), T0, VOCAB)
    assert steady["use_1_28d"] == 40.0 and "about as usual" in describe("use_1_28d", steady, VOCAB)


def test_keys_outside_the_vocabulary_are_pooled_and_silence_empties_the_windows():
    s = fold(history(3))
    x = compute_features(s, T0, Vocabulary(("groups",) + ("",) * 11))
    assert x["use_1_28d"] == 0.0 and x["use_other_28d"] == 7.0
    later = compute_features(s, T0 + timedelta(days=40), VOCAB)
    assert later["use_1_28d"] == later["use_1_7d"] == 0.0 and later["active_days_28d"] == 0.0
    assert later["use_1_usual_28d"] > 0  # the past is still the customer's own past


def test_usage_memory_is_bounded_however_many_features_are_tried():
    evs = [app(T0 - timedelta(hours=i), "feature_used", feature=f"feature-{i}") for i in range(300)]
    s = fold(evs)
    assert len(s.u_keys) == len(s.u_days) == len(s.u_weeks) == USAGE_SLOTS
    assert all(len(r) <= 28 for r in s.u_days)
    x = compute_features(s, T0, Vocabulary())
    assert x["use_other_28d"] == 300.0  # every use is counted, the overflow pooled
    assert CustomerState.from_json(json.loads(json.dumps(s.to_json()))) == s


def test_apply_event_never_mutates_the_usage_rings():
    s = fold(history(5))
    before = copy.deepcopy(s)
    apply_event(s, app(T0, "feature_used", feature="messages"))
    apply_event(s, app(T0 + timedelta(days=3), "feature_used", feature="calls"))
    assert s == before
    assert apply_event(s, app(T0, "feature_used", feature="messages")).u_days[s.u_keys.index(key_hash("messages"))][0] == 1


def test_reasons_name_the_features_and_skip_values_that_explain_nothing():
    x = compute_features(fold(history(3)), T0, VOCAB)
    assert x["days_since_last_activity"] < 7
    contribs = {"days_since_last_activity": 0.5, "use_1_28d": 0.2, "tenure_days": 0.1, "complaints_30d": 0.05}
    reasons = top_reasons(x, contribs, 3, VOCAB)
    assert [r.feature for r in reasons] == ["use_1_28d"]
    assert reasons[0].text.startswith("Messages fell to 3 in the last 28 days, from about 3")  # 37: see above


def test_the_model_learns_which_feature_matters_and_names_it():
    """Churners use messages little; the model learns it and the reason names messages."""
    import random

    rnd, m = random.Random(1), ChurnModel()
    for _ in range(3000):
        y = rnd.random() < 0.3
        x = {"use_1_28d": rnd.uniform(0, 8) if y else rnd.uniform(20, 60), "use_2_28d": rnd.uniform(0, 60),
             "days_since_last_activity": 1.0}
        m.learn(x, y)
    lonely = {"use_1_28d": 2.0, "use_1_usual_28d": 40.0, "use_2_28d": 30.0, "days_since_last_activity": 1.0}
    assert m.score(lonely) > m.score({**lonely, "use_1_28d": 45.0})
    assert m.explain(lonely, 1, vocab=VOCAB)[0].text == "Messages fell to 2 in the last 28 days, from about 40"
