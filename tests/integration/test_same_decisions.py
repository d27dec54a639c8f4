"""The backtest and the stream share one decision path: the same events, run through the
broker by a worker and in process by ``engine.backtest``, give the same alerts and the
same offers with the same experiment arms (``control_group``) and statuses.

Caps are what only the runtime applies (they need Redis), so the policy here has caps
that never bind. The customers' events are all on ``app-activity`` (profiles go first,
applied before any of them): Faust reads topics independently, and only then does every
customer's arrival order equal event-time order in the stream too (the documented
cross-topic limit, README "How it works").
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
import yaml

from cli.procs import WorkerProcess
from engine.backtest import run_backtest
from schemas.events import AppActivityEvent, ProfileUpdate
from tests.integration.kafka import Feed, sentinels

pytestmark = pytest.mark.integration
START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 90


def customers(n: int, seed: int = 3) -> tuple[list, list]:
    """Profiles (every seventh customer without consent), then app use every 1-4 days; every
    third customer stops between day 25 and 60, every sixth closes the account at the end."""
    rng, profiles, acts = random.Random(seed), [], []
    for i in range(n):
        cid = f"c{i:04d}"
        profiles.append(ProfileUpdate(event_id=f"{cid}-p", customer_id=cid, occurred_at=START - timedelta(days=1),
                                      event_type="profile", marketing_consent=i % 7 != 0))
        stop = rng.uniform(25, 60) if i % 3 == 0 else DAYS
        gap, t, k = rng.uniform(1, 4), START + timedelta(hours=rng.uniform(0, 48)), 0
        while t < START + timedelta(days=stop):
            acts.append(AppActivityEvent(event_id=f"{cid}-a{k}", customer_id=cid, occurred_at=t, event_type="app_activity",
                                         activity=rng.choice(["login", "session", "feature_used"]), platform="ios",
                                         duration_s=rng.uniform(30, 900)))
            t += timedelta(days=gap * rng.uniform(0.6, 1.4))
            k += 1
        if i % 6 == 0:
            acts.append(AppActivityEvent(event_id=f"{cid}-close", customer_id=cid, occurred_at=t,
                                         event_type="app_activity", activity="account_closed", platform="ios"))
    return profiles, sorted(acts, key=lambda e: e.occurred_at)


def uncapped_policy(tmp_path):  # noqa: ANN001, ANN201
    doc = yaml.safe_load(resources.files("alerts").joinpath("default_policy.yaml").read_text())
    doc["caps"].update(contacts_per_customer=1000, daily_per_type=10**6, daily_per_type_overrides={}, daily_spend=1e12)
    path = tmp_path / "uncapped.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_backtest_and_stream_take_the_same_alert_and_offer_decisions(run_settings, tmp_path):
    s = run_settings.with_updates(min_labels=10**9, control_share=0.3, policy_file=uncapped_policy(tmp_path))
    profiles, acts = customers(120)
    end = START + timedelta(days=DAYS + 40)
    # every partition's watermark reaches the end, so the last silences are checked; on app-activity
    # only: a partition's watermark is the minimum over the topics seen on it, so an early sentinel
    # on orders would not hold it back but push it ahead of the customers' own events
    tail = [e for e in sentinels(s, end) if e.event_type == "app_activity"]
    feed = Feed(s)
    with WorkerProcess(s, "same-decisions") as worker:
        feed(profiles)
        feed.drained([worker])
        feed(acts + tail)
        feed.drained([worker], deadline_s=180)
        alerts, offers = feed.outputs()
    result = run_backtest(profiles + acts + tail, as_of=end + timedelta(seconds=1), settings=s)

    streamed_alerts = sorted((a["alert_id"], a["customer_id"], a["tier"], a["previous_tier"]) for a in alerts)
    replayed_alerts = sorted((d.alert_id, cid, d.tier, d.previous_tier) for cid, d in result.alerts)
    assert len(replayed_alerts) >= 100, "the events should make plenty of alerts"
    assert streamed_alerts == replayed_alerts

    def key(o):  # noqa: ANN001, ANN202
        return o["offer_id"], o["alert_id"], o["kind"], o["offer_type"], o["control_group"], o["status"]

    streamed = sorted(key(o) for o in offers)
    replayed = sorted(key(p.to_json()) for p in result.offers)
    arms = {(kind, control) for _, _, kind, _, control, _ in replayed}
    assert arms == {("retention", False), ("retention", True), ("win_back", False), ("win_back", True)}, arms
    assert streamed == replayed
