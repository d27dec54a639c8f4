"""Shared fixtures. Integration tests never skip: a broker or Redis that cannot be
started or reached fails them (in CI and everywhere else).

Every test that needs Redis gets it from ``redis_url`` (one per session) under a key
prefix of its own from ``scratch_redis`` (its keys are deleted afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from config.settings import DEFAULT_REDIS_URL, Settings
from tests.scratch_redis import ScratchRedis, session_redis


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The configured Redis if it answers; for the default URL, else an embedded one."""
    url = Settings().redis_url
    with session_redis(url, embed_when_silent=url == DEFAULT_REDIS_URL) as answering:
        yield answering


@pytest.fixture
def scratch_redis(redis_url: str, request: pytest.FixtureRequest) -> Iterator[ScratchRedis]:
    """The session's Redis under a fresh key prefix; every key under it is deleted afterwards."""
    scratch = ScratchRedis.fresh(redis_url, request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    yield scratch
    scratch.delete_keys()


@pytest.fixture(scope="session")
def live_settings(redis_url: str) -> Iterator[Settings]:
    """Broker and Redis that answer: configured ones, else embedded (session-scoped)."""
    from services.resolve import services

    with services(Settings().with_updates(redis_url=redis_url)) as s:
        yield s


@pytest.fixture
def run_settings(live_settings: Settings, scratch_redis: ScratchRedis) -> Settings:
    """Unique topic, group and Redis-key names for one test, on the event clock."""
    tag = uuid.uuid4().hex[:10]
    return live_settings.with_updates(**{
        "topic_prefix": f"t{tag}-", "app_id": f"test-{tag}", "redis_prefix": scratch_redis.prefix, "partitions": 2,
        "clock": "event", "data_dir": live_settings.data_dir,
    })
