"""``churn-alert demo`` as a new user runs it: it starts its own broker, a worker and the
simulator, prints live alerts with reasons, stops cleanly after ``--duration``; then
``churn-alert report --demo`` shows treated against control for the offers it made."""

from __future__ import annotations

import os
import re

import pytest
import redis

from cli.demo import demo_redis_prefix
from tests.commandline import churn_alert

pytestmark = pytest.mark.integration


def test_demo_alerts_live_and_report_shows_treated_vs_control(run_settings):
    # No broker configured: the demo embeds one. Redis is the session's (it outlives the demo).
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    env |= {"CHURN_REDIS_URL": run_settings.redis_url, "CHURN_REDIS_PREFIX": run_settings.redis_prefix}
    try:
        demo = churn_alert("demo", "--duration", "40", "--days-per-second", "3", env=env, timeout=180)
        report = churn_alert("report", "--demo", env=env, timeout=60)
    finally:
        r = redis.Redis.from_url(run_settings.redis_url)
        for key in r.scan_iter(match=f"{demo_redis_prefix(run_settings)}:*", count=1000):
            r.delete(key)
        r.close()
    out = demo.stdout
    assert demo.returncode == 0, f"demo exited {demo.returncode}:\n{out[-3000:]}\n{demo.stderr[-3000:]}"

    assert re.search(r"^dashboard http://127\.0\.0\.1:\d+/", out, flags=re.M), out[:2000]
    tokens = dict(re.findall(r"^token (agent|analyst|admin): (ca_\S+)$", out, flags=re.M))
    assert set(tokens) == {"agent", "analyst", "admin"} and len(set(tokens.values())) == 3, out[:2000]

    alerts = re.findall(r"^ALERT (\w+)\s+(\S+)\s+score (\d\.\d\d)", out, flags=re.M)
    assert len(alerts) >= 5, out[-3000:]
    assert {tier for tier, _, _ in alerts} <= {"WATCH", "HIGH", "CRITICAL"}
    blocks = re.split(r"^ALERT ", out, flags=re.M)[1:]
    assert all(re.search(r"^    - \S", b, flags=re.M) for b in blocks), "an alert without a readable reason"
    summary = re.search(r"^summary: (\d+) events in \d+ s; (\d+) alerts .*; (\d+) offers .*worker exit code 0$", out, flags=re.M)
    assert summary, out[-2000:]
    assert int(summary[2]) == len(alerts)

    assert report.returncode == 0, report.stderr
    header, *rows = [line for line in report.stdout.splitlines() if line and not line.startswith("-")]
    assert header.split()[:4] == ["offer", "type", "segment", "offered"] and "ret T" in header and "ret C" in header
    total = rows[-1].split()
    assert total[:2] == ["all", "all"], report.stdout
    offered, control = int(total[2]), int(total[3])
    assert offered > 0 and control > 0, f"no treated or no control offers after the demo:\n{report.stdout}"
    # The demo's own closing report and the command's agree.
    assert report.stdout.strip().splitlines()[-1] in out
