"""Live updates for dashboards: PostgreSQL ``NOTIFY`` on every stored change, ``LISTEN``
in every service process, fanned out to its subscribers. So a dashboard on any replica
sees what any replica consumed or any agent did.

>>> import asyncio
>>> hub = Hub()
>>> q = hub.subscribe(); hub.publish({"kind": "alert", "id": "al-1"}); q.get_nowait()
{'kind': 'alert', 'id': 'al-1'}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)
CHANNEL = "churn_team"


async def notify(session: AsyncSession, kind: str, id_: str) -> None:
    """Announce a change; delivered to listeners when the transaction commits."""
    await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": json.dumps({"kind": kind, "id": id_})})


class Hub:
    """Subscribers' queues; a slow subscriber loses updates, never blocks the others."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue] = set()

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._queues.discard(q)

    def publish(self, message: dict) -> None:
        for q in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(message)

    async def listen(self, url: str, ready: asyncio.Event) -> None:
        """Forward this database's notifications until cancelled; reconnects after errors."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    ready.set()
                    async for note in conn.notifies():
                        self.publish(json.loads(note.payload))
            except psycopg.Error as exc:
                log.warning("live updates: %s; reconnecting", exc)
                await asyncio.sleep(1.0)  # reconnect back-off
