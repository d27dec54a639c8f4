"""Resolve the broker and Redis: use what is configured, start what is not."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from urllib.parse import urlparse

from services import embedded
from config.settings import DEFAULT_REDIS_URL, Settings

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
