"""One simulated customer's event stream, generated lazily and in time order.

Each activity (orders, visits, pushes, tickets) is its own renewal process with
its own random generator, so what it produces does not depend on how the caller
slices time: generating up to ``t1`` in one step or in many gives the same events.
Generated events wait in a heap until they are taken.

>>> from simulator.plan import draw_plan, DAY
>>> c = CustomerSim(draw_plan(5, 1, 1_700_000_000.0, 365 * DAY, churn_share=0.0), seed=5)
>>> first = c.take(0.0, 1_700_000_000.0 + 30 * DAY)
>>> first[0][2].__name__, all(a[0] <= b[0] for a, b in zip(first, first[1:]))
('ProfileUpdate', True)
"""

from __future__ import annotations

import heapq
from random import Random
from typing import Any

from schemas.events import AppActivityEvent, ProfileUpdate
from simulator.activity import MAKERS, Raw, daytime, pop_window
from simulator.plan import DAY, INF, Plan


class _Proc:
    __slots__ = ("rng", "next", "n")

    def __init__(self, rng: Random, first: float) -> None:
        self.rng, self.next, self.n = rng, first, 0


class CustomerSim:
    """Lazy event generator for one customer following ``plan``."""

    def __init__(self, plan: Plan, seed: int) -> None:
        self.plan, self.seed = plan, seed
        self.heap: list[Raw] = []
        self.procs = self._start(plan.active_from, "")
        self.milestone_i = 0
        self._push((plan.active_from, f"{plan.eid}-profile", ProfileUpdate, dict(
            event_type="profile", segment=plan.segment, signup_date=plan.signup_date,
            marketing_consent=plan.consent, owner=plan.owner)))

    def _start(self, at: float, epoch: str) -> dict[str, _Proc]:
        procs = {}
        for name in MAKERS:
            rng = Random(f"{self.seed}/{self.plan.cid}/{name}{epoch}")
            typical = {"order": self.plan.gap_days, "visit": 7 / self.plan.visits_per_week,
                       "push": 10.0, "ticket": 365 / self.plan.tickets_per_year}[name]
            procs[name] = _Proc(rng, max(at + 60, daytime(rng, at + rng.uniform(0, typical) * DAY)))
        return procs

    def _push(self, raw: Raw) -> None:
        heapq.heappush(self.heap, (float(round(raw[0])), *raw[1:]))  # whole seconds

    def extend(self, t1: float) -> None:
        """Generate every occurrence that starts before ``t1``."""
        plan = self.plan
        for name, proc in self.procs.items():
            maker = MAKERS[name]
            while proc.next < t1:
                raws, nxt = maker(proc.rng, plan, proc.next, proc.n)
                for raw in raws:
                    self._push(raw)
                proc.n += 1
                proc.next = nxt if nxt < plan.churn_at else INF
        while self.milestone_i < len(plan.milestones) and plan.milestones[self.milestone_i][0] < t1:
            ts, kind = plan.milestones[self.milestone_i]
            self._push(self._milestone(ts, kind))
            self.milestone_i += 1

    def _milestone(self, ts: float, kind: str) -> Raw:
        eid = f"{self.plan.eid}-m{kind}"
        if kind == "consent_withdrawn":
            return (ts, eid, ProfileUpdate, dict(event_type="profile", marketing_consent=False))
        fields: dict[str, Any] = dict(event_type="app_activity", activity=kind, platform=self.plan.platform)
        return (ts, eid, AppActivityEvent, fields)

    def take(self, t0: float, t1: float) -> list[Raw]:
        """Remove and return the waiting events with ``t0 <= ts < t1``, in time order.

        Events before ``t0`` are dropped; after the churn time only the account
        closure (exactly at churn time) survives.
        """
        self.extend(t1)
        return pop_window(self.heap, t0, t1, self.plan.churn_at)

    def save(self, at: float) -> None:
        """Make the customer loyal from ``at`` (which must not precede events already taken)."""
        self.extend(at)
        self.plan.save(at)
        self.milestone_i = min(self.milestone_i, len(self.plan.milestones))
        self.heap = [raw for raw in self.heap if raw[0] < at or raw[3].get("event_type") != "app_activity"
                     or raw[3]["activity"] not in ("uninstall", "account_closed", "notifications_disabled")]
        heapq.heapify(self.heap)
        counts = {name: proc.n for name, proc in self.procs.items()}
        self.procs = self._start(at, "/saved")
        for name, proc in self.procs.items():  # numbering goes on: event, order and ticket ids stay unique
            proc.n = counts[name]
