"""Effects of a step: alerts and offers (deduplicated by stable ids in Redis, consent,
caps, control group), labels to the learner, latest scores to Redis, erasure."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from alerts import experiment
from alerts.drivers import primary_driver
from alerts.offers import OfferPlan, OfferPolicy, Skip, build_offer, choose_offer
from alerts.policy import DAY_S, stable_id
from models.features import value_segment
from schemas.codec import encode
from schemas.events import ErasureConfirmation, OfferOutcome, RiskAlert
from streams.metrics import RuntimeMetrics
from engine.processor import Step, to_dt
from config.settings import Settings

log = logging.getLogger(__name__)


class Effects:
    def __init__(self, *, settings: Settings, redis: Any, ledger: Any, store: Any, policy: OfferPolicy,
                 scorer: Any, send: Any, metrics: RuntimeMetrics,
                 unfinished: Callable[[str, int, int], bool] | None = None) -> None:
        """``unfinished(topic, partition, offset)``: that input message is not committed yet
        (see :meth:`alerts.ledger.OfferLedger.claim_alert`)."""
        self.s, self.redis, self.ledger, self.store, self.policy = settings, redis, ledger, store, policy
        self.scorer, self.send, self.metrics, self.unfinished = scorer, send, metrics, unfinished
        self._scores: dict[str, dict[str, str]] = {}

    def score_key(self, customer_id: str) -> str:
        return f"{self.s.redis_prefix}:cust:{customer_id}:score"

    async def after_step(self, customer_id: str, step: Step, event: Any, source: str = "") -> None:
        """Run before the record is stored: offers update the record's tracking.

        ``source`` is the input message being processed (:func:`alerts.ledger.message_source`): if the
        worker dies before the message is committed, the alerts it claimed but never delivered
        go out when the message is processed again.
        """
        if isinstance(event, OfferOutcome):
            await self.store.record_outcome(event)
            return
        if step.score is not None:
            self._scores[customer_id] = {"score": f"{step.score:.4f}", "tier": step.record.alert.tier,
                                         "model_version": step.version, "at": f"{step.at:.0f}"}
        for ex in step.labels:
            await self.send(self.s.topic("labels"), None, json.dumps(ex.to_json(), separators=(",", ":")).encode())
            self.metrics.labels.labels(label="churned" if ex.y else "stayed").inc()
        for res in step.resolutions:
            await self.store.record_resolution(res)
        if step.decision is not None:
            await self._alert(customer_id, step, source)
        if step.churned:
            await self._win_back(customer_id, step, source)

    async def _alert(self, customer_id: str, step: Step, source: str) -> None:
        d, rec = step.decision, step.record
        if not await self.ledger.claim_alert(d.alert_id, slot=(customer_id, d.tier, step.at, self.s.cooldown_days * DAY_S),
                                             source=source, unfinished=self.unfinished):
            self.metrics.alerts_suppressed.inc()
            return
        occurred = to_dt(step.at)
        segment = value_segment(step.features)
        plan = choose_offer(self.policy, decision=d, value_segment=segment, preferred_channel=rec.state.preferred_channel,
                            marketing_consent=rec.state.marketing_consent, customer_id=customer_id, now=occurred,
                            control_share=self.s.control_share, approval_above=self.s.approval_above)
        note = await self._offer(plan, rec)
        alert = RiskAlert(alert_id=d.alert_id, customer_id=customer_id, score=d.score, tier=d.tier,
                          previous_tier=d.previous_tier, reasons=list(d.reasons), value_segment=segment,
                          model_version=step.version, occurred_at=occurred, created_at=datetime.now(timezone.utc),
                          driver=d.driver, trigger=step.trigger, offer_note=note)
        await self.send(self.s.topic("alerts"), customer_id.encode(), encode(alert), delivered=True)
        await self.ledger.alert_sent(d.alert_id)
        self.metrics.alerts.labels(tier=d.tier, trigger=step.trigger).inc()

    async def _win_back(self, customer_id: str, step: Step, source: str) -> None:
        rec = step.record
        wb_id = stable_id("wb", customer_id, repr(rec.churn_noted_at))
        if not await self.ledger.claim_alert(wb_id, source=source, unfinished=self.unfinished):
            return
        driver = primary_driver(self.scorer.explain(step.features, 3))
        plan = choose_offer(self.policy, driver=driver, alert_id=wb_id, value_segment=value_segment(step.features),
                            preferred_channel=rec.state.preferred_channel, marketing_consent=rec.state.marketing_consent,
                            customer_id=customer_id, now=to_dt(rec.churn_noted_at), control_share=self.s.control_share,
                            approval_above=self.s.approval_above, kind="win_back")
        await self._offer(plan, rec)
        await self.ledger.alert_sent(wb_id)

    async def _offer(self, plan: OfferPlan | Skip, rec: Any) -> str:
        """Reserve caps and emit the offer; returns the note the alert carries."""
        if isinstance(plan, Skip):
            self.metrics.offers_skipped.labels(reason=plan.reason.split(":")[0][:40]).inc()
            return plan.reason
        if plan.kind == "retention" and not rec.in_experiment:
            # A customer enters the experiment once, at their first planned retention offer, in the arm
            # their id hashes to; a treated offer a cap then skips stays treated (intention to treat),
            # since held-out offers are never capped and skipping only treated ones would bias the arms.
            rec.tracking, rec.in_experiment = experiment.on_offer(plan), True
        got = await self.ledger.reserve(plan, customer_id=plan.customer_id, day=to_dt(plan.occurred_at).date(),
                                        caps=self.policy.caps)
        if isinstance(got, Skip):
            self.metrics.offers_skipped.labels(reason="cap").inc()
            return got.reason
        offer = build_offer(plan, created_at=datetime.now(timezone.utc))
        await self.store.record_offer(plan)
        await self.send(self.s.topic("offers"), plan.customer_id.encode(), encode(offer), delivered=True)
        self.metrics.offers.labels(kind=plan.kind, status=plan.status).inc()
        return f"offer {plan.offer_type} via {plan.channel}: {plan.status.replace('_', ' ')}"

    async def erase(self, customer_id: str, event: Any) -> None:
        self._scores.pop(customer_id, None)
        removed = ["state", "pending_snapshot", "silence_schedule"]
        if await self.redis.delete(self.score_key(customer_id)):
            removed.append("redis:score")
        if await self.ledger.forget_customer(customer_id):
            removed.append("redis:offers")
        done = ErasureConfirmation(customer_id=customer_id, request_event_id=event.event_id,
                                   erased_at=datetime.now(timezone.utc), removed=removed)
        await self.send(self.s.topic("erasure_done"), customer_id.encode(), encode(done))
        self.metrics.erasures.inc()

    async def flush_scores(self) -> None:
        """Write-behind of latest scores: one pipelined round trip, not one per event."""
        if not self._scores:
            return
        batch, self._scores = self._scores, {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid, mapping in batch.items():
                pipe.hset(self.score_key(cid), mapping=mapping)
            await pipe.execute()
