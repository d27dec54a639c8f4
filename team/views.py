"""What the API returns, as pydantic models, and who sees what.

An agent sees customer ids; an analyst sees the stable pseudonym in the same field and
no free-text notes (agents may write names in them). An erased customer shows as
their pseudonym to everyone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from team.auth import Principal
from team.tables import Action, Alert, Offer

Status = Literal["open", "acknowledged", "snoozed", "resolved"]


class ReasonOut(BaseModel):
    feature: str
    value: float
    contribution: float
    text: str


class ActionOut(BaseModel):
    at: datetime
    actor: str = Field(description="Name of the token that acted.")
    role: str
    action: str
    offer_id: str | None = None
    detail: dict[str, Any]


class OfferOut(BaseModel):
    offer_id: str
    alert_id: str
    customer_id: str = Field(description="Customer id (agents) or its stable pseudonym (analysts, erased customers).")
    offer_type: str
    channel: str
    value: float
    kind: str
    status: str = Field(description="send, pending_approval, held_out, approved or rejected.")
    control_group: bool
    value_segment: str
    driver: str | None
    reason: str
    occurred_at: datetime
    created_at: datetime
    expires_at: datetime
    outcome: str | None
    revenue: float | None
    decided_by: str | None
    decided_at: datetime | None


class AlertOut(BaseModel):
    alert_id: str
    customer_id: str = Field(description="Customer id (agents) or its stable pseudonym (analysts, erased customers).")
    score: float
    tier: str
    previous_tier: str
    driver: str | None
    value_segment: str
    reasons: list[ReasonOut]
    model_version: str
    trigger: str
    offer_note: str | None
    occurred_at: datetime
    created_at: datetime
    status: Status
    owner: str | None
    snoozed_until: datetime | None
    resolution: str | None
    actions: list[ActionOut] = Field(default_factory=list, description="Every action on the alert, oldest first.")
    offers: list[OfferOut] = Field(default_factory=list)


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class HistoryPoint(BaseModel):
    at: datetime
    score: float
    tier: str
    model_version: str
    source: Literal["alert", "score"]


class CustomerOut(BaseModel):
    customer_id: str
    owner: str | None
    segment: str | None
    current: HistoryPoint | None = Field(description="The latest score the workers reported (or the last alert's).")
    features: dict[str, float] = Field(description="Feature values behind the latest alert's reasons.")
    reasons: list[ReasonOut]
    score_history: list[HistoryPoint]
    alerts: list[AlertOut]
    offers: list[OfferOut]


def who_is(who: Principal, customer_id: str | None, ref: str) -> str:
    return customer_id if (who.role == "agent" and customer_id is not None) else ref


def _text_allowed(who: Principal) -> bool:
    return who.role == "agent"


def action_out(who: Principal, a: Action) -> ActionOut:
    detail = a.detail if _text_allowed(who) else {k: v for k, v in a.detail.items() if k != "note"}
    return ActionOut(at=a.at, actor=a.actor, role=a.role, action=a.action, offer_id=a.offer_id, detail=detail)


def offer_out(who: Principal, o: Offer) -> OfferOut:
    return OfferOut(offer_id=o.offer_id, alert_id=o.alert_id, customer_id=who_is(who, o.customer_id, o.customer_ref),
                    offer_type=o.offer_type, channel=o.channel, value=o.value, kind=o.kind, status=o.status,
                    control_group=o.control_group, value_segment=o.value_segment, driver=o.driver, reason=o.reason,
                    occurred_at=o.occurred_at, created_at=o.created_at, expires_at=o.expires_at, outcome=o.outcome,
                    revenue=o.revenue, decided_by=o.decided_by, decided_at=o.decided_at)


def alert_out(who: Principal, a: Alert, actions: list[Action] = (), offers: list[Offer] = ()) -> AlertOut:  # type: ignore[assignment]
    return AlertOut(alert_id=a.alert_id, customer_id=who_is(who, a.customer_id, a.customer_ref), score=a.score, tier=a.tier,
                    previous_tier=a.previous_tier, driver=a.driver, value_segment=a.value_segment,
                    reasons=[ReasonOut(**r) for r in a.reasons], model_version=a.model_version, trigger=a.trigger,
                    offer_note=a.offer_note, occurred_at=a.occurred_at, created_at=a.created_at, status=a.status,  # type: ignore[arg-type]
                    owner=a.owner, snoozed_until=a.snoozed_until,
                    resolution=a.resolution if _text_allowed(who) else None,
                    actions=[action_out(who, x) for x in actions], offers=[offer_out(who, o) for o in offers])
