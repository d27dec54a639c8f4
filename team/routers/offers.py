"""Offers, e.g. those waiting for approval (agents and analysts)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from team.auth import Principal, require
from team.deps import session
from team.tables import Offer
from team.views import OfferOut, offer_out

reader = require("agent", "analyst")
router = APIRouter(prefix="/api/offers", tags=["offers"], dependencies=[Depends(reader)])


@router.get("", response_model=list[OfferOut], summary="Offers, newest first")
async def list_offers(status: Literal["send", "pending_approval", "held_out", "approved", "rejected"] | None = None,
                      limit: int = Query(default=100, ge=1, le=1000), who: Principal = Depends(reader),
                      db: AsyncSession = Depends(session)) -> list[OfferOut]:
    q = select(Offer).order_by(Offer.created_at.desc(), Offer.offer_id).limit(limit)
    if status is not None:
        q = q.where(Offer.status == status)
    return [offer_out(who, o) for o in (await db.execute(q)).scalars()]
