"""Every topic the workers read or write, declared from the catalogue and settings."""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TopicT

from config.settings import Settings
from schemas.catalogue import INPUTS


@dataclass(frozen=True)
class Topics:
    customer_inputs: TopicT  # every customer-keyed input, co-partitioned, one agent
    alerts: TopicT
    offers: TopicT
    dead_letter: TopicT
    labels: TopicT  # one partition: one learner
    erasure_done: TopicT
    accepts: dict[str, frozenset[str]]  # full topic name → accepted event types
    ticks: str  # full name of the internal silence-tick topic


def declare(app: faust.App, settings: Settings) -> Topics:
    """Declare topics with the configured names and partition count."""
    n = settings.partitions

    def out(name: str, partitions: int = n) -> TopicT:
        return app.topic(settings.topic(name), partitions=partitions, key_type=bytes, value_type=bytes)

    accepts = {settings.topic(t.setting): t.accepts for t in INPUTS}
    ticks = settings.topic("ticks")
    inputs = app.topic(*accepts, ticks, partitions=n, key_type=bytes, value_type=bytes)
    return Topics(customer_inputs=inputs, alerts=out("alerts"), offers=out("offers"), dead_letter=out("dead_letter"),
                  labels=out("labels", 1), erasure_done=out("erasure_done"), accepts=accepts, ticks=ticks)
