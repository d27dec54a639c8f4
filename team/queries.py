"""Reading the inbox: filtered, sorted, cursor-paged alerts and one alert with its trail.

A cursor is the last row's sort key and id, so pages stay stable while new alerts arrive.

>>> decode_cursor(encode_cursor("risk", 0.8125, "al-1"), "risk")
(0.8125, 'al-1')
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fastapi import HTTPException
from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from team.tables import Action, Alert, Offer

Sort = Literal["newest", "risk"]


def encode_cursor(sort: Sort, key: float | str, alert_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort, key, alert_id]).encode()).decode()


def decode_cursor(cursor: str, sort: Sort) -> tuple[float | str, str]:
    try:
        got_sort, key, alert_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if got_sort != sort or not isinstance(alert_id, str) or not isinstance(key, (str, int, float)):
            raise ValueError
    except (ValueError, TypeError):
        raise HTTPException(400, "cursor is not one this API returned for this sort order") from None
    return key, alert_id


@dataclass(frozen=True)
class AlertFilter:
    tier: str | None = None
    driver: str | None = None
    value_segment: str | None = None
    owner: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(f: AlertFilter) -> Select:
    q = select(Alert)
    for col, value in ((Alert.tier, f.tier), (Alert.driver, f.driver), (Alert.value_segment, f.value_segment),
                       (Alert.owner, f.owner), (Alert.status, f.status)):
        if value is not None:
            q = q.where(col == value)
    if f.since is not None:
        q = q.where(Alert.created_at >= f.since)
    if f.until is not None:
        q = q.where(Alert.created_at < f.until)
    return q


async def page(session: AsyncSession, f: AlertFilter, sort: Sort, limit: int, cursor: str | None) -> tuple[list[Alert], str | None]:
    """One page of alerts and the cursor of the next (``None`` on the last)."""
    key_col = Alert.created_at if sort == "newest" else Alert.score
    q = _filtered(f)
    if cursor:
        key, alert_id = decode_cursor(cursor, sort)
        if sort == "newest":
            try:
                key = datetime.fromisoformat(str(key))
            except ValueError:
                raise HTTPException(400, "cursor is not one this API returned for this sort order") from None
        q = q.where(tuple_(key_col, Alert.alert_id) < tuple_(key, alert_id))
    rows = (await session.execute(q.order_by(key_col.desc(), Alert.alert_id.desc()).limit(limit + 1))).scalars().all()
    more, rows = len(rows) > limit, list(rows[:limit])
    nxt = None
    if more:
        last = rows[-1]
        nxt = encode_cursor(sort, last.created_at.isoformat() if sort == "newest" else last.score, last.alert_id)
    return rows, nxt


async def trails(session: AsyncSession, alert_ids: list[str]) -> tuple[dict[str, list[Action]], dict[str, list[Offer]]]:
    """Actions (oldest first) and offers of these alerts."""
    actions: dict[str, list[Action]] = {a: [] for a in alert_ids}
    offers: dict[str, list[Offer]] = {a: [] for a in alert_ids}
    if alert_ids:
        for row in (await session.execute(select(Action).where(Action.alert_id.in_(alert_ids))
                                          .order_by(Action.at, Action.id))).scalars():
            actions[row.alert_id].append(row)  # type: ignore[index]
        for row in (await session.execute(select(Offer).where(Offer.alert_id.in_(alert_ids))
                                          .order_by(Offer.created_at))).scalars():
            offers[row.alert_id].append(row)
    return actions, offers


async def one(session: AsyncSession, alert_id: str) -> tuple[Alert, list[Action], list[Offer]]:
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    actions, offers = await trails(session, [alert_id])
    return alert, actions[alert_id], offers[alert_id]
