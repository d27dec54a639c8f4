"""Reading the inbox (agents and analysts)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from team import queries
from team.auth import Principal, require
from team.deps import session
from team.views import AlertOut, AlertPage, Status, alert_out

reader = require("agent", "analyst")
router = APIRouter(prefix="/api/alerts", tags=["alerts"], dependencies=[Depends(reader)])


@router.get("", response_model=AlertPage, summary="Alerts, filtered, newest or riskiest first, cursor-paged")
async def list_alerts(tier: Literal["watch", "high", "critical"] | None = None,
                      driver: Literal["service", "price_value", "product_fit", "disengagement"] | None = None,
                      value_segment: Literal["high", "mid", "low"] | None = None,
                      owner: str | None = Query(default=None, max_length=200), status: Status | None = None,
                      since: datetime | None = Query(default=None, description="Created at or after (RFC 3339)."),
                      until: datetime | None = Query(default=None, description="Created before (RFC 3339)."),
                      sort: queries.Sort = "newest", limit: int = Query(default=50, ge=1, le=500),
                      cursor: str | None = Query(default=None, max_length=1000),
                      who: Principal = Depends(reader), db: AsyncSession = Depends(session)) -> AlertPage:
    f = queries.AlertFilter(tier=tier, driver=driver, value_segment=value_segment, owner=owner, status=status,
                            since=since, until=until)
    rows, nxt = await queries.page(db, f, sort, limit, cursor)
    actions, offers = await queries.trails(db, [a.alert_id for a in rows])
    return AlertPage(items=[alert_out(who, a, actions[a.alert_id], offers[a.alert_id]) for a in rows], next_cursor=nxt)


@router.get("/{alert_id}", response_model=AlertOut, summary="One alert with its actions and offers")
async def get_alert(alert_id: str, who: Principal = Depends(reader), db: AsyncSession = Depends(session)) -> AlertOut:
    alert, actions, offers = await queries.one(db, alert_id)
    return alert_out(who, alert, actions, offers)
