"""``churn-alert api``: resolve the database, migrate it, serve the app with uvicorn.

On the first start of an empty database an admin token is issued and printed once.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from config.settings import Settings
from schemas.errors import ServiceError
from team.auth import Role, issue
from team.db import async_engine, migrate, sessions

READY_LINE = "team service: dashboard http://{host}:{port}/"


async def create_token(settings: Settings, name: str, role: Role, *, only_if_none: bool = False) -> str | None:
    """Issue a token (``only_if_none``: only when the database has no token yet)."""
    from sqlalchemy import func, select

    from team.tables import Token

    engine = async_engine(settings.database_url.get_secret_value())  # type: ignore[union-attr]
    try:
        async with sessions(engine)() as s, s.begin():
            if only_if_none and (await s.execute(select(func.count()).select_from(Token))).scalar_one():
                return None
            _, token = await issue(s, name, role, "churn-alert")
            return token
    finally:
        await engine.dispose()


def tokens_for_roles(settings: Settings, prefix: str = "demo") -> dict[str, str]:
    """One new token per role (for the demo)."""
    migrate(settings.database_url.get_secret_value())  # type: ignore[union-attr]
    return {role: asyncio.run(create_token(settings, f"{prefix}-{role}", role)) for role in ("agent", "analyst", "admin")}  # type: ignore[misc]


async def serve(settings: Settings) -> None:
    from team.app import create_app

    config = uvicorn.Config(create_app(settings), host=settings.api_host, port=settings.api_port,
                            log_level="warning", lifespan="on", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise ServiceError(f"the team service could not start on {settings.api_host}:{settings.api_port}")
        await asyncio.sleep(0.05)  # polling uvicorn's start flag
    port = server.servers[0].sockets[0].getsockname()[1]
    print(READY_LINE.format(host=settings.api_host, port=port), flush=True)
    await task


def run_api(settings: Settings) -> int:
    from services import database, redis_answers

    if not settings.bootstrap_servers:
        raise ServiceError("CHURN_BOOTSTRAP_SERVERS is required for `churn-alert api` (`churn-alert demo` runs everything here)")
    if not redis_answers(settings.redis_url):
        raise ServiceError("Redis does not answer at CHURN_REDIS_URL; the team service needs the workers' Redis")
    with database(settings) as s:
        migrate(s.database_url.get_secret_value())  # type: ignore[union-attr]
        token = asyncio.run(create_token(s, "admin", "admin", only_if_none=True))
        if token:
            print(f"first start: admin token (shown once, keep it): {token}", file=sys.stderr, flush=True)
        asyncio.run(serve(s))
    return 0
