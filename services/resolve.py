"""Resolve the broker, Redis and PostgreSQL: use what is configured, start what is not."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from urllib.parse import urlparse

from pydantic import SecretStr

from config.settings import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, Settings
from services import embedded

log = logging.getLogger(__name__)


def redis_answers(url: str) -> bool:
    """True when a Redis at ``url`` answers PING within a second."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


@contextlib.contextmanager
def services(settings: Settings) -> Iterator[Settings]:
    """Yield settings whose broker and Redis answer, starting embedded ones as needed.

    The broker is embedded when ``bootstrap_servers`` is unset; Redis when the URL is
    the default and nothing answers there. Whatever was started is stopped on exit,
    also on Ctrl-C and errors.
    """
    update: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if not settings.bootstrap_servers:
            update["bootstrap_servers"] = stack.enter_context(embedded.broker()).address
            update["embedded_broker"] = True
        if not redis_answers(settings.redis_url):
            if settings.redis_url != DEFAULT_REDIS_URL:
                from schemas.errors import ServiceError

                raise ServiceError(f"Redis at {urlparse(settings.redis_url).netloc} does not answer (CHURN_REDIS_URL)")
            update["redis_url"] = f"redis://{stack.enter_context(embedded.redis_server()).address}/0"
        yield settings.with_updates(**update)


def database_answers(url: str, deadline_s: float = 1.0) -> bool:
    """True when the PostgreSQL at ``url`` accepts a session within ``deadline_s`` (it may still be starting)."""
    end = time.monotonic() + deadline_s
    while not embedded.accepts_sessions(url):
        if time.monotonic() > end:
            return False
        time.sleep(0.1)  # polling with a deadline: the server answers once it has started
    return True


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Yield settings with a ``database_url`` that answers.

    A configured URL must answer; without one the default local server is used when it
    answers, else an embedded PostgreSQL is started (and stopped on exit).
    """
    from schemas.errors import ServiceError

    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        if not database_answers(url, deadline_s=3.0):
            raise ServiceError(f"PostgreSQL at {urlparse(url).hostname}:{urlparse(url).port or 5432} does not answer (CHURN_DATABASE_URL)")
        yield settings
        return
    if database_answers(DEFAULT_DATABASE_URL):
        yield settings.with_updates(database_url=SecretStr(DEFAULT_DATABASE_URL))
        return
    with embedded.postgres() as pg:  # started: it accepts sessions
        yield settings.with_updates(database_url=SecretStr(f"postgresql://postgres@{pg.address}/postgres"))
