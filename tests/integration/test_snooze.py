"""``churn-alert snooze`` through the real broker: the snoozed customer gets no risk alert and
no retention offer while equally unhappy customers do."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from aiokafka import TopicPartition

from cli.procs import WorkerProcess, settings_env
from schemas.catalogue import TOPIC_OF_TYPE
from streams.sweep import partition_of
from tests.commandline import churn_alert
from tests.integration.kafka import Feed, sentinels
from tests.integration.test_offers import DAYS, START, history, profiles

pytestmark = pytest.mark.integration


def test_a_snoozed_customer_gets_no_alert_and_no_offer(run_settings):
    s = run_settings.with_updates(**{"min_labels": 10**9})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")} | settings_env(s)
    snoozed = "c0000"  # at risk, like c0003 and every third customer of this history
    until = (START + timedelta(days=DAYS + 30)).isoformat()
    done = churn_alert("snooze", snoozed, "--until", until, env=env, timeout=60)
    assert done.returncode == 0 and snoozed in done.stdout, done.stderr
    feed = Feed(s)
    # the snooze went to the profiles topic like any profile update: count it for the drain
    feed.sent[TopicPartition(s.topic(TOPIC_OF_TYPE["profile"]), partition_of(snoozed.encode(), s.partitions))] += 1
    with WorkerProcess(s, "snooze") as w:
        feed(profiles(12) + history(12) + sentinels(s, START + timedelta(days=DAYS + 1)))
        feed.drained([w])
        alerts, offers = feed.outputs()
    alerted = {a["customer_id"] for a in alerts}
    assert {"c0003", "c0006", "c0009"} <= alerted, alerted
    assert snoozed not in alerted and snoozed not in {o["customer_id"] for o in offers if o["kind"] == "retention"}
    # the snooze is about risk alerts: once the customer is lost, the win-back still goes out
    assert snoozed in {o["customer_id"] for o in offers if o["kind"] == "win_back"}
