"""Every metric of the team service, created against an injectable registry.

>>> from prometheus_client import CollectorRegistry
>>> reg = CollectorRegistry()
>>> m = TeamMetrics(reg)
>>> reg.get_sample_value("churn_webhook_deliveries_total", {"outcome": "delivered"})
0.0
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

DELIVERY_OUTCOMES = ("delivered", "retry", "rejected")


class TeamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.db_errors = Counter("churn_api_db_errors_total", "Database operations of the team service that failed.",
                                 registry=registry)
        self.outbox_depth = Gauge("churn_webhook_outbox_depth", "Webhook notifications not yet delivered.", registry=registry)
        self.deliveries = Counter("churn_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"],
                                  registry=registry)
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome=outcome)
        self.database_up = Gauge("churn_api_database_up", "1 while the team database answers, 0 while the work that "
                                 "needs it is paused and retried.", registry=registry)
        self.database_up.set(1)
        self.consumer_up = Gauge("churn_api_consumer_up", "1 while the team service's consumer is running.", registry=registry)
        self.ingested = Counter("churn_api_ingested_total", "Messages the team service stored, by topic kind.", ["kind"],
                                registry=registry)
        for kind in ("alert", "offer", "outcome", "profile", "erasure", "invalid"):
            self.ingested.labels(kind=kind)
        self.actions = Counter("churn_api_actions_total", "Agent actions recorded, by action.", ["action"], registry=registry)
        for action in ("acknowledge", "assign", "snooze", "resolve", "approve", "reject"):
            self.actions.labels(action=action)
