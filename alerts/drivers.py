"""The primary driver of a risk: what a retention agent should address first.

Each feature of the catalogue (``docs/FEATURES.md``) belongs to at most one driver; the driver with
the largest total *positive* contribution among the reasons wins. Features that say
nothing about why (tenure, CLV, consent, owner) belong to none.

>>> from schemas.events import Reason
>>> primary_driver([Reason(feature="complaints_30d", value=2, contribution=0.2, text="2 complaints"),
...                 Reason(feature="days_since_last_order", value=60, contribution=0.15, text="60 days"),
...                 Reason(feature="sessions_7d", value=0, contribution=0.1, text="no sessions")])
'disengagement'
>>> primary_driver([])
'disengagement'
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.events import Driver, Reason

_GROUPS: dict[str, tuple[str, ...]] = {
    "service": ("tickets_30d", "complaints_30d", "open_tickets", "reopened_tickets_90d", "escalations_90d",
                "csat_recent", "sentiment_trend", "resolution_hours_avg", "repeat_issue_30d"),
    "price_value": ("spend_trend", "spend_90d", "discount_share", "avg_order_value"),
    "product_fit": ("return_share", "refund_share", "cancel_share"),
    "disengagement": ("days_since_last_order", "orders_30d", "orders_90d", "orders_365d", "order_gap_typical_days",
                      "order_overdue_ratio", "days_since_last_login", "sessions_7d", "sessions_28d", "session_trend",
                      "session_length_trend", "features_used_28d", "notifications_disabled", "uninstalled",
                      "days_since_last_activity", "events_28d", "active_days_28d", "main_features_used_28d",
                      "use_other_28d", *(f"use_{i}_{w}" for i in range(1, 13)
                                         for w in ("7d", "28d", "usual_28d", "share_28d"))),
}

FEATURE_DRIVER: dict[str, Driver] = {f: d for d, feats in _GROUPS.items() for f in feats}  # type: ignore[misc]
"""Feature name → driver."""

NO_DRIVER: frozenset[str] = frozenset({"tenure_days", "clv_estimate", "marketing_consent", "has_owner"})
"""Features that describe the customer, not a reason to leave."""

DEFAULT_DRIVER: Driver = "disengagement"
"""When no reason points anywhere: churn mostly looks like silence."""

_ORDER: tuple[Driver, ...] = ("service", "product_fit", "price_value", "disengagement")  # tie-break: most actionable first


def driver_weights(reasons: Iterable[Reason]) -> dict[Driver, float]:
    """Sum of positive contributions per driver.

    >>> from schemas.events import Reason
    >>> driver_weights([Reason(feature="return_share", value=0.5, contribution=0.3, text="x"),
    ...                 Reason(feature="refund_share", value=0.2, contribution=-0.1, text="y")])
    {'product_fit': 0.3}
    """
    weights: dict[Driver, float] = {}
    for reason in reasons:
        driver = FEATURE_DRIVER.get(reason.feature)
        if driver is not None and reason.contribution > 0:
            weights[driver] = weights.get(driver, 0.0) + reason.contribution
    return weights


def primary_driver(reasons: Iterable[Reason]) -> Driver:
    """Driver with the largest positive weight; ties go to the most actionable."""
    weights = driver_weights(reasons)
    if not weights:
        return DEFAULT_DRIVER
    return max(_ORDER, key=lambda d: (weights.get(d, 0.0), -_ORDER.index(d)))
