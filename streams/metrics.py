"""Every runtime metric, declared once against an injectable registry.

Labels are low-cardinality and pre-initialised; never a customer id. Model-health
metrics live in ``models.metrics`` and register on the same registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.events import TIERS

if TYPE_CHECKING:
    from streams.retry import Dependency

DEPENDENCIES = ("redis", "broker")

OUTCOMES = ("applied", "dead_lettered", "duplicate", "stale_tick", "erased")


class RuntimeMetrics:
    """Counters and gauges of the stream workers.

    >>> m = RuntimeMetrics(CollectorRegistry())
    >>> m.messages.labels(outcome="applied").inc()
    >>> m.registry.get_sample_value("churn_messages_total", {"outcome": "applied"})
    1.0
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.messages = Counter("churn_messages_total", "Messages taken off the input topics, by outcome.", ["outcome"], registry=r)
        self.dead_letters = Counter("churn_dead_letters_total", "Messages sent to the dead-letter topic, by reason code.", ["reason"], registry=r)
        self.alerts = Counter("churn_alerts_total", "Risk alerts emitted, by tier and trigger.", ["tier", "trigger"], registry=r)
        self.alerts_suppressed = Counter("churn_alerts_deduplicated_total", "Alerts not emitted because their alert_id was already claimed.", registry=r)
        self.offers = Counter("churn_offers_total", "Offer records emitted, by kind and status.", ["kind", "status"], registry=r)
        self.offers_skipped = Counter("churn_offers_skipped_total", "Offers not made, by reason.", ["reason"], registry=r)
        self.labels = Counter("churn_labels_total", "Labelled examples sent to the learner, by label.", ["label"], registry=r)
        self.sweep_due = Counter("churn_sweep_ticks_total", "Silence checkpoints that came due and were sent as ticks.", registry=r)
        self.sweep_seconds = Histogram("churn_sweep_seconds", "Duration of one sweep pass.", registry=r,
                                       buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
        self.step_seconds = Histogram("churn_step_seconds", "Time to process one message (decode to emit).", registry=r,
                                      buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25))
        self.scheduled = Gauge("churn_silence_scheduled", "Customers with a pending silence checkpoint on this worker.", registry=r)
        self.watermark = Gauge("churn_watermark_seconds", "Event-time watermark per partition (the minimum over the input topics of their latest occurred_at), epoch seconds.", ["partition"], registry=r)
        self.tier_threshold = Gauge("churn_tier_threshold_ratio", "Enter threshold of each tier in use (fixed, or set by the learner from labels).", ["tier"], registry=r)
        self.offset_gaps = Counter("churn_offset_gaps_total", "Input offsets the consumer never handed to the worker.", registry=r)
        self.erasures = Counter("churn_erasures_total", "Customers erased on request.", registry=r)
        for o in OUTCOMES:
            self.messages.labels(outcome=o)
        for t in TIERS[1:]:
            for trig in ("event", "silence"):
                self.alerts.labels(tier=t, trigger=trig)
        from schemas.codec import REASONS

        for code in REASONS:
            self.dead_letters.labels(reason=code)
        for lab in ("churned", "stayed"):
            self.labels.labels(label=lab)
        self.dependency_up = Gauge("churn_dependency_up", "1 while a dependency answers, 0 while the work that needs it "
                                   "is paused and retried.", ["dependency"], registry=r)
        self.dependency_retries = Counter("churn_dependency_retries_total", "Calls retried because a dependency was away.",
                                          ["dependency"], registry=r)
        for dep in DEPENDENCIES:
            self.dependency_up.labels(dependency=dep).set(1)
            self.dependency_retries.labels(dependency=dep)

    def dependency(self, name: str) -> "Dependency":
        """A :class:`streams.retry.Dependency` that reports to these metrics."""
        from streams.retry import Dependency

        up, retries = self.dependency_up.labels(dependency=name), self.dependency_retries.labels(dependency=name)
        return Dependency(name, on_change=lambda ok: up.set(1 if ok else 0), on_retry=retries.inc)
