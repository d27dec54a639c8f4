"""Today at a glance: alerts by tier and driver, offers sent and pending, control share, uplift."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.report import report
from team.auth import require
from team.deps import runtime, session
from team.runtime import TeamRuntime
from team.tables import Alert, Offer

reader = require("agent", "analyst")
router = APIRouter(prefix="/api/overview", tags=["overview"], dependencies=[Depends(reader)])


class Uplift(BaseModel):
    uplift: float | None = Field(description="Retention of treated minus control, among resolved customers (all time).")
    ci_low: float | None
    ci_high: float | None
    resolved_treated: int
    resolved_control: int


class Overview(BaseModel):
    day: str = Field(description="UTC day the counts are for.")
    alerts: int
    by_tier: dict[str, int]
    by_driver: dict[str, int]
    open_alerts: int = Field(description="Open alerts, any day.")
    offers_sent: int = Field(description="Sent today, approved ones included.")
    offers_pending: int = Field(description="Waiting for approval now.")
    offers_held_out: int
    control_share: float | None = Field(description="Held out / (sent + held out) today.")
    uplift: Uplift


@router.get("", response_model=Overview, summary="Today's overview")
async def overview(rt: TeamRuntime = Depends(runtime), db: AsyncSession = Depends(session)) -> Overview:
    now = datetime.now(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = Alert.created_at >= start
    by_tier = dict((await db.execute(select(Alert.tier, func.count()).where(today).group_by(Alert.tier))).all())
    by_driver = {d or "none": n for d, n in (await db.execute(select(Alert.driver, func.count()).where(today)
                                                               .group_by(Alert.driver))).all()}
    open_alerts = (await db.execute(select(func.count()).select_from(Alert).where(Alert.status == "open"))).scalar_one()
    offer_counts = dict((await db.execute(select(Offer.status, func.count()).where(Offer.created_at >= start)
                                          .group_by(Offer.status))).all())
    pending = (await db.execute(select(func.count()).select_from(Offer).where(Offer.status == "pending_approval"))).scalar_one()
    sent, held = offer_counts.get("send", 0) + offer_counts.get("approved", 0), offer_counts.get("held_out", 0)
    total = (await report(rt.experiment)).overall
    return Overview(day=start.date().isoformat(), alerts=sum(by_tier.values()), by_tier=by_tier, by_driver=by_driver,
                    open_alerts=open_alerts, offers_sent=sent, offers_pending=pending, offers_held_out=held,
                    control_share=held / (sent + held) if sent + held else None,
                    uplift=Uplift(uplift=total.uplift, ci_low=total.ci_low, ci_high=total.ci_high,
                                  resolved_treated=total.resolved[0], resolved_control=total.resolved[1]))
