"""Bad input to a command stops it with one line naming what is wrong, and exit status 2."""

from __future__ import annotations

import os

from tests.commandline import churn_alert


def env_without_broker() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}


def test_a_worker_without_a_configured_broker_stops_instead_of_embedding_one():
    done = churn_alert("worker", env=env_without_broker(), timeout=60)
    assert done.returncode == 2, done.stderr
    assert "no broker configured: set CHURN_BOOTSTRAP_SERVERS" in done.stderr and "--embed-broker" in done.stderr
    assert "Traceback" not in done.stderr


def test_backtest_refuses_a_negative_horizon_naming_the_setting(tmp_path):
    events = tmp_path / "none.jsonl"
    events.write_text("")
    done = churn_alert("backtest", str(events), "--as-of", "2024-01-01T00:00:00+00:00", "--horizon-days", "-5",
                       "--out", str(tmp_path / "s.csv"), env=env_without_broker(), timeout=60)
    assert done.returncode == 2
    assert "invalid setting horizon_days: Input should be greater than 0 (got -5.0)" in done.stderr, done.stderr
