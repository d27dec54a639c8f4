"""Tier changes between alerts: alerts mark every escalation, and the workers keep each
customer's latest score in Redis (``<prefix>:cust:<id>:score``). For the customers of the
inbox's open alerts this loop reads those scores and adds a history row whenever the
tier differs from the last one recorded, so the history also shows de-escalations.
Its cost grows with the open alerts, not with all customers.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from team.tables import Alert, ScoreHistory

WATCH_S = 5.0
MAX_CUSTOMERS = 5000


async def record_changes(rt: Any) -> int:
    """One round; returns the history rows added."""
    async with rt.sessions() as session, session.begin():
        customers = (await session.execute(select(Alert.customer_id).where(
            Alert.status != "resolved", Alert.customer_id.is_not(None)).distinct().limit(MAX_CUSTOMERS))).scalars().all()
        if not customers:
            return 0
        last = {cid: (tier, at) for cid, tier, at in (await session.execute(
            select(ScoreHistory.customer_id, ScoreHistory.tier, ScoreHistory.at).where(ScoreHistory.customer_id.in_(customers))
            .distinct(ScoreHistory.customer_id).order_by(ScoreHistory.customer_id, ScoreHistory.at.desc(),
                                                         ScoreHistory.id.desc()))).all()}
        async with rt.redis.pipeline(transaction=False) as pipe:
            for cid in customers:
                pipe.hgetall(f"{rt.settings.redis_prefix}:cust:{cid}:score")
            current = await pipe.execute()
        added = 0
        for cid, cur in zip(customers, current):
            cur = {k.decode(): v.decode() for k, v in cur.items()}
            if not cur:
                continue
            at = datetime.fromtimestamp(float(cur["at"]), tz=UTC)
            tier, last_at = last.get(cid, (None, None))
            if cur["tier"] == tier or (last_at is not None and at <= last_at):  # unchanged, or older than what we have
                continue
            session.add(ScoreHistory(customer_id=cid, at=at,
                                     score=float(cur["score"]), tier=cur["tier"], model_version=cur.get("model_version", ""),
                                     source="score"))
            added += 1
        return added


async def watch_scores(rt: Any) -> None:
    while True:
        await rt.database.call(record_changes, rt)  # waits while the database is away
        await asyncio.sleep(WATCH_S)  # poll period of the workers' latest scores
