"""Right to erasure in the team's data: the customer's id leaves the inbox, offers,
score history, customer table and audit trail; the audit trail keeps each action with the
customer's pseudonym, and the erasure itself is recorded. Notifications hold no copy of
an alert (they are rendered from the inbox when sent), so nothing stays there either."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.events import ErasureRequest
from team.hub import notify
from team.tables import Action, Alert, Customer, Offer, ScoreHistory


async def erase(session: AsyncSession, ev: ErasureRequest, *, ref: str) -> dict[str, int]:
    """Remove the customer's identity; returns the rows touched per table."""
    cid = ev.customer_id
    counts = {
        "alerts": (await session.execute(update(Alert).where(Alert.customer_id == cid).values(customer_id=None))).rowcount,
        "offers": (await session.execute(update(Offer).where(Offer.customer_id == cid).values(customer_id=None))).rowcount,
        "score_history": (await session.execute(delete(ScoreHistory).where(ScoreHistory.customer_id == cid))).rowcount,
        "customers": (await session.execute(delete(Customer).where(Customer.customer_id == cid))).rowcount,
        "actions": (await session.execute(update(Action).where(Action.customer_id == cid)
                                          .values(customer_id=None, customer_ref=ref))).rowcount,
    }
    session.add(Action(at=datetime.now(UTC), actor=ev.requested_by or "erasure-requests", role="system",
                       action="erase", customer_ref=ref, detail={"request_event_id": ev.event_id, "rows": counts}))
    await notify(session, "erasure", ref)
    return counts
