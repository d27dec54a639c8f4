"""Rule prior: each warning sign raises the score; reasons are the rule terms."""

import pytest

from models.prior import BIAS, RULES, RulePrior, sigmoid

CALM = {"order_overdue_ratio": 0.5, "days_since_last_activity": 0.0, "orders_90d": 3.0, "orders_365d": 10.0,
        "complaints_30d": 0.0, "csat_recent": 5.0, "session_trend": 0.2, "notifications_disabled": 0.0,
        "uninstalled": 0.0}
SIGNS = {"order_overdue_ratio": 3.0, "days_since_last_activity": 60.0, "orders_90d": 0.0, "complaints_30d": 2.0,
         "csat_recent": 1.0, "session_trend": -0.8, "notifications_disabled": 1.0, "uninstalled": 1.0}


@pytest.mark.parametrize("feature", sorted(SIGNS))
def test_each_warning_sign_raises_the_score_and_is_named(feature):
    prior = RulePrior()
    x = {**CALM, feature: SIGNS[feature]}
    assert prior.score(x) > prior.score(CALM)
    reasons = prior.explain(x, top=3)
    assert reasons[0].feature == feature and reasons[0].value == SIGNS[feature] and reasons[0].text


def test_calm_customer_scores_at_the_bias_and_has_no_reasons():
    prior = RulePrior()
    assert prior.score(CALM) == pytest.approx(sigmoid(BIAS))
    assert prior.explain(CALM) == []


def test_reasons_ordered_and_shares_add_up_to_score_above_baseline():
    prior = RulePrior()
    x = {**CALM, **SIGNS}
    reasons = prior.explain(x, top=len(RULES))
    contributions = [r.contribution for r in reasons]
    assert contributions == sorted(contributions, reverse=True)
    assert sum(contributions) == pytest.approx(prior.score(x) - sigmoid(BIAS), abs=1e-5)
    assert len(prior.explain(x, top=2)) == 2


def test_terms_are_capped():
    prior = RulePrior()
    assert prior.score({"order_overdue_ratio": 4.0}) == prior.score({"order_overdue_ratio": 400.0})
