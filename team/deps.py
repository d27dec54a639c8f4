"""Request dependencies shared by the routers: the runtime and a database session."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from team.runtime import TeamRuntime


def runtime(request: Request) -> TeamRuntime:
    return request.app.state.team


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.team.sessions() as s:
        yield s
