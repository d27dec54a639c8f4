"""What an agent does to an alert: acknowledge, assign, snooze, resolve. Each one locks
the alert, changes it and writes the audit row in one transaction.

A snooze goes through the stream like ``churn-alert snooze``: a profile update with
``snooze_until`` on ``customer-profiles``, so the workers honour it and keep it with the
customer's state. A resolved alert takes no further action.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.codec import encode
from schemas.events import ProfileUpdate
from team.auth import Principal
from team.hub import notify
from team.tables import Action, Alert


async def locked_alert(session: AsyncSession, alert_id: str) -> Alert:
    alert = (await session.execute(select(Alert).where(Alert.alert_id == alert_id).with_for_update())).scalar()
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    if alert.status == "resolved":
        raise HTTPException(409, f"alert {alert_id} is resolved; it takes no further action")
    return alert


def record(session: AsyncSession, who: Principal, action: str, alert: Alert, detail: dict[str, Any],
           offer_id: str | None = None) -> None:
    now = datetime.now(UTC)
    session.add(Action(at=now, actor=who.name, role=who.role, action=action, alert_id=alert.alert_id, offer_id=offer_id,
                       customer_id=alert.customer_id, customer_ref=alert.customer_ref, detail=detail))
    alert.updated_at = now


async def act(rt: Any, who: Principal, alert_id: str, action: str, *, owner: str | None = None,
              until: datetime | None = None, note: str | None = None) -> None:
    """Apply one action and record it; raises 404 / 409 / 422 as HTTP errors."""
    async with rt.sessions() as session, session.begin():
        alert = await locked_alert(session, alert_id)
        detail: dict[str, Any] = {}
        if action == "acknowledge":
            alert.status = "acknowledged"
        elif action == "assign":
            alert.owner, detail = owner, {"owner": owner}
        elif action == "snooze":
            await _snooze(rt, alert, until)  # type: ignore[arg-type]
            alert.status, alert.snoozed_until, detail = "snoozed", until, {"until": until.isoformat()}  # type: ignore[union-attr]
        elif action == "resolve":
            alert.status, alert.resolution, detail = "resolved", note, {"note": note}
        else:
            raise AssertionError(action)
        if note and action != "resolve":
            detail["note"] = note
        record(session, who, action, alert, detail)
        await notify(session, "alert", alert_id)
    rt.metrics.actions.labels(action=action).inc()


async def _snooze(rt: Any, alert: Alert, until: datetime) -> None:
    if alert.customer_id is None:
        raise HTTPException(409, "the customer was erased; there is no one to snooze")
    if until <= datetime.now(UTC):
        raise HTTPException(422, "snooze 'until' must be in the future")
    now = datetime.now(UTC)
    ev = ProfileUpdate(event_type="profile", event_id=f"snooze-{alert.customer_id}-{until.timestamp():.0f}",
                       customer_id=alert.customer_id, occurred_at=now, snooze_until=until)
    await rt.producer.send_and_wait(rt.topic("profiles"), encode(ev), key=alert.customer_id.encode())
