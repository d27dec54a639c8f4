"""``churn-alert backtest``: the stream's own state, feature, labelling, learning and
scoring code over recorded events, in event-time order, in process.

The learner sees a label only once it has resolved, and labels resolve at event
time ≤ the clock, so nothing resolved after ``as_of`` leaks into the model.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from alerts.offers import OfferPlan
from models.learner import Learner
from models.model import ChurnModel
from models.prior import RulePrior
from models.scorer import Scorer
from models.silence import DueIndex
from engine.compose import processor_from, tier_goal
from engine.processor import Step, to_dt
from engine.record import CustomerRecord
from config.settings import Settings


@dataclass(frozen=True)
class BacktestResult:
    scores: dict[str, tuple[float, str]]  # customer → (score, tier) as of T
    events: int
    labels: int
    model_version: str
    alerts: list  # (customer_id, AlertDecision), in the order they fired
    offers: list = field(default_factory=list)  # OfferPlan of every alert and win-back, before caps (Effects' part)
    first_alert_at: dict[str, datetime] = field(default_factory=dict)  # customer → event time of their first alert
    tiers: tuple[float, float, float] = (0.5, 0.7, 0.85)  # (watch, high, critical) in use at the end


def run_backtest(events: Iterable, *, as_of: datetime, settings: Settings, horizon_days: float | None = None,
                 model: ChurnModel | None = None, progress: bool = False) -> BacktestResult:
    """Replay ``events`` (any order) up to ``as_of`` and score every customer seen at ``as_of``."""
    if horizon_days is not None:
        settings = settings.with_updates(horizon_days=horizon_days)
    model = model if model is not None else ChurnModel()
    learner = Learner(model, registry=None, min_labels=settings.min_labels, tier_goal=tier_goal(settings))
    scorer = Scorer.from_model(model, RulePrior(), min_labels=settings.min_labels, ready=lambda: learner.ready)
    proc = processor_from(settings, scorer)
    records: dict[str, CustomerRecord] = {}
    due = DueIndex()
    end = as_of.timestamp()
    todo = sorted((e for e in events if e.occurred_at.timestamp() < end), key=lambda e: e.occurred_at)
    n_labels = 0
    alerts: list = []
    offers: list = []
    first_alert_at: dict[str, datetime] = {}

    def apply(cid: str, step: Step) -> None:
        nonlocal n_labels
        if step.record is None:
            records.pop(cid, None)
            due.cancel(cid)
            return
        records[cid] = step.record
        if step.decision is not None:
            alerts.append((cid, step.decision))
            first_alert_at.setdefault(cid, to_dt(step.at))
        offers.extend(p for p in (step.offer, step.win_back and step.win_back[1]) if isinstance(p, OfferPlan))
        for ex in step.labels:
            learner.update(ex)
            n_labels += 1
            if learner.tier_goal and n_labels % settings.publish_every == 0:  # as a worker's scorer gets them
                scorer.use_thresholds(learner.window_tiers())  # with each published version
        if step.record.next_check is None:
            due.cancel(cid)
        else:
            due.schedule(cid, step.record.next_check)

    def ticks_until(t: float) -> None:
        # until none is due: a checkpoint may schedule the customer's next one before ``t``
        while items := due.pop_due_items(t):
            for cid, at in items:
                apply(cid, proc.on_tick(cid, records[cid], to_dt(at)))

    for i, ev in enumerate(todo):
        t = ev.occurred_at.timestamp()
        ticks_until(t)
        cid = ev.customer_id
        apply(cid, proc.on_event(records.get(cid) or CustomerRecord(), ev, ev.occurred_at))
        if progress and i % 20_000 == 0:
            print(f"\rbacktest {i}/{len(todo)} events, {n_labels} labels", end="", file=sys.stderr, flush=True)
    ticks_until(end)
    now = to_dt(end)
    from models.features import compute_features

    scores = {}
    for cid, rec in records.items():
        if rec.state is None:
            continue
        score, _ = scorer.score(compute_features(rec.state, now))
        scores[cid] = (score, proc.tiers_in_use.next_tier(rec.alert.tier, score))
    if progress:
        print(file=sys.stderr)
    t = proc.tiers_in_use
    return BacktestResult(scores=scores, events=len(todo), labels=n_labels, model_version=scorer.score({})[1], alerts=alerts,
                          offers=offers, first_alert_at=first_alert_at, tiers=(t.watch, t.high, t.critical))


def write_scores(result: BacktestResult, out: Path) -> None:
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "score", "tier"])
        for cid in sorted(result.scores):
            score, tier = result.scores[cid]
            w.writerow([cid, f"{score:.6f}", tier])


def run_backtest_command(settings: Settings, path: Path, *, as_of: datetime, horizon_days: float | None, out: Path) -> int:
    from schemas.errors import ConfigError
    from schemas.jsonl import iter_events

    if as_of.tzinfo is None:
        raise ConfigError("--as-of needs a UTC offset, e.g. 1997-09-30T23:59:59+00:00")
    result = run_backtest(iter_events(path), as_of=as_of, settings=settings, horizon_days=horizon_days, progress=True)
    write_scores(result, out)
    print(f"{len(result.scores)} customers scored as of {as_of.isoformat()} from {result.events} events "
          f"({result.labels} resolved labels learned, model {result.model_version}; tiers watch/high/critical "
          f"{'/'.join(f'{x:.2f}' for x in result.tiers)}) → {out}")
    return 0
