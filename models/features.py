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


def compute_features(state: CustomerState, now: datetime, vocab: Vocabulary | None = None) -> dict[str, float]:
    """Every feature of :data:`FEATURE_NAMES`, as finite floats, in that order.

    ``vocab`` says which usage key feeds each ``use_<i>_*`` slot (none: all slots empty).
    """
    s, t = state, now.timestamp()
    nd = day_of(t)
    head = nd if s.head_day is None else s.head_day
    off = nd - head                              # age in days of the newest day bucket
    base = nd - 7 * week_of(head)                # age of the newest week's middle day

    def days(ring: list[int], n: int) -> float:   # day buckets aged 0..n-1 (future ones too)
        return float(sum(ring[: max(0, n - off)]))

    def weeks(ring: list, lo: int, hi: int) -> float:  # weeks whose middle day is aged lo..hi-1
        start = 0 if lo <= 0 else max(0, -((base - lo) // 7))
        return float(round(sum(ring[start: max(0, -((base - hi) // 7))]), 2))

    def since(at: float | None) -> float:
        at = s.first_seen if at is None else at
        return 0.0 if at is None else min(MAX_DAYS, max(0.0, (t - at) / DAY_S))

    x: dict[str, float] = {}
    n = s.n_orders
    x["days_since_last_order"] = since(s.last_order)
    x["orders_30d"] = days(s.d_orders, 30)
    x["orders_90d"] = weeks(s.w_orders, 0, 90)
    x["orders_365d"] = weeks(s.w_orders, 0, 365)
    x["order_gap_typical_days"] = gap = s.typical_gap_days
    x["order_overdue_ratio"] = overdue = x["days_since_last_order"] / gap
    x["spend_90d"] = weeks(s.w_spend, 0, 90)
    x["spend_trend"] = _trend(x["spend_90d"], weeks(s.w_spend, 90, 180))
    x["avg_order_value"] = aov = s.total_spend / n if n else 0.0
    gross = s.total_spend + s.total_discount
    x["discount_share"] = s.total_discount / gross if gross else 0.0
    x["cancel_share"] = min(1.0, s.n_cancelled / max(1, n))
    x["refund_share"] = min(1.0, s.n_refunded / max(1, n))
    x["return_share"] = min(1.0, s.n_returned / max(1, n))

    x["tickets_30d"] = days(s.d_tickets, 30)
    x["complaints_30d"] = days(s.d_complaints, 30)
    x["open_tickets"] = float(len(s.open_tickets))
    x["reopened_tickets_90d"] = weeks(s.w_reopened, 0, 90)
    x["escalations_90d"] = weeks(s.w_escalations, 0, 90)
    x["csat_recent"] = DEFAULT_CSAT if s.csat is None else s.csat
    x["sentiment_trend"] = 0.0 if s.sentiment_fast is None else s.sentiment_fast - s.sentiment_slow
    x["resolution_hours_avg"] = s.resolution_hours or 0.0
    x["repeat_issue_30d"] = float(sum(1 for ts in s.category_opened.values() if len(ts) == 2 and nd - day_of(ts[0]) < 30))

    x["days_since_last_login"] = 0.0 if s.last_login is None else since(s.last_login)  # no app: no signal
    x["sessions_7d"] = days(s.d_sessions, 7)
    x["sessions_28d"] = days(s.d_sessions, 28)
    x["session_trend"] = _trend(x["sessions_7d"] / 7, x["sessions_28d"] / 28)
    x["session_length_trend"] = 0.0 if s.session_fast is None else _trend(s.session_fast, s.session_slow)
    used = 0
    for bits in s.w_features[: max(0, -((base - 31) // 7))]:  # weeks whose Sunday is aged < 28 days
        used |= bits
    x["features_used_28d"] = float(used.bit_count())
    x["notifications_disabled"] = _flag(s.notifications_off, s.last_push_opened)
    x["uninstalled"] = _flag(s.uninstalled_at, s.last_login)

    signup = s.signup_date
    x["tenure_days"] = since(_epoch(signup) if signup else None)
    x["clv_estimate"] = round(aov * 365.0 / gap * CLV_YEARS * min(1.0, 1.0 / overdue if overdue else 1.0), 2)
    x["marketing_consent"] = 1.0 if s.marketing_consent else 0.0
    x["has_owner"] = 1.0 if s.owner else 0.0
    x["days_since_last_activity"] = since(s.last_activity)
    _engagement(x, s, nd, off, vocab or _EMPTY)
    return x


def _engagement(x: dict[str, float], s: CustomerState, nd: int, off: int, vocab: Vocabulary) -> None:
    n28, n7 = max(0, usage.USAGE_DAYS - off), max(0, 7 - off)
    events = sum(s.d_orders[:n28]) + sum(s.d_tickets[:n28]) + sum(s.d_sessions[:n28])
    x["events_28d"] = float(events)
    x["active_days_28d"] = float((s.active_bits & ((1 << n28) - 1)).bit_count())
    if not s.u_keys:  # no app use counted: every slot is empty (most shoppers)
        x["main_features_used_28d"] = x["use_other_28d"] = 0.0
        x.update(_EMPTY_SLOTS)
        return
    slots, names = vocab.hashes, vocab.names
    first = nd if s.first_seen is None else day_of(s.first_seen)
    head = s.head_day if s.head_day is not None else nd
    used: dict[int, tuple[float, float, float]] = {}  # slot → (7 days, 28 days, usual per 28 days)
    other = 0.0
    for h, ring, wring in zip(s.u_keys, s.u_days, s.u_weeks):
        n = float(sum(ring[:n28]))
        k = slots.get(h)
        if k is None:
            other += n
        else:
            per_day = usage.usual_per_day(ring, wring, head, off, first)
            used[k] = (float(sum(ring[:n7])), n, n if per_day is None else round(per_day * 28, 1))
    total = sum(u[1] for u in used.values()) + other
    x["events_28d"] += total
    x["main_features_used_28d"] = float(sum(1 for k, u in used.items() if u[1] and names[k] not in _ACTIVITY))
    x["use_other_28d"] = other
    x.update(_EMPTY_SLOTS)  # every slot in catalogue order, then the used ones filled in
    for k, (week, month, usual) in used.items():
        f7, f28, f_usual, f_share = _SLOT_NAMES[k]
        x[f7], x[f28], x[f_usual] = week, month, usual
        x[f_share] = round(month / total, 3) if total else 0.0


_SLOT_NAMES = tuple(tuple(f"use_{i}_{w}" for w in ("7d", "28d", "usual_28d", "share_28d"))
                    for i in range(1, VOCABULARY_SLOTS + 1))
_EMPTY_SLOTS = dict.fromkeys((n for names in _SLOT_NAMES for n in names), 0.0)


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
