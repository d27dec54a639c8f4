"""Shared fixtures. Integration tests never skip: a broker or Redis that cannot be
started or reached fails them (in CI and everywhere else)."""

from __future__ import annotations

import uuid

import pytest

from config.settings import Settings


@pytest.fixture(scope="session")
def live_settings():
    """Broker and Redis that answer: configured ones, else embedded (session-scoped)."""
    from services.resolve import services

    with services(Settings()) as s:
        yield s


@pytest.fixture
def run_settings(live_settings: Settings) -> Settings:
    """Unique topic, group and Redis-key names for one test, on the event clock."""
    tag = uuid.uuid4().hex[:10]
    return live_settings.with_updates(**{
        "topic_prefix": f"t{tag}-", "app_id": f"test-{tag}", "redis_prefix": f"test-{tag}", "partitions": 2,
        "clock": "event", "data_dir": live_settings.data_dir,
    })


@pytest.fixture
def redis_cleanup(run_settings: Settings):
    """Deletes the test's Redis keys afterwards."""
    yield
    import redis

    r = redis.Redis.from_url(run_settings.redis_url)
    for key in r.scan_iter(match=f"{run_settings.redis_prefix}:*", count=1000):
        r.delete(key)
    r.close()
