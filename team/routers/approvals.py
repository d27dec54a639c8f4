"""Approving or rejecting a pending offer (agents only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from team import offers
from team.auth import Principal, require
from team.deps import runtime, session
from team.runtime import TeamRuntime
from team.tables import Offer
from team.views import OfferOut, offer_out

agent = require("agent")
router = APIRouter(prefix="/api/offers/{offer_id}", tags=["approvals"], dependencies=[Depends(agent)])


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


async def _decide(offer_id: str, approve: bool, body: Decision | None, who: Principal, rt: TeamRuntime,
                  db: AsyncSession) -> OfferOut:
    await offers.decide(rt, who, offer_id, approve, body.note if body else None)
    row = await db.get(Offer, offer_id)
    return offer_out(who, row)  # type: ignore[arg-type]


@router.post("/approve", response_model=OfferOut, summary="Approve: the offer goes out on retention-offers (once)")
async def approve(offer_id: str, body: Decision | None = None, who: Principal = Depends(agent),
                  rt: TeamRuntime = Depends(runtime), db: AsyncSession = Depends(session)) -> OfferOut:
    return await _decide(offer_id, True, body, who, rt, db)


@router.post("/reject", response_model=OfferOut, summary="Reject: the offer is never sent")
async def reject(offer_id: str, body: Decision | None = None, who: Principal = Depends(agent),
                 rt: TeamRuntime = Depends(runtime), db: AsyncSession = Depends(session)) -> OfferOut:
    return await _decide(offer_id, False, body, who, rt, db)
