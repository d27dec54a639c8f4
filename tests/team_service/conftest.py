"""Fixtures of the team service's tests: a fresh PostgreSQL database per test (on the
configured server, the local one, else an embedded one), and the service as a process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pydantic import SecretStr

from cli.procs import ApiProcess
from config.settings import Settings
from tests.team_service.client import Api


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    from services import database

    with database(Settings()) as s:
        yield s.database_url.get_secret_value()  # type: ignore[union-attr]


@pytest.fixture
def team_db(pg_url: str) -> Iterator[str]:
    """URL of a new, empty database, dropped afterwards."""
    name = f"team_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = pg_url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def team_settings(run_settings: Settings, team_db: str) -> Settings:
    return run_settings.model_copy(update={
        "database_url": SecretStr(team_db), "api_port": 0, "api_group": f"{run_settings.app_id}-api",
        "webhook_backoff_s": 0.5, "webhook_backoff_max_s": 3.0, "pseudonym_key": SecretStr("test-key")})


def issue_tokens(settings: Settings) -> dict[str, str]:
    from team.serve import create_token

    return {role: asyncio.run(create_token(settings, f"test-{role}", role)) for role in ("agent", "analyst", "admin")}  # type: ignore[misc]


@pytest.fixture
def start_api():
    """Starts ``churn-alert api`` processes for settings; all stopped afterwards."""
    procs: list[ApiProcess] = []

    def start(settings: Settings, tokens: dict[str, str] | None = None) -> Api:
        proc = ApiProcess(settings, "api").start()
        procs.append(proc)
        url = proc.wait_url()
        api = Api(url, tokens if tokens is not None else issue_tokens(settings), proc)
        api.wait("/readyz", lambda j: j["ready"], "service ready", role=None, deadline_s=30)
        return api

    yield start
    for p in procs:
        p.stop()


@pytest.fixture
def api(team_settings: Settings, start_api) -> Api:  # noqa: ANN001
    return start_api(team_settings)


@pytest.fixture(scope="session")
def inbox(live_settings: Settings, pg_url: str, tmp_path_factory):  # noqa: ANN001
    """The shared run of :mod:`tests.team_service.scenario` (started on first use)."""
    from tests.team_service.scenario import start_inbox, stop_inbox

    box, name = start_inbox(live_settings, pg_url, tmp_path_factory.mktemp("inbox"))
    yield box
    stop_inbox(box, pg_url, name)
