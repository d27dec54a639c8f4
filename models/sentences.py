"""Sentences for alert reasons: what each feature's value means, in plain words.

``describe`` words a feature in the context of the whole vector (a slot feature
``use_<i>_*`` needs the vocabulary to name its key); ``informative`` says whether a
feature's value can explain a risk at all, so that no alert leads with "No activity
of any kind for 1 days".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from models.catalogue import FEATURE_NAMES
from models.vocabulary import Vocabulary


def _n(v: float, one: str, many: str | None = None) -> str:
    k = round(v)
    return f"{k:g} {one if k == 1 else (many or one + 's')}"


def _pct(v: float) -> str:
    return f"{'up' if v > 0 else 'down'} {abs(v) * 100:.0f}%"


def _change(recent: float, before: float) -> str:
    if before <= 0:
        return "new" if recent > 0 else "unchanged"
    return "unchanged" if recent == before else _pct(recent / before - 1)


_SAY = {
    "days_since_last_order": lambda x: f"No order for {x['days_since_last_order']:.0f} days",
    "orders_30d": lambda x: f"{_n(x['orders_30d'], 'order')} in the last 30 days",
    "orders_90d": lambda x: f"{_n(x['orders_90d'], 'order')} in the last 90 days",
    "orders_365d": lambda x: f"{_n(x['orders_365d'], 'order')} in the last year",
    "order_gap_typical_days": lambda x: f"Usually orders every {x['order_gap_typical_days']:.0f} days",
    "order_overdue_ratio": lambda x: (f"No order for {x['days_since_last_order']:.0f} days, "
                                      f"{x['order_overdue_ratio']:.1f}x longer than usual for this customer"),
    "spend_90d": lambda x: f"Spent {x['spend_90d']:.2f} in the last 90 days",
    "spend_trend": lambda x: f"Spending {_change_trend(x['spend_trend'])} (last 90 days vs the 90 before)",
    "avg_order_value": lambda x: f"Average order worth {x['avg_order_value']:.2f}",
    "discount_share": lambda x: f"{x['discount_share'] * 100:.0f}% of order value came from discounts",
    "cancel_share": lambda x: f"{x['cancel_share'] * 100:.0f}% of orders cancelled",
    "refund_share": lambda x: f"{x['refund_share'] * 100:.0f}% of orders refunded",
    "return_share": lambda x: f"{x['return_share'] * 100:.0f}% of orders returned",
    "tickets_30d": lambda x: f"{_n(x['tickets_30d'], 'support ticket')} in the last 30 days",
    "complaints_30d": lambda x: f"{_n(x['complaints_30d'], 'complaint')} in the last 30 days",
    "open_tickets": lambda x: f"{_n(x['open_tickets'], 'support ticket')} still open",
    "reopened_tickets_90d": lambda x: f"{_n(x['reopened_tickets_90d'], 'ticket')} reopened in the last 90 days",
    "escalations_90d": lambda x: f"{_n(x['escalations_90d'], 'escalation')} in the last 90 days",
    "csat_recent": lambda x: f"Recent satisfaction {x['csat_recent']:.1f} out of 5",
    "sentiment_trend": lambda x: f"Tone in support contacts {_direction(x['sentiment_trend'])} ({x['sentiment_trend']:+.2f})",
    "resolution_hours_avg": lambda x: f"Tickets took {x['resolution_hours_avg']:.0f} hours to resolve on average",
    "repeat_issue_30d": lambda x: f"Same problem raised twice within 30 days ({_n(x['repeat_issue_30d'], 'topic')})",
    "days_since_last_login": lambda x: f"No app login for {x['days_since_last_login']:.0f} days",
    "sessions_7d": lambda x: f"{_n(x['sessions_7d'], 'app session')} in the last 7 days",
    "sessions_28d": lambda x: f"{_n(x['sessions_28d'], 'app session')} in the last 4 weeks",
    "session_trend": lambda x: (f"App sessions {_change(x['sessions_7d'] / 7, x['sessions_28d'] / 28)} "
                                "(last 7 days vs last 4 weeks)"),
    "session_length_trend": lambda x: f"App sessions {_change_trend(x['session_length_trend'])} in length compared with usual",
    "features_used_28d": lambda x: f"{_n(x['features_used_28d'], 'app feature')} used in the last 4 weeks",
    "notifications_disabled": lambda x: "Turned off app notifications" if x["notifications_disabled"] else "App notifications on",
    "uninstalled": lambda x: "Uninstalled the app" if x["uninstalled"] else "App installed",
    "tenure_days": lambda x: f"Customer for {x['tenure_days']:.0f} days",
    "clv_estimate": lambda x: f"Expected value about {x['clv_estimate']:.0f}",
    "marketing_consent": lambda x: "Agreed to marketing" if x["marketing_consent"] else "No marketing consent",
    "has_owner": lambda x: "Has an account manager" if x["has_owner"] else "No account manager",
    "days_since_last_activity": lambda x: f"No activity of any kind for {x['days_since_last_activity']:.0f} days",
}
assert tuple(_SAY) == FEATURE_NAMES[:len(_SAY)], "every fixed feature needs a sentence"


def _direction(v: float) -> str:
    return "worsening" if v < 0 else "improving" if v > 0 else "steady"


def _change_trend(v: float) -> str:
    """Wording of a -1..1 trend (recent - before) / max: down is relative to before."""
    if v == 0:
        return "unchanged"
    return _pct(v) if v < 0 else _pct(1 / (1 - v) - 1) if v < 1 else "new"


def describe(name: str, features: Mapping[str, float], vocab: Vocabulary | None = None) -> str:
    """A sentence a retention agent understands for feature ``name`` in context;
    ``vocab`` names the keys of the ``use_<i>_*`` slots.

    >>> describe("complaints_30d", {"complaints_30d": 2.0})
    '2 complaints in the last 30 days'
    >>> describe("session_trend", {"sessions_7d": 2.0, "sessions_28d": 20.0, "session_trend": -0.6})
    'App sessions down 60% (last 7 days vs last 4 weeks)'
    >>> v = Vocabulary(("messages", "order_tracking"))
    >>> describe("use_1_28d", {"use_1_28d": 3.0, "use_1_usual_28d": 40.0}, v)
    'Messages fell to 3 in the last 28 days, from about 40'
    >>> describe("main_features_used_28d", {"main_features_used_28d": 1.0}, v)
    "Uses 1 of the app's 2 main features"
    """
    if name in _SAY:
        return _SAY[name](features)
    if name in _ENGAGEMENT:
        return _ENGAGEMENT[name](features, vocab or Vocabulary())
    m = _SLOT.fullmatch(name)
    if m is None:
        raise KeyError(name)
    return _slot_sentence(int(m[1]), m[2], features, vocab or Vocabulary())


_SLOT = re.compile(r"use_(\d+)_(7d|28d|usual_28d|share_28d)")
_ACTIVITY_NAMES = {"login": "Logins", "push_opened": "Push notifications opened", "session": "App sessions"}


def key_title(key: str) -> str:
    """How a usage key reads in a sentence.

    >>> key_title("order_tracking"), key_title("login"), key_title("")
    ('Order tracking', 'Logins', 'An app feature')
    """
    if not key:
        return "An app feature"
    if key in _ACTIVITY_NAMES:
        return _ACTIVITY_NAMES[key]
    text = key.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def _slot_sentence(i: int, what: str, x: Mapping[str, float], vocab: Vocabulary) -> str:
    name = key_title(vocab.name(i - 1))
    c7, c28 = x.get(f"use_{i}_7d", 0.0), x.get(f"use_{i}_28d", 0.0)
    usual = x.get(f"use_{i}_usual_28d", 0.0)
    if what == "28d":
        if c28 < 0.8 * usual:
            return f"{name} fell to {c28:.0f} in the last 28 days, from about {usual:.0f}"
        if c28 > 1.25 * usual + 1:
            return f"{name} rose to {c28:.0f} in the last 28 days, from about {usual:.0f}"
        return f"{name}: {_n(c28, 'use')} in the last 28 days (about as usual)" if c28 else f"{name}: not used in the last 28 days"
    if what == "7d":
        return f"{name}: {_n(c7, 'use')} in the last 7 days (usually about {usual / 4:.0f} a week)"
    if what == "usual_28d":
        return f"{name}: usually about {usual:.0f} uses per 28 days"
    return f"{name}: {x.get(f'use_{i}_share_28d', 0.0) * 100:.0f}% of the customer's app use in the last 28 days"


_ENGAGEMENT = {
    "events_28d": lambda x, v: f"{_n(x['events_28d'], 'action')} in the last 28 days (orders, tickets, app use)",
    "active_days_28d": lambda x, v: f"Active on {_n(x['active_days_28d'], 'day')} of the last 28",
    "main_features_used_28d": lambda x, v: f"Uses {x['main_features_used_28d']:.0f} of the app's {v.features} main features",
    "use_other_28d": lambda x, v: f"{_n(x['use_other_28d'], 'use')} of other app features in the last 28 days",
}

# A reason must tell the agent something: these features explain a risk only beyond a
# level (a day of silence, no complaint, being a customer for years explain nothing).
_INFORMATIVE = {
    "days_since_last_order": lambda v: v >= 14, "days_since_last_login": lambda v: v >= 7,
    "days_since_last_activity": lambda v: v >= 7, "order_overdue_ratio": lambda v: v >= 1.2,
    "tenure_days": lambda v: v <= 90, "marketing_consent": lambda v: v == 0, "has_owner": lambda v: False,
    "clv_estimate": lambda v: False, "order_gap_typical_days": lambda v: False, "avg_order_value": lambda v: False,
    "csat_recent": lambda v: v < 3.5, "resolution_hours_avg": lambda v: v >= 24,
}
_BAD_EVENTS = ("tickets_30d", "complaints_30d", "open_tickets", "reopened_tickets_90d", "escalations_90d",
               "repeat_issue_30d", "cancel_share", "refund_share", "return_share", "discount_share",
               "notifications_disabled", "uninstalled")


def informative(name: str, x: Mapping[str, float]) -> bool:
    """Whether feature ``name`` at its value in ``x`` can be the reason for a risk.

    >>> informative("days_since_last_activity", {"days_since_last_activity": 1.0})
    False
    >>> informative("complaints_30d", {"complaints_30d": 2.0}), informative("complaints_30d", {"complaints_30d": 0.0})
    (True, False)
    """
    v = x.get(name, 0.0)
    if name in _INFORMATIVE:
        return _INFORMATIVE[name](v)
    if name in _BAD_EVENTS:
        return v > 0
    return True
