"""One customer: score history, current score, features and reasons, alerts, offers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from team import queries
from team.auth import Principal, require
from team.deps import session
from team.tables import Alert, Customer, Offer, ScoreHistory
from team.views import CustomerOut, HistoryPoint, ReasonOut, alert_out, offer_out, who_is

reader = require("agent", "analyst")
router = APIRouter(prefix="/api/customers", tags=["customers"], dependencies=[Depends(reader)])


@router.get("/{customer}", response_model=CustomerOut,
            summary="A customer by id (agents) or pseudonym (analysts; agents too, for erased customers)")
async def get_customer(customer: str, who: Principal = Depends(reader), db: AsyncSession = Depends(session)) -> CustomerOut:
    match = Alert.customer_ref == customer if who.role == "analyst" else or_(Alert.customer_id == customer,
                                                                              Alert.customer_ref == customer)
    alerts = (await db.execute(select(Alert).where(match).order_by(Alert.created_at.desc()).limit(200))).scalars().all()
    if not alerts:
        raise HTTPException(404, f"no alerts for customer {customer!r}")
    cid, ref = alerts[0].customer_id, alerts[0].customer_ref
    profile = await db.get(Customer, cid) if cid else None
    history = [] if cid is None else (await db.execute(select(ScoreHistory).where(ScoreHistory.customer_id == cid)
                                                        .order_by(ScoreHistory.at, ScoreHistory.id))).scalars().all()
    offers = (await db.execute(select(Offer).where(Offer.customer_ref == ref).order_by(Offer.created_at))).scalars().all()
    actions, by_alert = await queries.trails(db, [a.alert_id for a in alerts])
    points = [HistoryPoint(at=h.at, score=h.score, tier=h.tier, model_version=h.model_version, source=h.source)  # type: ignore[arg-type]
              for h in history]
    latest = alerts[0]
    return CustomerOut(customer_id=who_is(who, cid, ref), owner=profile.owner if profile else None,
                       segment=profile.segment if profile else None, current=points[-1] if points else None,
                       features={r["feature"]: r["value"] for r in latest.reasons},
                       reasons=[ReasonOut(**r) for r in latest.reasons], score_history=points,
                       alerts=[alert_out(who, a, actions[a.alert_id], by_alert[a.alert_id]) for a in alerts],
                       offers=[offer_out(who, o) for o in offers])
