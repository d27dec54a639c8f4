"""Approving or rejecting an offer that waits for an agent (``pending_approval``).

The offer row is locked, taken off the workers' approval list in Redis (atomically, see
:meth:`alerts.ledger.OfferLedger.approve`) and marked approved or rejected with its audit
row in one transaction. An approved offer is then published on ``retention-offers`` with
the same ``offer_id`` and status ``send``; until that publish is confirmed
(``emitted_at``), :func:`resend_loop` retries it, so a broker outage delays it but never
loses it. A rejected offer is never published.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select

from alerts.offers import build_offer
from schemas.codec import encode
from schemas.events import RetentionOffer
from team.actions import record
from team.auth import Principal
from team.hub import notify
from team.tables import Action, Alert, Offer

log = logging.getLogger(__name__)
RESEND_S = 5.0
RESEND_AFTER_S = 30.0


def approved_message(row: Offer, plan: Any | None) -> RetentionOffer:
    """The ``send`` copy of an approved offer: from the workers' plan, else from our row."""
    now = datetime.now(UTC)
    if plan is not None:
        return build_offer(plan, created_at=now)
    return RetentionOffer(offer_id=row.offer_id, alert_id=row.alert_id, customer_id=row.customer_id or "",
                          offer_type=row.offer_type, channel=row.channel, value=row.value, expires_at=row.expires_at,
                          control_group=row.control_group, reason=row.reason, kind=row.kind, status="send",  # type: ignore[arg-type]
                          value_segment=row.value_segment, driver=row.driver, occurred_at=row.occurred_at,  # type: ignore[arg-type]
                          created_at=now)


async def decide(rt: Any, who: Principal, offer_id: str, approve: bool, note: str | None) -> None:
    action = "approve" if approve else "reject"
    async with rt.sessions() as session, session.begin():
        row = (await session.execute(select(Offer).where(Offer.offer_id == offer_id).with_for_update())).scalar()
        if row is None:
            raise HTTPException(404, f"no offer {offer_id!r}")
        if row.status != "pending_approval":
            raise HTTPException(409, f"offer {offer_id} is {row.status.replace('_', ' ')}, not pending approval")
        if row.customer_id is None:
            raise HTTPException(409, "the customer was erased; the offer cannot be sent")
        plan = await rt.ledger.approve(offer_id) if approve else None
        if not approve:
            await rt.ledger.reject(offer_id)
        message = approved_message(row, plan) if approve else None
        row.status, row.decided_by, row.decided_at = ("approved" if approve else "rejected"), who.name, datetime.now(UTC)
        alert = (await session.execute(select(Alert).where(Alert.alert_id == row.alert_id))).scalar()
        detail = {"offer_type": row.offer_type, "value": row.value, **({"note": note} if note else {})}
        if alert is not None:
            record(session, who, action, alert, detail, offer_id=offer_id)
        else:  # a win-back offer answers no risk alert
            session.add(Action(at=row.decided_at, actor=who.name, role=who.role, action=action, alert_id=row.alert_id,
                               offer_id=offer_id, customer_id=row.customer_id, customer_ref=row.customer_ref, detail=detail))
        await notify(session, "offer", row.alert_id)
    rt.metrics.actions.labels(action=action).inc()
    if message is not None:
        await emit(rt, message)


async def emit(rt: Any, message: RetentionOffer) -> bool:
    """Publish an approved offer and note it; False (to be retried) when the broker fails."""
    try:
        await rt.producer.send_and_wait(rt.topic("offers"), encode(message), key=message.customer_id.encode())
    except Exception as exc:  # noqa: BLE001 - the resend loop retries
        log.warning("approved offer %s not published yet: %s", message.offer_id, exc)
        return False
    async with rt.sessions() as session, session.begin():
        row = (await session.execute(select(Offer).where(Offer.offer_id == message.offer_id).with_for_update())).scalar()
        if row is not None:
            row.emitted_at = datetime.now(UTC)
    return True


async def resend_loop(rt: Any) -> None:
    """Publish approved offers whose publish was never confirmed (crash, broker outage).

    Only decisions older than :data:`RESEND_AFTER_S`, so an approval still publishing is
    left alone; rows are locked (``SKIP LOCKED``), so two service processes never both resend.
    A round waits while the database is away (``rt.database``).
    """
    while True:
        await rt.database.call(resend_round, rt)
        await asyncio.sleep(RESEND_S)  # resend poll period


async def resend_round(rt: Any) -> None:
    async with rt.sessions() as session, session.begin():
        stale = (await session.execute(select(Offer).where(
            Offer.status == "approved", Offer.emitted_at.is_(None), Offer.customer_id.is_not(None),
            Offer.decided_at < datetime.now(UTC) - timedelta(seconds=RESEND_AFTER_S))
            .limit(50).with_for_update(skip_locked=True))).scalars().all()
        for row in stale:
            try:
                msg = approved_message(row, None)
                await rt.producer.send_and_wait(rt.topic("offers"), encode(msg), key=msg.customer_id.encode())
                row.emitted_at = datetime.now(UTC)
            except Exception as exc:  # noqa: BLE001 - retried next round
                log.warning("approved offer %s still not published: %s", row.offer_id, exc)
