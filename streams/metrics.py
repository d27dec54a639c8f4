"""Every runtime metric of a stream worker, declared once against an injectable registry.

Base units (``_seconds``, ``_ratio``, ``_messages``), ``_total`` on counters, labels
that are low-cardinality and pre-initialised (a rate over a series that appears late
is wrong), never a customer id. Model-health metrics live in ``models.metrics`` and
register on the same registry. What each family is for: README "Operate it".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.codec import REASONS
from schemas.events import TIERS

if TYPE_CHECKING:
    from streams.retry import Dependency

DEPENDENCIES = ("redis", "broker")

OUTCOMES = ("applied", "dead_lettered", "duplicate", "stale_tick", "erased")
TRIGGERS = ("event", "silence")
DRIVERS = ("service", "price_value", "product_fit", "disengagement")  # schemas.events.Driver
ARMS = (("treated", "send"), ("treated", "pending_approval"), ("control", "held_out"))  # (arm, offer status)
REDIS_PATHS = ("event", "timer", "learner", "probe")
COMPLAINT_CATEGORIES = ("billing", "delivery", "product", "account", "app", "other")
_SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
_EVENT_LAG_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86_400, 7 * 86_400, 30 * 86_400)
_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5)


class RuntimeMetrics:
    """Counters, gauges and histograms of the stream workers.

    >>> m = RuntimeMetrics(CollectorRegistry())
    >>> m.messages.labels(topic="orders", outcome="applied").inc()
    >>> m.registry.get_sample_value("churn_messages_total", {"topic": "orders", "outcome": "applied"})
    1.0
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.messages = Counter("churn_messages_total", "Messages taken off the input topics, by topic and outcome.", ["topic", "outcome"], registry=r)
        self.dead_letters = Counter("churn_dead_letters_total", "Messages sent to the dead-letter topic, by reason code.", ["reason"], registry=r)
        self.alerts = Counter("churn_alerts_total", "Risk alerts emitted, by tier, trigger and primary driver.", ["tier", "trigger", "driver"], registry=r)
        self.alerts_suppressed = Counter("churn_alerts_deduplicated_total", "Alerts not emitted because their alert_id was already claimed.", registry=r)
        self.event_to_alert = Histogram("churn_event_to_alert_seconds", "Event time to alert: alert created_at minus the occurred_at it was scored at.",
                                        registry=r, buckets=_EVENT_LAG_BUCKETS)
        self.alert_processing = Histogram("churn_alert_processing_seconds",
                                          "Processing time to alert: from the worker taking the message up to the alert on the broker.",
                                          registry=r, buckets=_FAST_BUCKETS)
        self.scores = Histogram("churn_score_ratio", "Risk scores given, by trigger.", ["trigger"], registry=r, buckets=_SCORE_BUCKETS)
        self.offers = Counter("churn_offers_total", "Offer records emitted, by kind, offer type, experiment arm and status.",
                              ["kind", "offer_type", "arm", "status"], registry=r)
        self.offers_skipped = Counter("churn_offers_skipped_total", "Offers not made, by reason.", ["reason"], registry=r)
        self.offer_resolutions = Counter("churn_offer_resolutions_total", "Offered customers resolved (retained or churned within the horizon), by arm.",
                                         ["arm", "outcome"], registry=r)
        self.labels = Counter("churn_labels_total", "Snapshots resolved into labelled examples for the learner, by label.", ["label"], registry=r)
        self.complaints = Counter("churn_complaints_total", "Complaint tickets opened, by category.", ["category"], registry=r)
        self.sweep_due = Counter("churn_sweep_ticks_total", "Silence checkpoints that came due and were scored.", registry=r)
        self.sweep_customers_due = Counter("churn_sweep_due_customers_total", "Customers found due by the silence sweep.", registry=r)
        self.sweep_seconds = Histogram("churn_sweep_seconds", "Duration of one sweep pass.", registry=r,
                                       buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
        self.step_seconds = Histogram("churn_step_seconds", "Time to process one message (decode to emit).", registry=r, buckets=_FAST_BUCKETS)
        self.scheduled = Gauge("churn_silence_scheduled", "Customers with a pending silence checkpoint on this worker.", registry=r)
        self.rocksdb_memory = Gauge("churn_rocksdb_memory_bytes", "RocksDB memory of the table's partitions on this worker, "
                                    "by kind (memtables, block_cache, table_readers).", ["kind"], registry=r)
        self.customers = Gauge("churn_customers", "Customers whose state this worker holds (its active partitions).", registry=r)
        self.lag = Gauge("churn_consumer_lag_messages", "Messages on the input topics not yet committed by this worker's partitions, by topic.",
                         ["topic"], registry=r)
        self.watermark = Gauge("churn_watermark_seconds", "Event-time watermark (max occurred_at) per partition, epoch seconds.", ["partition"], registry=r)
        self.tier_threshold = Gauge("churn_tier_threshold_ratio", "Enter threshold of each tier in use (fixed, or set by the learner from labels).",
                                    ["tier"], registry=r)
        self.offset_gaps = Counter("churn_offset_gaps_total", "Input offsets the consumer never handed to the worker.", registry=r)
        self.erasures = Counter("churn_erasures_total", "Customers erased on request.", registry=r)
        self.redis_errors = Counter("churn_redis_errors_total", "Redis commands that failed, by where they ran.", ["path"], registry=r)
        for t in TIERS[1:]:
            for trig in TRIGGERS:
                self.scores.labels(trigger=trig)
                for d in DRIVERS:
                    self.alerts.labels(tier=t, trigger=trig, driver=d)
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
        for arm in ("treated", "control"):
            for out in ("retained", "churned"):
                self.offer_resolutions.labels(arm=arm, outcome=out)
        for c in COMPLAINT_CATEGORIES:
            self.complaints.labels(category=c)
        for p in REDIS_PATHS:
            self.redis_errors.labels(path=p)


    def dependency(self, name: str) -> Dependency:
        """A :class:`streams.retry.Dependency` that reports to these metrics."""
        from streams.retry import Dependency

        up, retries = self.dependency_up.labels(dependency=name), self.dependency_retries.labels(dependency=name)
        return Dependency(name, on_change=lambda ok: up.set(1 if ok else 0), on_retry=retries.inc)

    def bind_topics(self, topics: Iterable[str], prefix: str = "") -> dict[tuple[str, str], Counter]:
        """Children of ``churn_messages_total`` for every (full topic name, outcome), bound
        once for the per-message path; the label is the topic's name without ``prefix``.

        >>> m = RuntimeMetrics(CollectorRegistry())
        >>> m.bind_topics(["t1-orders"], "t1-")[("t1-orders", "applied")].inc()
        >>> m.registry.get_sample_value("churn_messages_total", {"topic": "orders", "outcome": "applied"})
        1.0
        """
        bound = {}
        for full in topics:
            label = full[len(prefix):] if prefix and full.startswith(prefix) else full
            self.lag.labels(topic=label)
            for o in OUTCOMES:
                bound[(full, o)] = self.messages.labels(topic=label, outcome=o)
        return bound

    def bind_offers(self, kinds_and_types: Iterable[tuple[str, str]]) -> None:
        """Pre-initialise ``churn_offers_total`` for the offer types a policy can make."""
        for kind, offer_type in kinds_and_types:
            for arm, status in ARMS:
                self.offers.labels(kind=kind, offer_type=offer_type, arm=arm, status=status)
