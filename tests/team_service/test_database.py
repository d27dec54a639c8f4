"""The team database on the real PostgreSQL: migrations from empty produce exactly the
declared tables, and the inbox (with its actions) survives a restart of the service, which
stores a replayed or repeated alert once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from schemas.codec import encode
from schemas.events import Reason, RiskAlert
from team.db import migrate, sync_url
from team.tables import Base
from tests.integration.kafka import publish, run

pytestmark = pytest.mark.integration


def test_migrations_from_empty_produce_exactly_the_declared_tables(team_db):
    engine = create_engine(sync_url(team_db))
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        migrate(team_db)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == [], f"migrations and team/tables.py disagree: {diff}"
        migrate(team_db)  # a second start changes nothing
    finally:
        engine.dispose()


def test_services_that_start_together_migrate_a_fresh_database_one_after_the_other(team_db):
    """The demo and its service, or two replicas, migrate at once: none fails (both creating
    Alembic's version table in a fresh database made one fail, seen in the demo)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        done = [pool.submit(migrate, team_db) for _ in range(4)]
    errors = [f.exception() for f in done if f.exception() is not None]
    assert not errors, errors
    engine = create_engine(sync_url(team_db))
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def alert(i: int) -> RiskAlert:
    return RiskAlert(alert_id=f"al-restart-{i}", customer_id=f"cust-{i}", score=0.9, tier="critical", previous_tier="high",
                     reasons=[Reason(feature="complaints_30d", value=3, contribution=0.4, text="3 complaints in the last 30 days")],
                     value_segment="mid", model_version="rules-1", occurred_at=datetime(2024, 5, 1, tzinfo=UTC),
                     created_at=datetime.now(UTC), driver="service")


def test_the_inbox_survives_a_restart_and_a_repeated_alert_is_stored_once(team_settings, start_api):
    s = team_settings
    topic = s.topic("alerts")
    run(publish(s, raw=[(topic, f"cust-{i}".encode(), encode(alert(i))) for i in range(3)]))
    first = start_api(s)
    first.wait("/api/alerts", lambda j: len(j["items"]) == 3, "3 alerts stored")
    assert first.post("/api/alerts/al-restart-1/acknowledge", json={"note": "on it"}).status_code == 200
    first.proc.stop()

    # the same alerts again (a worker's retry or replay) and one new, while the service is down
    run(publish(s, raw=[(topic, f"cust-{i}".encode(), encode(alert(i))) for i in range(4)]
                + [(topic, b"x", json.dumps({"not": "an alert"}).encode())]))
    second = start_api(s, first.tokens)
    items = second.wait("/api/alerts", lambda j: len(j["items"]) >= 4, "the new alert stored")["items"]
    assert sorted(a["alert_id"] for a in items) == [f"al-restart-{i}" for i in range(4)]
    kept = second.get("/api/alerts/al-restart-1").json()
    assert kept["status"] == "acknowledged" and kept["actions"][0]["detail"] == {"note": "on it"}
    history = second.get("/api/customers/cust-1").json()["score_history"]
    assert [(h["tier"], h["source"]) for h in history] == [("critical", "alert")]  # not doubled by the replay
