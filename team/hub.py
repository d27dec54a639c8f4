"""Live updates for dashboards: PostgreSQL ``NOTIFY`` on every stored change, ``LISTEN``
in every service process, fanned out to its subscribers. So a dashboard on any replica
sees what any replica consumed or any agent did. After the database was away, a
``resync`` update tells dashboards to reload what they missed meanwhile.

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

from services.retry import Dependency

log = logging.getLogger(__name__)
CHANNEL = "churn_team"
#: the LISTEN connection idles for long: TCP keepalives notice a database that vanished without a word
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


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

    async def listen(self, url: str, ready: asyncio.Event, database: Dependency) -> None:
        """Forward this database's notifications until cancelled; reconnects (through
        ``database``, which logs the outage once) whenever the connection is lost."""
        lost = False
        while True:
            try:
                conn = await database.call(psycopg.AsyncConnection.connect, url, autocommit=True, connect_timeout=5,
                                           **KEEPALIVES)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    ready.set()
                    if lost:
                        self.publish({"kind": "resync", "id": ""})
                    async for note in conn.notifies():
                        self.publish(json.loads(note.payload))
            except database.errors as exc:
                lost = True
                database.mark_down(exc)
                await asyncio.sleep(database.first_delay_s)  # reconnect back-off (then the dependency's own)
            except psycopg.Error as exc:
                lost = True
                log.warning("live updates: %s; reconnecting", exc)
                await asyncio.sleep(1.0)  # reconnect back-off
