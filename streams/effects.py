"""Effects of a step, thin: claim its alerts (stable ids, deduplicated in Redis), reserve
caps for its planned offers, emit alerts, offers and labels, write latest scores, erase.
Every decision (tier, offer, experiment arm, tracking) was taken by ``engine.processor``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.experiment_store import ExperimentStore
from alerts.ledger import OfferLedger
from alerts.offers import Caps, OfferPlan, Skip, build_offer
from alerts.policy import DAY_S
from engine.processor import Step, to_dt
from schemas.codec import encode
from schemas.events import ErasureConfirmation, OfferOutcome, RiskAlert
from streams.metrics import TRIGGERS, RuntimeMetrics
from streams.retry import Dependency

log = logging.getLogger(__name__)
SCORES_PER_CALL = 500  # customers per script call (each call holds Redis for well under a millisecond)
_WRITE_SCORES = """
for i = 1, #KEYS do
  local j = 4 * i
  redis.call('HSET', KEYS[i], 'score', ARGV[j - 3], 'tier', ARGV[j - 2], 'model_version', ARGV[j - 1], 'at', ARGV[j])
end
return #KEYS
"""
Send = Callable[..., Awaitable[Any]]  # (topic name, key, value, *, delivered=False)


@dataclass(frozen=True)
class OutputTopics:
    """Full names of the topics effects write to."""

    alerts: str
    offers: str
    labels: str
    erasure_done: str


class Effects:
    def __init__(self, *, topics: OutputTopics, redis: Any, score_prefix: str, cooldown_days: float,
                 ledger: OfferLedger, store: ExperimentStore, caps: Caps, send: Send, metrics: RuntimeMetrics,
                 redis_dep: Dependency | None = None, unfinished: Callable[[str, int, int], bool] | None = None) -> None:
        """``unfinished(topic, partition, offset)``: that input message is not committed yet
        (see :meth:`alerts.ledger.OfferLedger.claim_alert`). Every Redis call goes through
        ``redis_dep``, which retries it while Redis is away (``streams.retry``)."""
        self.topics, self.redis, self.score_prefix, self.cooldown_s = topics, redis, score_prefix, cooldown_days * DAY_S
        self.ledger, self.store, self.caps = ledger, store, caps
        self.send, self.metrics, self.unfinished = send, metrics, unfinished
        self.redis_dep = redis_dep if redis_dep is not None else Dependency("redis")
        self._scores: dict[str, tuple[float, str, str, float]] = {}  # formatted at the flush: once per customer, not per step
        self._score_of = {t: metrics.scores.labels(trigger=t) for t in TRIGGERS}  # bound once, not per step
        self._write_scores = redis.register_script(_WRITE_SCORES)
        self.received_at: float | None = None  # perf_counter when the handler took up the current message
        # In a batch (:meth:`begin_batch`): deliveries awaited, and claims marked sent, together at :meth:`settle`.
        self._deferred: list[tuple[Any, str, bytes | None, bytes]] | None = None
        self._sent: list[tuple[str, float | None]] = []  # (alert id, received_at when it is an alert) to mark sent

    def score_key(self, customer_id: str) -> str:
        return f"{self.score_prefix}:cust:{customer_id}:score"

    async def after_step(self, customer_id: str, step: Step, event: Any, source: str = "") -> None:
        """Claim, reserve and emit what the step decided; run before the record is stored.

        ``source`` is the input message being processed (:func:`alerts.ledger.message_source`): if the
        worker dies before the message is committed, the alerts it claimed but never delivered
        go out when the message is processed again.
        """
        if isinstance(event, OfferOutcome):
            await self.redis_dep.call(self.store.record_outcome, event)
            return
        if step.score is not None:
            self._scores[customer_id] = (step.score, step.record.alert.tier, step.version, step.at)
            self._score_of[step.trigger].observe(step.score)
        for res in step.resolutions:
            if await self.redis_dep.call(self.store.record_resolution, res):
                self.metrics.offer_resolutions.labels(arm=res.arm, outcome=res.outcome).inc()
        if step.decision is not None:
            await self._alert(customer_id, step, source)
        if step.win_back is not None:
            await self._win_back(step, source)
        for ex in step.labels:  # last: a retry of anything above never sends a label twice
            await self.send(self.topics.labels, None, json.dumps(ex.to_json(), separators=(",", ":")).encode())
            self.metrics.labels.labels(label="churned" if ex.y else "stayed").inc()

    async def _alert(self, customer_id: str, step: Step, source: str) -> None:
        d = step.decision
        if not await self.redis_dep.call(self.ledger.claim_alert, d.alert_id, source=source, unfinished=self.unfinished,
                                         slot=(customer_id, d.tier, step.at, self.cooldown_s)):
            self.metrics.alerts_suppressed.inc()
            return
        note = await self._offer(step.offer) if step.offer is not None else None
        alert = RiskAlert(alert_id=d.alert_id, customer_id=customer_id, score=d.score, tier=d.tier,
                          previous_tier=d.previous_tier, reasons=list(d.reasons), value_segment=step.segment,
                          model_version=step.version, occurred_at=to_dt(step.at), created_at=datetime.now(UTC),
                          driver=d.driver, trigger=step.trigger, offer_note=note)
        await self._deliver(self.topics.alerts, customer_id.encode(), encode(alert))
        await self._mark_sent(d.alert_id, self.received_at)
        self.metrics.alerts.labels(tier=d.tier, trigger=step.trigger, driver=d.driver).inc()
        self.metrics.event_to_alert.observe(max(0.0, alert.created_at.timestamp() - step.at))

    async def _win_back(self, step: Step, source: str) -> None:
        wb_id, plan = step.win_back
        if not await self.redis_dep.call(self.ledger.claim_alert, wb_id, source=source, unfinished=self.unfinished):
            return
        await self._offer(plan)
        await self._mark_sent(wb_id, None)

    async def _offer(self, plan: OfferPlan | Skip) -> str:
        """Reserve caps and emit the planned offer; returns the note the alert carries."""
        if isinstance(plan, Skip):
            self.metrics.offers_skipped.labels(reason=plan.reason.split(":")[0][:40]).inc()
            return plan.reason
        got = await self.redis_dep.call(self.ledger.reserve, plan, customer_id=plan.customer_id, day=to_dt(plan.occurred_at).date(),
                                        caps=self.caps)
        if isinstance(got, Skip):
            self.metrics.offers_skipped.labels(reason="cap").inc()
            return got.reason
        offer = build_offer(plan, created_at=datetime.now(UTC))
        await self.redis_dep.call(self.store.record_offer, plan)
        await self._deliver(self.topics.offers, plan.customer_id.encode(), encode(offer))
        self.metrics.offers.labels(kind=plan.kind, offer_type=plan.offer_type, arm="control" if plan.control_group else "treated",
                                   status=plan.status).inc()
        return f"offer {plan.offer_type} via {plan.channel}: {plan.status.replace('_', ' ')}"

    async def _deliver(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Send a message the broker must have before its claim is marked sent: now, or in a batch at :meth:`settle`."""
        if self._deferred is None:
            await self.send(topic, key, value, delivered=True)
        else:
            self._deferred.append((await self.send(topic, key, value), topic, key, value))

    async def _mark_sent(self, alert_id: str, received_at: float | None) -> None:
        if self._deferred is None:
            await self.redis_dep.call(self.ledger.alert_sent, alert_id)
            self._observe_processing(received_at)
        else:
            self._sent.append((alert_id, received_at))

    def _observe_processing(self, received_at: float | None) -> None:
        if received_at is not None:
            self.metrics.alert_processing.observe(time.perf_counter() - received_at)

    def begin_batch(self) -> None:
        """From now until :meth:`settle`, alerts and offers are handed to the producer without waiting for
        each one's acknowledgement, and their claims are marked sent at :meth:`settle`.

        The batch is acked (its offsets may be committed) only after ``settle``: a worker that dies
        before leaves the claims held by their uncommitted messages, which its successor processes
        again (:meth:`alerts.ledger.OfferLedger.claim_alert`), as when each delivery was awaited
        in turn; the batch no longer waits one produce round trip per alert."""
        if self._deferred is None:
            self._deferred, self._sent = [], []

    async def settle(self) -> None:
        """Wait until the broker has every alert and offer of the batch (a failed one is sent again,
        waiting, retried while the broker is away), then mark their claims sent in one round trip."""
        deferred, self._deferred = self._deferred or [], None
        sent, self._sent = self._sent, []
        for pending, topic, key, value in deferred:
            try:
                if pending is not None:
                    await pending
            except Exception:  # noqa: BLE001 - not delivered: send it again and wait for this one
                try:
                    await self.send(topic, key, value, delivered=True)
                except Exception:  # noqa: BLE001 - the broker refuses it for good (as a failed send in after_step:
                    log.exception("cannot deliver a message to %s", topic)  # that alert is lost, logged)
        if sent:
            await self.redis_dep.call(self.ledger.alerts_sent, [alert_id for alert_id, _ in sent])
            for _, received_at in sent:
                self._observe_processing(received_at)

    async def erase(self, customer_id: str, event: Any) -> None:
        self._scores.pop(customer_id, None)
        removed = ["state", "pending_snapshot", "silence_schedule"]
        if await self.redis_dep.call(self.redis.delete, self.score_key(customer_id)):
            removed.append("redis:score")
        if await self.redis_dep.call(self.ledger.forget_customer, customer_id):
            removed.append("redis:offers")
        done = ErasureConfirmation(customer_id=customer_id, request_event_id=event.event_id,
                                   erased_at=datetime.now(UTC), removed=removed)
        await self.send(self.topics.erasure_done, customer_id.encode(), encode(done))
        self.metrics.erasures.inc()

    async def flush_scores(self) -> None:
        """Write-behind of latest scores: one script call per ``SCORES_PER_CALL`` customers, not a
        command per customer (a pipeline of HSETs cost the worker about 18 µs of CPU per customer
        in redis-py, packing each command and parsing each reply; the script about 5)."""
        if not self._scores:
            return
        batch, self._scores = self._scores, {}
        items = list(batch.items())

        async def write() -> None:
            for i in range(0, len(items), SCORES_PER_CALL):
                keys, args = [], []
                for cid, (score, tier, version, at) in items[i:i + SCORES_PER_CALL]:
                    keys.append(self.score_key(cid))
                    args += (f"{score:.4f}", tier, version, f"{at:.0f}")
                await self._write_scores(keys=keys, args=args)

        await self.redis_dep.call(write)  # while Redis is away, newer scores gather for the next flush
