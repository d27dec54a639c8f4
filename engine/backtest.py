"""``churn-alert backtest``: the stream's own state, feature, labelling, learning and
scoring code over recorded events, in event-time order, in process.

The learner sees a label only once it has resolved, and labels resolve at event
time ≤ the clock, so nothing resolved after ``as_of`` leaks into the model.

The input is consumed as a stream (:mod:`engine.source` reads files so), so memory
grows with the customers, not with the events. The vocabulary of app features is
learnt as the stream's workers learn it: usage counts are summed and the next
vocabulary is taken every ``VOCABULARY_EVERY`` events (the stream: every
``model_poll_s``), and the learner forgets the weights of a slot whose key changed.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from alerts.offers import OfferPlan
from config.settings import Settings
from engine.compose import processor_from, tier_goal
from engine.processor import Step, to_dt
from engine.record import CustomerRecord
from models.learner import Learner
from models.model import ChurnModel
from models.prior import RulePrior
from models.scorer import Scorer
from models.silence import DueIndex
from models.vocabulary import SIZE, learn_vocabulary


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
    handover: dict = field(default_factory=dict)  # which scorer was in use at T and why (Learner.handover)
    vocabulary: tuple[str, ...] = ()  # key of each vocabulary slot at T
    seconds: float = 0.0
    at: dict = field(default_factory=dict)  # cut-off T → Cutoff (scores of every customer seen before T)


@dataclass(frozen=True)
class Cutoff:
    """Every customer's score at one cut-off of a run, and which scorer gave it and why."""

    scores: dict[str, float]
    version: str
    handover: dict
    labels: int
    features: dict = field(default_factory=dict)  # customer → feature vector at T (``keep_features``)


VOCABULARY_EVERY = 5_000  # events between two vocabulary updates (the first after 500)


def run_backtest(events: Iterable, *, as_of: datetime, settings: Settings, horizon_days: float | None = None,
                 model: ChurnModel | None = None, progress: bool = False, ordered: bool = False,
                 total: int | None = None, cutoffs: Iterable[datetime] = (),
                 keep_features: bool = False) -> BacktestResult:
    """Replay ``events`` up to ``as_of`` and score every customer seen at ``as_of``.

    ``ordered``: the events come in event-time order (a stream from :mod:`engine.source`),
    so they are consumed one by one; otherwise they are sorted first (in memory).
    ``total`` (events expected) only makes the progress line show a fraction.
    ``cutoffs`` (before ``as_of``): the score of every customer seen before each one, as
    the stream would score them then (``BacktestResult.at``), from the same single pass;
    ``keep_features``: each cut-off also keeps the feature vectors it scored (replaying a
    captured run through other learners, ``bench/fwreplay.py``)."""
    started = time.perf_counter()
    if horizon_days is not None:
        settings = settings.with_updates(horizon_days=horizon_days)
    model = model if model is not None else ChurnModel()
    learner = Learner(model, registry=None, min_labels=settings.min_labels, tier_goal=tier_goal(settings))
    scorer = Scorer.from_model(model, RulePrior(), min_labels=settings.min_labels, ready=lambda: learner.ready)
    proc = processor_from(settings, scorer)
    records: dict[str, CustomerRecord] = {}
    due = DueIndex()
    end = as_of.timestamp()
    todo = events if ordered else sorted(events, key=lambda e: e.occurred_at)
    usage: Counter = Counter()  # the registry's summed usage counts, in process
    n_labels = n_events = 0
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

    def sync_vocabulary() -> None:
        usage.update(scorer.usage.drain())
        new = learn_vocabulary(scorer.vocabulary, dict(usage.most_common(4 * SIZE)))
        if new is not scorer.vocabulary:
            scorer.vocabulary = new
            learner.use_vocabulary(new)

    from models.features import compute_features

    pending_cuts = sorted(c.timestamp() for c in cutoffs if c.timestamp() < end)
    at: dict = {}

    def cut(c: float) -> None:
        ticks_until(c)
        now_c = to_dt(c)
        xs = {cid: compute_features(rec.state, now_c, scorer.vocabulary)
              for cid, rec in records.items() if rec.state is not None}
        sc = {cid: scorer.score(x)[0] for cid, x in xs.items()}
        at[now_c] = Cutoff(sc, scorer.score({})[1], learner.handover(), n_labels,
                           {cid: dict(x) for cid, x in xs.items()} if keep_features else {})

    for ev in todo:
        t = ev.occurred_at.timestamp()
        while pending_cuts and t >= pending_cuts[0]:
            cut(pending_cuts.pop(0))
        if t >= end:
            if ordered:
                break
            continue
        ticks_until(t)
        cid = ev.customer_id
        apply(cid, proc.on_event(records.get(cid) or CustomerRecord(), ev, ev.occurred_at))
        n_events += 1
        if n_events % VOCABULARY_EVERY == 500:
            sync_vocabulary()
        if progress and n_events % 50_000 == 0:
            secs = time.perf_counter() - started
            of = f"/{total}" if total else ""
            print(f"\rbacktest {n_events}{of} events ({n_events / secs:,.0f}/s), {len(records)} customers, "
                  f"{n_labels} labels, scorer {scorer.score({})[1]}", end="", file=sys.stderr, flush=True)
    sync_vocabulary()
    for c in pending_cuts:
        cut(c)
    ticks_until(end)
    now = to_dt(end)

    scores = {}
    for cid, rec in records.items():
        if rec.state is None:
            continue
        score, _ = scorer.score(compute_features(rec.state, now, scorer.vocabulary))
        scores[cid] = (score, proc.tiers_in_use.next_tier(rec.alert.tier, score))
    if progress:
        print(file=sys.stderr)
    t = proc.tiers_in_use
    return BacktestResult(scores=scores, events=n_events, labels=n_labels, model_version=scorer.score({})[1],
                          alerts=alerts, offers=offers, first_alert_at=first_alert_at, tiers=(t.watch, t.high, t.critical),
                          handover=learner.handover(), vocabulary=scorer.vocabulary.names,
                          seconds=time.perf_counter() - started, at=at)


def write_scores(result: BacktestResult, out: Path) -> None:
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "score", "tier"])
        for cid in sorted(result.scores):
            score, tier = result.scores[cid]
            w.writerow([cid, f"{score:.6f}", tier])


def run_backtest_command(settings: Settings, path: Path, *, as_of: datetime, horizon_days: float | None, out: Path) -> int:
    from engine.source import stream_events
    from schemas.errors import ConfigError

    if as_of.tzinfo is None:
        raise ConfigError("--as-of needs a UTC offset, e.g. 1997-09-30T23:59:59+00:00")
    src = stream_events(path, progress=True)
    src.scan()
    result = run_backtest(src.events(), as_of=as_of, settings=settings, horizon_days=horizon_days, progress=True,
                          ordered=True, total=src.lines)
    write_scores(result, out)
    print(f"{len(result.scores)} customers scored as of {as_of.isoformat()} from {result.events} events in "
          f"{result.seconds:.0f} s ({result.events / max(result.seconds, 1e-9):,.0f}/s; "
          f"{result.labels} resolved labels learned; tiers watch/high/critical "
          f"{'/'.join(f'{x:.2f}' for x in result.tiers)}) → {out}")
    print(describe_handover(result.model_version, result.handover))
    named = [n for n in result.vocabulary if n]
    if named:
        print(f"app features with features of their own (vocabulary): {', '.join(named)}")
    return 0


def describe_handover(version: str, h: dict) -> str:
    """One paragraph: which scorer was in use at T and why.

    >>> print(describe_handover("rules-1", {"n_seen": 50, "positives": 10, "negatives": 40, "min_labels": 200,
    ...                               "min_per_class": 20, "ready": False, "active_positives": 3, "active_negatives": 30}))
    ... # doctest: +ELLIPSIS
    scorer at T: rules-1 (the rule prior): the model has 50 resolved labels (10 churned, 40 stayed; ... model n/a vs prior n/a)
    """
    def auc(v):  # noqa: ANN001, ANN202
        return "n/a" if v is None else f"{v:.3f}"

    labels = (f"{h.get('n_seen', 0)} resolved labels ({h.get('positives', 0)} churned, {h.get('negatives', 0)} stayed; "
              f"of customers active in the 14 days before: {h.get('active_positives', 0)} churned, {h.get('active_negatives', 0)} stayed)")
    aucs = (f"on those active customers model {auc(h.get('active_roc_auc'))} vs prior {auc(h.get('active_prior_roc_auc'))}; "
            f"on all labels model {auc(h.get('roc_auc'))} vs prior {auc(h.get('prior_roc_auc'))}")
    if h.get("ready"):
        return (f"scorer at T: {version} (the online model): it took over from the rule prior after "
                f"{h.get('ready_at_labels', '?')} labels; now {labels}; rolling ROC AUC {aucs}")
    return (f"scorer at T: {version} (the rule prior): the model has {labels}; it takes over with at least "
            f"{h.get('min_labels')}, {h.get('min_per_class')} of each class among those active customers, once its "
            f"rolling ROC AUC there is at least the prior's ({aucs})")
