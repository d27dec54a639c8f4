"""Churn features of one customer, computed purely from :class:`CustomerState` at ``now``.

``now`` is event time (the triggering event or silence checkpoint), never the wall
clock. Definitions, windows and defaults live in :mod:`models.catalogue`.

>>> from datetime import datetime, timezone
>>> from schemas.events import OrderEvent
>>> from models.state import apply_event
>>> ev = OrderEvent(event_type="order", event_id="e1", customer_id="c1", occurred_at="2024-05-01T10:00:00+00:00",
...                 order_id="o1", status="placed", amount=40.0, currency="EUR", items=1, channel="web")
>>> x = compute_features(apply_event(None, ev), datetime(2024, 6, 15, 10, tzinfo=timezone.utc))
>>> x["days_since_last_order"], x["orders_30d"], x["orders_90d"], x["order_overdue_ratio"]
(45.0, 0.0, 1.0, 1.5)
>>> describe("order_overdue_ratio", x)
'No order for 45 days, 1.5x longer than usual for this customer'
"""

from __future__ import annotations

import functools
from datetime import date, datetime

from models import usage
from models.catalogue import CATALOGUE, FEATURE_NAMES, VOCABULARY_SLOTS, FeatureSpec, catalogue_markdown
from models.sentences import describe, informative
from models.state import DAY_S, CustomerState, day_of, week_of
from models.vocabulary import ACTIVITY_KEYS as _ACTIVITY
from models.vocabulary import Vocabulary

__all__ = ["CATALOGUE", "FEATURE_NAMES", "FeatureSpec", "catalogue_markdown", "compute_features",
           "value_segment", "describe", "informative", "CLV_HIGH", "CLV_LOW", "CLV_YEARS", "DEFAULT_CSAT", "MAX_DAYS"]

MAX_DAYS = 3650.0      # every "days since" is capped here
DEFAULT_CSAT = 4.0     # csat_recent of a customer who never rated (a typical, content customer)
CLV_YEARS = 2.0        # expected remaining years of a customer who keeps their rhythm
CLV_HIGH = 1000.0      # clv_estimate at or above: "high" value segment
CLV_LOW = 100.0        # clv_estimate below (and weak RFM): "low" value segment


_EMPTY = Vocabulary()


def compute_features(state: CustomerState, now: datetime | float, vocab: Vocabulary | None = None) -> dict[str, float]:
    """Every feature of :data:`FEATURE_NAMES`, as finite floats, in that order, at ``now``
    (an aware datetime, or its epoch seconds).

    ``vocab`` says which usage key feeds each ``use_<i>_*`` slot (none: all slots empty).

    It runs for every score (every event and silence checkpoint), so each window's ring
    bounds are worked out once up front and the vector starts as a copy of the all-zero
    one (every key in catalogue order, no dict growth), only the non-zero parts set.
    """
    s, t = state, now if isinstance(now, (int, float)) else now.timestamp()
    nd = day_of(t)
    head = nd if s.head_day is None else s.head_day
    off = nd - head                              # age in days of the newest day bucket
    base = nd - 7 * week_of(head)                # age of the newest week's middle day
    # day rings: buckets aged 0..n-1 (future ones too) are ring[:n - off]
    d7, d28, d30 = max(0, 7 - off), max(0, 28 - off), max(0, 30 - off)
    # week rings: weeks whose middle day is aged below n are ring[:-((base - n) // 7)]
    w90, w180, w365 = max(0, -((base - 90) // 7)), max(0, -((base - 180) // 7)), max(0, -((base - 365) // 7))
    first = s.first_seen

    def since(at: float | None) -> float:
        at = first if at is None else at
        return 0.0 if at is None else min(MAX_DAYS, max(0.0, (t - at) / DAY_S))

    x = _ZERO.copy()
    n = s.n_orders
    x["days_since_last_order"] = recency = since(s.last_order)
    x["orders_30d"] = float(sum(s.d_orders[:d30]))
    x["orders_90d"] = float(round(sum(s.w_orders[:w90]), 2))
    x["orders_365d"] = float(round(sum(s.w_orders[:w365]), 2))
    x["order_gap_typical_days"] = gap = s.typical_gap_days
    x["order_overdue_ratio"] = overdue = recency / gap
    w_spend = s.w_spend
    x["spend_90d"] = spend = float(round(sum(w_spend[:w90]), 2))
    x["spend_trend"] = _trend(spend, float(round(sum(w_spend[w90:w180]), 2)))
    x["avg_order_value"] = aov = s.total_spend / n if n else 0.0
    gross = s.total_spend + s.total_discount
    x["discount_share"] = s.total_discount / gross if gross else 0.0
    x["cancel_share"] = min(1.0, s.n_cancelled / max(1, n))
    x["refund_share"] = min(1.0, s.n_refunded / max(1, n))
    x["return_share"] = min(1.0, s.n_returned / max(1, n))

    x["tickets_30d"] = float(sum(s.d_tickets[:d30]))
    x["complaints_30d"] = float(sum(s.d_complaints[:d30]))
    x["open_tickets"] = float(len(s.open_tickets))
    x["reopened_tickets_90d"] = float(round(sum(s.w_reopened[:w90]), 2))
    x["escalations_90d"] = float(round(sum(s.w_escalations[:w90]), 2))
    x["csat_recent"] = DEFAULT_CSAT if s.csat is None else s.csat
    if s.sentiment_fast is not None:
        x["sentiment_trend"] = s.sentiment_fast - s.sentiment_slow
    x["resolution_hours_avg"] = s.resolution_hours or 0.0
    if s.category_opened:
        x["repeat_issue_30d"] = float(sum(1 for ts in s.category_opened.values()
                                          if len(ts) == 2 and nd - day_of(ts[0]) < 30))

    if s.last_login is not None:  # no app: no signal
        x["days_since_last_login"] = since(s.last_login)
    d_sessions = s.d_sessions
    x["sessions_7d"] = s7 = float(sum(d_sessions[:d7]))
    x["sessions_28d"] = s28 = float(sum(d_sessions[:d28]))
    x["session_trend"] = _trend(s7 / 7, s28 / 28)
    if s.session_fast is not None:
        x["session_length_trend"] = _trend(s.session_fast, s.session_slow)
    used = 0
    for bits in s.w_features[: max(0, -((base - 31) // 7))]:  # weeks whose Sunday is aged < 28 days
        used |= bits
    x["features_used_28d"] = float(used.bit_count())
    x["notifications_disabled"] = _flag(s.notifications_off, s.last_push_opened)
    x["uninstalled"] = _flag(s.uninstalled_at, s.last_login)

    x["tenure_days"] = since(_signup_epoch(s.signup) if s.signup else None)
    x["clv_estimate"] = round(aov * 365.0 / gap * CLV_YEARS * min(1.0, 1.0 / overdue if overdue else 1.0), 2)
    x["marketing_consent"] = 1.0 if s.consent else 0.0
    x["has_owner"] = 1.0 if s.owner else 0.0
    x["days_since_last_activity"] = since(s.last_activity)
    events = sum(s.d_orders[:d28]) + sum(s.d_tickets[:d28]) + sum(d_sessions[:d28])
    x["events_28d"] = float(events)
    x["active_days_28d"] = float((s.active_bits & ((1 << d28) - 1)).bit_count())
    if s.u_keys:  # app use counted (no keys: every slot stays empty, as for most shoppers)
        _engagement(x, s, nd, head, off, d7, d28, vocab or _EMPTY)
    return x


def _engagement(x: dict[str, float], s: CustomerState, nd: int, head: int, off: int, d7: int, d28: int,
                vocab: Vocabulary) -> None:
    """The per-key features: ``use_<i>_*`` of the vocabulary's slots, the pooled rest."""
    slots, names = vocab.hashes, vocab.names
    first = nd if s.first_seen is None else day_of(s.first_seen)
    span = usage.past_span(head, off, first)   # the same for every key: days of past kept
    shares: list[tuple[str, float]] = []  # (share feature, 28 days) of each slot used, set once the total is known
    other = total = 0.0
    main = 0
    whole = off <= 0  # the whole day ring (at most 28 days) is the last 28 days: no slice
    for h, ring, wring in zip(s.u_keys, s.u_days, s.u_weeks):
        n = float(sum(ring) if whole else sum(ring[:d28]))
        total += n
        k = slots.get(h)
        if k is None:
            other += n
            continue
        f7, f28, f_usual, f_share = _SLOT_NAMES[k]
        x[f7], x[f28] = float(sum(ring[:d7])) if n else 0.0, n
        if span is None:
            x[f_usual] = n
        else:
            x[f_usual] = round(usage.past_uses(ring, wring, off) / span * 28, 1)
        shares.append((f_share, n))
        if n and names[k] not in _ACTIVITY:
            main += 1
    x["events_28d"] += total
    x["main_features_used_28d"] = float(main)
    x["use_other_28d"] = other
    if total:
        for f_share, n in shares:
            x[f_share] = round(n / total, 3)


_SLOT_NAMES = tuple(tuple(f"use_{i}_{w}" for w in ("7d", "28d", "usual_28d", "share_28d"))
                    for i in range(1, VOCABULARY_SLOTS + 1))
_ZERO = dict.fromkeys(FEATURE_NAMES, 0.0)  # every feature in catalogue order, before it is set


@functools.lru_cache(maxsize=4096)
def _signup_epoch(signup: str) -> float:
    """Epoch seconds of a profile's signup date (ISO text; parsed once per distinct date)."""
    return _epoch(date.fromisoformat(signup))


def _trend(recent: float, before: float) -> float:
    top = max(recent, before)
    return 0.0 if top <= 0 else (recent - before) / top


def _flag(at: float | None, undone_at: float | None) -> float:
    return 1.0 if at is not None and (undone_at is None or undone_at < at) else 0.0


def _epoch(d: date) -> float:
    return (d - date(1970, 1, 1)).days * DAY_S


def value_segment(features: dict[str, float]) -> str:
    """``"high"``, ``"mid"`` or ``"low"`` from RFM scores and ``clv_estimate``.

    R, F and M each score 1-3: recency (last order within 30 / 90 days; 1 without an
    order in 365 days), frequency
    (6+ / 2+ orders in 365 days), money (average order 100+ / 40+). High: clv at least
    ``CLV_HIGH`` or RFM sum 8+. Low: clv below ``CLV_LOW`` and RFM sum 4 or less.

    >>> value_segment({"days_since_last_order": 10, "orders_365d": 8, "avg_order_value": 50, "clv_estimate": 600})
    'high'
    >>> value_segment({"days_since_last_order": 200, "orders_365d": 1, "avg_order_value": 20, "clv_estimate": 30})
    'low'
    """
    r = _score(-features["days_since_last_order"], -30, -90) if features["orders_365d"] else 1
    f = _score(features["orders_365d"], 6, 2)
    m = _score(features["avg_order_value"], 100, 40)
    clv = features["clv_estimate"]
    if clv >= CLV_HIGH or r + f + m >= 8:
        return "high"
    if clv < CLV_LOW and r + f + m <= 4:
        return "low"
    return "mid"


def _score(v: float, top: float, mid: float) -> int:
    return 3 if v >= top else 2 if v >= mid else 1
