"""One customer's step: state → features → labels → score → alert decision → offer plan.

Pure and synchronous: the Faust agent (``streams.agents.customer``) and the
in-process backtest (``engine.backtest``) call the same code, so both take the same
decisions: the tier and the alert, which offer, the experiment arm and the offer
tracking. What needs I/O happens afterwards in ``streams.effects``, which only
claims (deduplication), reserves caps and emits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from alerts import experiment
from alerts.drivers import primary_driver
from alerts.offers import OfferPlan, OfferPolicy, Skip, choose_offer
from alerts.policy import AlertDecision, decide, snooze, stable_id
from alerts.tiers import Tiers
from engine.record import CustomerRecord
from models import labelling
from models.features import compute_features, value_segment
from models.labelling import LabelledExample
from models.scorer import Scorer
from models.silence import next_silence_epoch
from models.state import apply_event
from schemas.events import AppActivityEvent, ErasureRequest, Event, OfferOutcome, OrderEvent, ProfileUpdate

DAY_S = 86_400.0
_ENGAGED_APP = frozenset({"login", "session", "feature_used", "push_opened"})


def is_activity(event: Event) -> bool:
    """True when the event shows the customer is still with us (resolves a pending label negative)."""
    if isinstance(event, OrderEvent):
        return event.status == "placed"
    if isinstance(event, AppActivityEvent):
        return event.activity in _ENGAGED_APP
    return event.event_type == "support"


class LazyReasons(Sequence):
    """Reasons computed on first use: explaining is costlier than scoring, and
    ``decide`` only reads the reasons when an alert fires.

    >>> calls = []
    >>> r = LazyReasons(lambda: calls.append(1) or ["a"])
    >>> len(calls)
    0
    >>> list(r), list(r), len(calls)
    (['a'], ['a'], 1)
    """

    __slots__ = ("_make", "_items")

    def __init__(self, make: Callable[[], list]) -> None:
        self._make, self._items = make, None

    def _get(self) -> list:
        if self._items is None:
            self._items = list(self._make())
        return self._items

    def __getitem__(self, i):  # noqa: ANN001, ANN204
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())


def to_dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


@dataclass(slots=True)
class Step:
    """What one message did; ``record`` is None when the customer was erased."""

    kind: Literal["scored", "stored", "duplicate", "erased", "outcome", "stale"]
    record: CustomerRecord | None
    trigger: Literal["event", "silence"] = "event"
    score: float | None = None
    at: float = 0.0  # event time of the scoring, epoch seconds
    version: str = ""
    features: dict[str, float] | None = None
    decision: AlertDecision | None = None
    labels: list[LabelledExample] = field(default_factory=list)
    churned: bool = False  # churn acted on now → win-back offer
    resolutions: list = field(default_factory=list)  # offer tracking: retained / churned
    segment: str | None = None  # value segment, when an alert or a win-back was decided
    offer: OfferPlan | Skip | None = None  # the alert's offer, before caps
    win_back: tuple[str, OfferPlan | Skip] | None = None  # (win-back id, its offer) when ``churned``


@dataclass(frozen=True)
class OfferRules:
    """What decides an offer: the policy file, the control share and the approval limit."""

    policy: OfferPolicy
    control_share: float = 0.10
    approval_above: float = 100.0


@dataclass
class Processor:
    scorer: Scorer
    tiers: Tiers
    horizon_days: float
    snapshot_interval_days: float
    cooldown_days: float
    offers: OfferRules | None = None  # None: alerts without offers
    label_rule: str = "silence"  # models.labelling.RULES
    _learned: tuple[tuple[float, float, float], Tiers] | None = field(default=None, repr=False)

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=self.horizon_days)

    @property
    def tiers_in_use(self) -> Tiers:
        """The model's thresholds set from labels, when it has them; else the configured ``tiers``."""
        learned = self.scorer.thresholds
        if learned is None:
            return self.tiers
        if self._learned is None or self._learned[0] != learned:  # built once per thresholds, not per event
            self._learned = (learned, Tiers(*learned, hysteresis=self.tiers.hysteresis))
        return self._learned[1]

    # ------------------------------------------------------------------ messages
    def on_event(self, record: CustomerRecord, event: Event, now: datetime) -> Step:
        """Apply one decoded event at event time ``now`` (its ``occurred_at``).

        The customer is scored on their own clock: the later of ``now`` and their
        latest event, so a late event never moves a customer back in time.
        """
        if isinstance(event, ErasureRequest):
            return Step("erased", None)
        if isinstance(event, OfferOutcome):
            return Step("outcome", record)
        if record.state is not None and record.state.seen(event.event_id):
            return Step("duplicate", record)
        seen_before = record.state.last_activity if record.state is not None else None  # epoch seconds
        at = event.occurred_at.timestamp()  # once per event: an aware datetime's timestamp() is not free
        record.state = apply_event(record.state, event, at=at)
        self.scorer.note_usage(event)  # towards the learnt vocabulary of app features
        if isinstance(event, ProfileUpdate):
            if event.snooze_until is not None:
                record.alert = snooze(record.alert, event.snooze_until)
            return Step("stored", record)
        step = Step("scored", record)
        t = at if now is event.occurred_at else now.timestamp()
        last = record.state.last_activity
        scored_at = t  # now.timestamp(), for the score
        if last is not None and last > t:
            now, t = to_dt(last), last
            scored_at = now.timestamp()
        closed = isinstance(event, AppActivityEvent) and event.activity == "account_closed"
        if closed:
            if record.pending is not None:
                record.pending, ex = labelling.on_churn(record.pending, t)
                if ex is not None:
                    step.labels.append(ex)
            record.tracking, res = experiment.on_churn(record.tracking)
            if res is not None:
                step.resolutions.append(res)
            self._note_churn(record, step, t)
        elif is_activity(event):
            record.churn_noted_at = None
            if record.pending is not None:
                record.pending, ex = labelling.on_activity(record.pending, t, self.horizon_days, self.label_rule)
                if ex is not None:
                    step.labels.append(ex)
            if record.tracking is not None:
                record.tracking, res = experiment.on_activity(record.tracking, now, self.horizon,
                                                              last_seen=None if seen_before is None else to_dt(seen_before))
                if res is not None:
                    step.resolutions.append(res)
        self._score(event.customer_id, record, step, now, scored_at, trigger="event")
        return step

    def on_tick(self, customer_id: str, record: CustomerRecord, now: datetime) -> Step:
        """A silence checkpoint came due; stale ticks (rescheduled since) change nothing."""
        t = now.timestamp()
        if record.state is None or record.next_check is None or t < record.next_check:
            return Step("stale", record)
        step = Step("scored", record, trigger="silence")
        if record.pending is not None:
            record.pending, ex = labelling.on_silence(record.pending, t, self.horizon_days, self.label_rule)
            if ex is not None:
                step.labels.append(ex)
        if record.tracking is not None:
            record.tracking, res = experiment.on_silence(record.tracking, now, self.horizon,
                                                         last_seen=record.state.last_activity_at)
            if res is not None:
                step.resolutions.append(res)
        last = record.state.last_activity_at
        if last is not None and record.churn_noted_at is None and t - last.timestamp() >= self.horizon_days * DAY_S:
            self._note_churn(record, step, t)
        self._score(customer_id, record, step, now, t, trigger="silence")
        return step

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _note_churn(record: CustomerRecord, step: Step, t: float) -> None:
        if record.churn_noted_at is None:
            record.churn_noted_at = t
            step.churned = True

    def _score(self, customer_id: str, record: CustomerRecord, step: Step, now: datetime, t: float, *,
               trigger: str) -> None:
        """Score at ``now``; ``t`` is ``now.timestamp()``, worked out once by the caller."""
        x = compute_features(record.state, t, self.scorer.vocabulary)
        score, version = self.scorer.score(x)
        step.features, step.score, step.version, step.trigger, step.at = x, score, version, trigger, t
        if record.churn_noted_at is None:  # a customer already lost gets a win-back, not a retention alert
            record.alert, step.decision = decide(
                record.alert, customer_id=customer_id, score=score, now=t, tiers=self.tiers_in_use,
                cooldown_days=self.cooldown_days, reasons=LazyReasons(lambda: self.scorer.explain(x, 3)))
        if step.decision is not None or step.churned:
            self._plan_offers(customer_id, record, step)
        if not record.state.churned and record.churn_noted_at is None:  # a lost customer yields no more snapshots:
            # else every interval would make one, checkpoints would never end and each would resolve positive
            snap = labelling.on_score(record.pending, record.last_snapshot_at, t, x, version, self.snapshot_interval_days)
            if snap is not record.pending:
                record.pending, record.last_snapshot_at = snap, t
        record.next_check = self._next_check(record, t)

    def _plan_offers(self, customer_id: str, record: CustomerRecord, step: Step) -> None:
        """The alert's offer and the win-back's, and the experiment arm. A customer enters the
        experiment once, at their first planned retention offer, in the arm their id hashes to;
        a treated offer that a cap skips later stays treated (intention to treat), since held-out
        offers are never capped and skipping only treated ones would bias the arms."""
        step.segment = value_segment(step.features)
        if self.offers is None:
            return
        rules, state = self.offers, record.state
        common = dict(value_segment=step.segment, preferred_channel=state.preferred_channel,
                      marketing_consent=state.marketing_consent, customer_id=customer_id,
                      control_share=rules.control_share, approval_above=rules.approval_above)
        if step.decision is not None:
            step.offer = choose_offer(rules.policy, decision=step.decision, now=to_dt(step.at), **common)
            if isinstance(step.offer, OfferPlan) and step.offer.kind == "retention" and not record.in_experiment:
                record.tracking, record.in_experiment = experiment.on_offer(step.offer), True
        if step.churned:
            wb_id = stable_id("wb", customer_id, repr(record.churn_noted_at))
            driver = primary_driver(self.scorer.explain(step.features, 3))
            step.win_back = (wb_id, choose_offer(rules.policy, driver=driver, alert_id=wb_id, kind="win_back",
                                                 now=to_dt(record.churn_noted_at), **common))

    def _next_check(self, record: CustomerRecord, t: float) -> float | None:
        """The earliest of the silence checkpoint, the label's and the offer's horizon, and the
        churn mark after ``t`` (epoch seconds)."""
        state, best = record.state, next_silence_epoch(record.state, t)
        candidates = []
        if record.pending is not None:
            candidates.append(labelling.horizon_due(record.pending, self.horizon_days, self.label_rule))
        if record.tracking is not None:  # the horizon's end; a silence after the offer is covered by last + horizon below
            candidates.append(record.tracking.offered_at + self.horizon_days * DAY_S)
        last = state.last_activity
        if last is not None and record.churn_noted_at is None and not state.churned:
            candidates.append(last + self.horizon_days * DAY_S)
        for c in candidates:
            if c > t and (best is None or c < best):
                best = c
        return best
