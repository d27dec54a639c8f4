"""The team service's dependencies away: PostgreSQL stopped for 30 seconds while alerts flow,
and a broker that is not up yet when the service starts. Real processes: the service, the
broker, Redis, and a PostgreSQL of the test's own on a fixed port (the machine's shared one
is never stopped), restarted on that port with the same data directory.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from cli.procs import ApiProcess
from config.settings import Settings, WebhookRoute
from schemas.codec import encode
from schemas.events import Reason, RiskAlert
from services import embedded
from services.embedded import free_port
from tests.integration.kafka import publish, run, wait_for
from tests.team_service.client import Api
from tests.team_service.conftest import issue_tokens
from tests.team_service.scenario import Receiver

pytestmark = pytest.mark.integration
OUTAGE_S = 30.0


def alert(i: int) -> RiskAlert:
    return RiskAlert(alert_id=f"al-outage-{i:04d}", customer_id=f"cust-{i % 40}", score=0.9, tier="critical",
                     previous_tier="high", driver="service", value_segment="mid", model_version="rules-1",
                     reasons=[Reason(feature="complaints_30d", value=3, contribution=0.4, text="3 complaints in 30 days")],
                     occurred_at=datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=i),
                     created_at=datetime.now(UTC))


def send(s: Settings, ids: range) -> None:
    """Alerts in the contract's format, on churn-alerts, as a worker publishes them."""
    run(publish(s, raw=[(s.topic("alerts"), alert(i).customer_id.encode(), encode(alert(i))) for i in ids]))


def stored(url: str) -> tuple[list[str], int, int]:
    """(alert ids in the inbox, notifications, notifications not yet sent)."""
    with psycopg.connect(url, connect_timeout=2) as conn:
        ids = [r[0] for r in conn.execute("SELECT alert_id FROM alerts ORDER BY alert_id")]
        notes, unsent = conn.execute("SELECT count(*), count(*) FILTER (WHERE sent_at IS NULL) FROM notifications").fetchone()
    return ids, notes, unsent


def readiness(api) -> dict:  # noqa: ANN001
    resp = api.get("/readyz", None)
    return resp.json() | {"status": resp.status_code}


@pytest.fixture
def private_pg() -> tuple[int, Path]:
    port, data = free_port(), Path(tempfile.mkdtemp(prefix="churn-pg-outage-"))
    yield port, data
    shutil.rmtree(data, ignore_errors=True)


def test_a_database_outage_of_30_seconds_loses_and_doubles_nothing(run_settings, start_api, private_pg):
    port, data = private_pg
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    receiver = Receiver(delay_s=0.02)  # a slow endpoint: the outage lands while a batch is being sent
    receiver.start()
    s = run_settings.with_updates(
        database_url=SecretStr(url), api_port=0, api_group=f"{run_settings.app_id}-api", pseudonym_key=SecretStr("test-key"),
        webhook_backoff_s=0.5, webhook_backoff_max_s=3.0,
        webhooks=(WebhookRoute(name="all", url=f"http://127.0.0.1:{receiver.port}/all"),))
    before, during, after = range(0, 200), range(200, 350), range(350, 400)
    pg = embedded.postgres(port, data_dir=data).start()
    try:
        api = start_api(s)
        send(s, before)
        wait_for(lambda: len(receiver.got["/all"]) >= 30, "webhooks being delivered", [api.proc])
        seen = len(receiver.got["/all"])
        wait_for(lambda: len(receiver.got["/all"]) > seen, "the next delivery", [api.proc], 30, every=0.002)
        pg.stop()  # right after a delivery: the notifier is mid-batch, its outcomes not yet recorded
        stopped = time.monotonic()
        wait_for(lambda: readiness(api) == {"ready": False, "database": False, "consumer": True, "status": 503},
                 "readiness false while the database is away", [api.proc], 15, every=0.2)
        chunks = [during[i:i + 15] for i in range(0, len(during), 15)]
        for n, chunk in enumerate(chunks):  # alerts keep flowing through the whole outage
            send(s, chunk)
            wait_for(lambda n=n: time.monotonic() - stopped >= (n + 1) * OUTAGE_S / len(chunks), "the next chunk's time",
                     [api.proc], OUTAGE_S, every=0.2)
        assert readiness(api)["ready"] is False
        pg = embedded.postgres(port, data_dir=data).start()  # same port, same data
        back = time.monotonic()
        api.wait("/readyz", lambda j: j["ready"], "ready again once the database is back", role=None, deadline_s=30)
        ready_after = time.monotonic() - back
        send(s, after)
        everything = [alert(i).alert_id for i in range(400)]
        wait_for(lambda: stored(url) == (everything, 400, 0), "every alert stored once and notified", [api.proc], 90, every=0.5)
        caught_up = time.monotonic() - back
        got = [b["alert_id"] for b in receiver.got["/all"]]
        log = api.proc.log_path.read_text(errors="replace")
    finally:
        receiver.stop()
        pg.stop()
    doubled = sorted({a for a in got if got.count(a) > 1})
    assert not doubled, f"{len(doubled)} alerts delivered twice: {doubled[:10]}"
    assert sorted(got) == everything, f"{len(set(everything) - set(got))} alerts never delivered"
    assert log.count("is not answering") == 1 and log.count("is back after") == 1, \
        "one line when the database goes away, one when it is back:\n" + log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    print(f"\nready {ready_after:.1f} s and caught up {caught_up:.1f} s after the database came back; "
          f"{len(got)} deliveries for {len(everything)} alerts")


def test_the_team_service_started_before_its_broker_waits_for_it_and_then_consumes(team_settings):
    port = free_port()
    s = team_settings.with_updates(bootstrap_servers=f"127.0.0.1:{port}")
    with ApiProcess(s, "early-api") as proc:
        wait_for(lambda: "waiting for the broker at" in proc.log_tail(20_000), "the service saying what it waits for",
                 [proc], 60)
        assert "team service: dashboard" not in proc.log_tail(20_000), "it must not serve before its broker answers"
        with embedded.broker(port):
            api = Api(proc.wait_url(), issue_tokens(s), proc)
            assert "answers; starting" in proc.log_tail(20_000)
            api.wait("/readyz", lambda j: j["ready"], "ready once the broker is up", role=None, deadline_s=30)
            send(s, range(3))
            api.wait("/api/alerts", lambda j: len(j["items"]) == 3, "the alerts consumed once the broker is up")
