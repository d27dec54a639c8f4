"""App-centred subscribers: churn set by how much they use particular features.

Unlike the shoppers (:mod:`simulator.plan`), these customers do not fade away before
they leave. Each uses the app on most days, over several named features, at personal
rates that wander a little from month to month; a monthly subscription order renews
on their signup day of the month. At each renewal the customer leaves with a
probability set by the current level of engagement with some features: messaging and
groups (positive: social ties keep people), help pages and settings (negative: friction,
looking for the cancel button), and not by the overall volume of use. A churner's
last month looks like any other month: their events simply stop at ``churn_at``
(some with an explicit ``account_closed``).

Deterministic by seed; each day's events come from that day's own generator, so
taking time in one window or many gives the same stream.

>>> plan = draw_app_plan(3, 1, 1_700_000_000.0, 365 * DAY)
>>> plan.cid, plan.persona, sorted(plan.rates) == sorted(FEATURES)
('cust-000001', 'subscriber', True)
>>> raws = AppCustomerSim(plan, 3).take(0.0, plan.active_from + 10 * DAY)
>>> {r[3].get("feature") for r in raws if r[3].get("activity") == "feature_used"} <= set(FEATURES)
True
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from random import Random

from schemas.events import AppActivityEvent, OrderEvent, ProfileUpdate
from simulator.activity import Raw, daytime, pop_window
from simulator.plan import DAY, INF

FEATURES = ("messages", "feed", "search", "profile", "groups", "photos", "calls", "settings", "help")
_MIX = (3.0, 4.0, 1.5, 1.0, 1.2, 1.5, 0.6, 0.4, 0.3)  # typical share of each feature in a session
# log-odds of leaving at a renewal, per unit of log(uses per 28 days / typical): the drivers
DRIVERS = {"messages": -0.9, "groups": -0.7, "help": 0.8, "settings": 0.5}
BASE_LOGIT = -2.6          # a typical subscriber leaves at a renewal with about 7 %
MONTH = 30 * DAY
PRICE_EUR = 9.99
CLOSE_SHARE = 0.3
NEW_SHARE = 0.3            # customers who sign up during the simulation


@dataclass
class AppPlan:
    cid: str
    eid: str
    active_from: float
    churn_at: float
    closes_account: bool
    platform: str
    sessions_per_day: float
    rates: dict[str, float]            # uses per session of each feature (month 0)
    wander: list[dict[str, float]]     # per month: multiplicative drift of each rate
    signup_date: date
    consent: bool
    persona: str = "subscriber"
    basket_eur: float = PRICE_EUR
    milestones: list[tuple[float, str]] = field(default_factory=list)

    def month_of(self, ts: float) -> int:
        return max(0, int((ts - self.active_from) // MONTH))

    def rate(self, feature: str, ts: float) -> float:
        m = min(self.month_of(ts), len(self.wander) - 1)
        return self.rates[feature] * self.wander[m][feature]

    def save(self, at: float) -> None:
        """Stay from ``at`` on (an accepted retention offer)."""
        self.churn_at, self.closes_account = INF, False


def _typical(feature: str) -> float:
    return 28 * 1.5 * 4.0 * _MIX[FEATURES.index(feature)] / sum(_MIX)  # uses per 28 days of a typical customer


def renewal_hazard(plan: AppPlan, renewal: float) -> float:
    """The chance that ``plan``'s subscriber leaves at the renewal at ``renewal``: a logistic function
    of the log of their use of each driving feature over the 28 days before, against the typical use."""
    z = BASE_LOGIT + sum(w * math.log(max(1e-3, plan.rate(f, renewal - DAY) * plan.sessions_per_day * 28) / _typical(f))
                         for f, w in DRIVERS.items())
    return 1 / (1 + math.exp(-z))


def draw_app_plan(seed: int, idx: int, start_ts: float, horizon_s: float) -> AppPlan:
    """Customer ``idx``: habits, monthly drift, and the churn time those imply."""
    cid = f"cust-{idx:06d}"
    rng = Random(f"{seed}/{cid}/app")
    new = rng.random() < NEW_SHARE
    active_from = start_ts + (rng.uniform(0, horizon_s * 0.6) if new else rng.uniform(0, DAY))
    months = int(horizon_s // MONTH) + 2
    sessions = rng.lognormvariate(math.log(1.5), 0.5)
    per_session = rng.lognormvariate(math.log(4.0), 0.3)
    weights = [rng.gammavariate(2.0, m) for m in _MIX]
    rates = {f: per_session * w / sum(weights) for f, w in zip(FEATURES, weights)}
    wander, level = [], {f: 1.0 for f in FEATURES}
    for _ in range(months):
        wander.append(dict(level))
        level = {f: v * math.exp(rng.gauss(0, 0.25 if f in DRIVERS else 0.1)) for f, v in level.items()}
    plan = AppPlan(cid=cid, eid=f"{cid}-a{seed}", active_from=active_from, churn_at=INF, closes_account=False,
                   platform=rng.choices(("ios", "android", "web"), (45, 45, 10))[0], sessions_per_day=sessions,
                   rates=rates, wander=wander,
                   signup_date=datetime.fromtimestamp(active_from if new else start_ts - rng.uniform(30, 900) * DAY,
                                                      UTC).date(),
                   consent=rng.random() < 0.7)
    end = start_ts + horizon_s
    for m in range(1, months):  # renewals
        renewal = active_from + m * MONTH
        if renewal >= end:
            break
        if rng.random() < renewal_hazard(plan, renewal):
            plan.churn_at = float(round(renewal - rng.uniform(0, 25) * DAY))  # stops before the renewal
            plan.closes_account = rng.random() < CLOSE_SHARE
            if plan.closes_account:
                plan.milestones.append((plan.churn_at, "account_closed"))
            break
    return plan


class AppCustomerSim:
    """Lazy event generator for one subscriber (same interface as ``CustomerSim``)."""

    def __init__(self, plan: AppPlan, seed: int) -> None:
        self.plan, self.seed = plan, seed
        self.heap: list[Raw] = []
        self.day = int(plan.active_from // DAY)  # next day to generate
        self.milestone_i = 0
        self._push((plan.active_from, f"{plan.eid}-profile", ProfileUpdate, dict(
            event_type="profile", segment="subscriber", signup_date=plan.signup_date,
            marketing_consent=plan.consent, owner=None)))

    def _push(self, raw: Raw) -> None:
        heapq.heappush(self.heap, (float(round(raw[0])), *raw[1:]))

    def _day_events(self, day: int) -> None:
        p = self.plan
        rng = Random(f"{self.seed}/{p.cid}/day{day}")
        start = max(p.active_from, day * DAY)
        base = dict(event_type="app_activity", platform=p.platform)
        k = int(round((day * DAY - p.active_from) / MONTH))
        renewal = p.active_from + k * MONTH
        if day * DAY <= renewal < (day + 1) * DAY and k >= 0:
            self._push((max(renewal, start), f"{p.eid}-o{k}", OrderEvent, dict(
                event_type="order", order_id=f"sub-{p.eid}-{k}", status="placed", amount=PRICE_EUR, currency="EUR",
                items=1, discount_amount=0.0, channel="app" if p.platform != "web" else "web")))
        n = _poisson(rng, p.sessions_per_day)
        for s in range(n):
            ts = max(start, daytime(rng, day * DAY))
            dur = float(round(rng.lognormvariate(math.log(240), 0.6)))
            if rng.random() < 0.3:
                self._push((ts, f"{p.eid}-d{day}-{s}l", AppActivityEvent, {**base, "activity": "login"}))
            self._push((ts + dur, f"{p.eid}-d{day}-{s}", AppActivityEvent,
                        {**base, "activity": "session", "duration_s": dur}))
            for f in FEATURES:
                for u in range(_poisson(rng, p.rate(f, ts))):
                    self._push((ts + rng.uniform(0, dur), f"{p.eid}-d{day}-{s}-{f}{u}", AppActivityEvent,
                                {**base, "activity": "feature_used", "feature": f}))
        if p.platform != "web" and rng.random() < 0.15:
            self._push((daytime(rng, day * DAY), f"{p.eid}-d{day}p", AppActivityEvent,
                        {**base, "activity": "push_opened"}))

    def extend(self, t1: float) -> None:
        p = self.plan
        last = min(t1, p.churn_at)
        while self.day * DAY < last:
            self._day_events(self.day)
            self.day += 1
        while self.milestone_i < len(p.milestones) and p.milestones[self.milestone_i][0] < t1:
            ts, kind = p.milestones[self.milestone_i]
            self._push((ts, f"{p.eid}-m{kind}", AppActivityEvent,
                        dict(event_type="app_activity", activity=kind, platform=p.platform)))
            self.milestone_i += 1

    def take(self, t0: float, t1: float) -> list[Raw]:
        """Waiting events with ``t0 <= ts < t1`` in time order; none after ``churn_at``
        but the account closure."""
        self.extend(t1)
        return pop_window(self.heap, t0, t1, self.plan.churn_at)

    def save(self, at: float) -> None:
        self.extend(at)
        self.plan.save(at)
        self.plan.milestones = [m for m in self.plan.milestones if m[0] < at]
        self.heap = [r for r in self.heap if r[0] < at or r[3].get("activity") != "account_closed"]
        heapq.heapify(self.heap)


def _poisson(rng: Random, lam: float) -> int:
    """Poisson draw (Knuth; ``lam`` is small here)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
