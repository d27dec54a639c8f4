"""Acting on an alert (agents only); every action is recorded with its author."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from team import actions, queries
from team.auth import Principal, require
from team.deps import runtime, session
from team.runtime import TeamRuntime
from team.views import AlertOut, alert_out

agent = require("agent")
router = APIRouter(prefix="/api/alerts/{alert_id}", tags=["actions"], dependencies=[Depends(agent)])


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000, description="Optional comment kept in the audit trail.")


class Assign(Note):
    owner: str = Field(min_length=1, max_length=200, description="Who owns the alert from now on.")


class Snooze(Note):
    until: AwareDatetime = Field(description="No risk alert for this customer before this time (RFC 3339 with offset).")


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000, description="The outcome: what was done and how it ended.")


async def _done(db: AsyncSession, who: Principal, alert_id: str) -> AlertOut:
    alert, trail, offers = await queries.one(db, alert_id)
    return alert_out(who, alert, trail, offers)


@router.post("/acknowledge", response_model=AlertOut, summary="Acknowledge: someone is on it")
async def acknowledge(alert_id: str, body: Note | None = None, who: Principal = Depends(agent),
                      rt: TeamRuntime = Depends(runtime), db: AsyncSession = Depends(session)) -> AlertOut:
    await actions.act(rt, who, alert_id, "acknowledge", note=body.note if body else None)
    return await _done(db, who, alert_id)


@router.post("/assign", response_model=AlertOut, summary="Assign to an owner")
async def assign(alert_id: str, body: Assign, who: Principal = Depends(agent), rt: TeamRuntime = Depends(runtime),
                 db: AsyncSession = Depends(session)) -> AlertOut:
    await actions.act(rt, who, alert_id, "assign", owner=body.owner, note=body.note)
    return await _done(db, who, alert_id)


@router.post("/snooze", response_model=AlertOut, summary="Snooze the customer's alerts until a time (the workers honour it)")
async def snooze(alert_id: str, body: Snooze, who: Principal = Depends(agent), rt: TeamRuntime = Depends(runtime),
                 db: AsyncSession = Depends(session)) -> AlertOut:
    until: datetime = body.until
    await actions.act(rt, who, alert_id, "snooze", until=until, note=body.note)
    return await _done(db, who, alert_id)


@router.post("/resolve", response_model=AlertOut, summary="Resolve with an outcome note")
async def resolve(alert_id: str, body: Resolve, who: Principal = Depends(agent), rt: TeamRuntime = Depends(runtime),
                  db: AsyncSession = Depends(session)) -> AlertOut:
    await actions.act(rt, who, alert_id, "resolve", note=body.note)
    return await _done(db, who, alert_id)
