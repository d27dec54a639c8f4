"""The feature catalogue: one :class:`FeatureSpec` per churn feature, in the order
``compute_features`` returns them. ``docs/FEATURES.md`` is generated from it
(:func:`catalogue_markdown`), so the code and the docs share one source.

>>> FEATURE_NAMES[0], len(FEATURE_NAMES) == len(CATALOGUE)
('days_since_last_order', True)
>>> CATALOGUE["order_overdue_ratio"].window
'lifetime'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """What a feature is, how it is computed, over which window, and why it signals churn."""

    name: str
    formula: str
    window: str
    why: str


_SPECS = (
    # ---- orders
    FeatureSpec("days_since_last_order", "days from the last placed order to now; no order yet: days since first seen", "-",
                "Recency: the longer since the last purchase, the less likely the next one."),
    FeatureSpec("orders_30d", "placed orders in the last 30 days", "30d",
                "Frequency now; a drop to zero is the plainest sign of leaving."),
    FeatureSpec("orders_90d", "placed orders in the last 90 days (weekly buckets)", "90d",
                "Frequency over a quarter, less noisy than 30 days."),
    FeatureSpec("orders_365d", "placed orders in the last 365 days (weekly buckets)", "365d",
                "Yearly frequency: loyal customers buy often."),
    FeatureSpec("order_gap_typical_days", "(last order - first order) / (order days - 1), at least 1; 30 until two order days", "lifetime",
                "The customer's own rhythm, the yardstick for 'overdue'."),
    FeatureSpec("order_overdue_ratio", "days_since_last_order / order_gap_typical_days", "lifetime",
                "Silence measured against the customer's own rhythm: 3x the usual gap is alarming, 30 days is not for a quarterly buyer."),
    FeatureSpec("spend_90d", "sum of placed order amounts in the last 90 days (weekly buckets, to 0.1)", "90d",
                "Monetary value now."),
    FeatureSpec("spend_trend", "(spend last 90d - spend previous 90d) / max of the two; 0 when both are 0", "180d",
                "Shrinking spend (towards -1) often precedes leaving."),
    FeatureSpec("avg_order_value", "total placed amount / placed orders; 0 before any order", "lifetime",
                "Basket size: monetary part of RFM, and the base of the value estimate."),
    FeatureSpec("discount_share", "total discount / (total amount + total discount); 0 before any order", "lifetime",
                "Customers who buy only on discount leave when the discounts stop."),
    FeatureSpec("cancel_share", "cancelled orders / placed orders, at most 1", "lifetime",
                "Cancellations show unmet expectations."),
    FeatureSpec("refund_share", "refunded orders / placed orders, at most 1", "lifetime",
                "Refunds show problems with product or service."),
    FeatureSpec("return_share", "returned orders / placed orders, at most 1", "lifetime",
                "Frequent returns show poor product fit."),
    # ---- support
    FeatureSpec("tickets_30d", "support tickets opened in the last 30 days", "30d",
                "Many contacts mean friction."),
    FeatureSpec("complaints_30d", "tickets opened or reopened as a complaint in the last 30 days", "30d",
                "Complaints are the strongest service signal of churn."),
    FeatureSpec("open_tickets", "tickets opened or reopened and not resolved (at most 8 tracked)", "now",
                "Unresolved problems keep the customer waiting."),
    FeatureSpec("reopened_tickets_90d", "tickets reopened in the last 90 days (weekly buckets)", "90d",
                "A reopened ticket is a problem we claimed to fix and did not."),
    FeatureSpec("escalations_90d", "ticket escalations in the last 90 days (weekly buckets)", "90d",
                "Escalations mark problems the first line could not solve."),
    FeatureSpec("csat_recent", "EWMA (weight 0.5 on the newest) of CSAT scores 1-5; 4 when never rated", "recent",
                "Low satisfaction after support precedes leaving."),
    FeatureSpec("sentiment_trend", "fast EWMA (0.5) minus slow EWMA (0.1) of ticket sentiment; 0 when none", "recent",
                "Mood turning sour (negative) compared with the customer's usual tone."),
    FeatureSpec("resolution_hours_avg", "EWMA (0.3) of hours from opened to resolved; 0 when no ticket resolved", "recent",
                "Slow resolution wears patience out."),
    FeatureSpec("repeat_issue_30d", "categories with two or more tickets opened in the last 30 days", "30d",
                "The same problem raised twice means it was not solved."),
    # ---- app
    FeatureSpec("days_since_last_login", "days from the last login or session to now; 0 when never (no app use is no "
                "evidence of drifting away, and following tenure would mislead)", "-",
                "App recency: disengagement shows in the app before it shows in orders."),
    FeatureSpec("sessions_7d", "app sessions in the last 7 days", "7d",
                "Engagement this week."),
    FeatureSpec("sessions_28d", "app sessions in the last 28 days", "28d",
                "Engagement this month, the baseline for the trend."),
    FeatureSpec("session_trend", "(sessions_7d / 7 - sessions_28d / 28) / max of the two rates; 0 when both are 0", "7d vs 28d",
                "Sessions falling (towards -1) against the customer's own month."),
    FeatureSpec("session_length_trend", "(fast EWMA 0.5 - slow EWMA 0.1 of session seconds) / max of the two; 0 when none", "recent",
                "Shorter visits than usual: the app is losing its hold."),
    FeatureSpec("features_used_28d", "distinct app features used in the weeks touching the last 28 days (32-bit hashed set)", "28d",
                "Breadth of use: customers who use few features are easier to lose."),
    FeatureSpec("notifications_disabled", "1 when notifications were disabled and no push was opened since, else 0", "now",
                "Turning us off is a step towards leaving."),
    FeatureSpec("uninstalled", "1 when the app was uninstalled and no login or session came since, else 0", "now",
                "Uninstalling the app is an explicit step out."),
    # ---- customer
    FeatureSpec("tenure_days", "days since the signup date, or since first seen without one", "lifetime",
                "New customers churn most; tenure builds habit."),
    FeatureSpec("clv_estimate", "avg_order_value x 365 / order_gap_typical_days x 2 years x min(1, 1 / order_overdue_ratio)", "lifetime",
                "Expected value at stake: it decides how much a retention offer may cost."),
    FeatureSpec("marketing_consent", "1 when the newest profile says the customer consents to marketing, else 0", "now",
                "Whether we may reach out with an offer; withdrawing consent is a warning."),
    FeatureSpec("has_owner", "1 when an account manager owns the customer, else 0", "now",
                "Managed accounts get human attention and churn less."),
    FeatureSpec("days_since_last_activity", "days since the last order, support or app event from the customer; none: days since first seen", "-",
                "Silence across every channel: the broadest sign of drifting away."),
    # ---- engagement (per usage key; keys are app features, or login / push_opened)
    FeatureSpec("events_28d", "placed orders + tickets opened + app sessions + uses of every key, in the last 28 days", "28d",
                "Overall volume of use, whatever the product."),
    FeatureSpec("active_days_28d", "days among the last 28 with at least one of those", "28d",
                "Habit: a customer who comes back on many days is hard to lose."),
    FeatureSpec("main_features_used_28d", "vocabulary slots holding an app feature that were used in the last 28 days", "28d",
                "Breadth over the app's main features (the vocabulary), named, unlike features_used_28d."),
    FeatureSpec("use_other_28d", "uses in the last 28 days of keys outside the vocabulary (pooled)", "28d",
                "Use of everything the vocabulary does not name."),
)

VOCABULARY_SLOTS = 12  # == models.vocabulary.SIZE (checked in tests/unit/test_vocabulary.py)
_SLOT_SPECS = (
    ("7d", "uses of slot {i}'s key in the last 7 days", "7d",
     "Use of one named feature this week; against the usual level it shows a change of habit."),
    ("28d", "uses of slot {i}'s key in the last 28 days", "28d",
     "How much the customer uses this feature: churn risk often depends on a few features."),
    ("usual_28d", "the key's usual uses per 28 days: uses in the days before the last 28 (week buckets, about two "
     "months) / those days since first seen x 28; with under 14 such days: use_{i}_28d", "past",
     "The customer's own past, the yardstick for the 7- and 28-day figures."),
    ("share_28d", "use_{i}_28d / all uses of every key in the last 28 days; 0 without any", "28d",
     "The mix of use: what the customer comes for."),
)
_SPECS = _SPECS + tuple(
    FeatureSpec(f"use_{i}_{suffix}", formula.format(i=i), window, why)
    for i in range(1, VOCABULARY_SLOTS + 1) for suffix, formula, window, why in _SLOT_SPECS)

CATALOGUE: dict[str, FeatureSpec] = {f.name: f for f in _SPECS}
FEATURE_NAMES: tuple[str, ...] = tuple(CATALOGUE)


def catalogue_markdown() -> str:
    """The catalogue as the Markdown page ``docs/FEATURES.md``.

    >>> catalogue_markdown().splitlines()[0]
    '# Churn features'
    """
    lines = [
        "# Churn features",
        "",
        "Generated from `models/catalogue.py` by `catalogue_markdown()`; do not edit by hand",
        "(`tests/unit/test_features.py` fails when this page and the code differ).",
        "",
        "Every feature is always present as a finite float, computed purely from the",
        "customer's bounded state against `now` (event time). Day windows count UTC",
        "calendar days back from `now`'s day; windows of 90 days and more use week",
        "buckets (Monday to Sunday), a week counting when its middle day (Thursday) falls",
        "inside the window. Durations in days are capped at 3650.",
        "",
        "`use_<i>_*` describe the key in slot *i* of the vocabulary (`models/vocabulary.py`):",
        "the most used app features learnt from the stream and carried in the model registry,",
        "or the configured list `CHURN_APP_FEATURES`. Reasons name the key (\"Messages fell to",
        "3 in the last 28 days, from about 40\"). An empty slot's features are 0.",
        "",
        "| # | feature | window | formula (and default) | why it signals churn |",
        "|---|---|---|---|---|",
    ]
    for i, f in enumerate(_SPECS, 1):
        lines.append(f"| {i} | `{f.name}` | {f.window} | {f.formula} | {f.why} |")
    return "\n".join(lines) + "\n"
