"""Events on every topic of the contract (``docs/CONTRACT.md``), as frozen pydantic v2 models.

Inputs are one union discriminated on ``event_type``. Every model rejects unknown
fields and accepts only timezone-aware times.

>>> ev = OrderEvent(event_type="order", event_id="e1", customer_id="c1", occurred_at="2024-05-01T10:00:00+02:00",
...                 order_id="o1", status="placed", amount=25.0, currency="EUR", items=2, channel="web")
>>> ev.event_type, ev.occurred_at.utcoffset().total_seconds()
('order', 7200.0)
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

MIN_YEAR, MAX_YEAR = 1990, 2100

Tier = Literal["none", "watch", "high", "critical"]
TIERS: tuple[str, ...] = ("none", "watch", "high", "critical")
ValueSegment = Literal["high", "mid", "low"]
Driver = Literal["service", "price_value", "product_fit", "disengagement"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class _Envelope(_Frozen):
    """Fields common to every keyed event."""

    event_id: str = Field(min_length=1, max_length=200, description="Unique id; a repeated id is ignored.", examples=["ord-8f2c-0001"])
    customer_id: str = Field(min_length=1, max_length=200, description="Customer key; also the Kafka message key.", examples=["cust-000042"])
    occurred_at: AwareDatetime = Field(description="Event time, RFC 3339 with offset. All time logic runs on it.", examples=["2024-05-01T10:00:00+00:00"])
    schema_version: Literal[1] = Field(default=1, description="Version of this contract.", examples=[1])

    @field_validator("occurred_at")
    @classmethod
    def _plausible_year(cls, v: datetime) -> datetime:
        if not MIN_YEAR <= v.year <= MAX_YEAR:
            raise ValueError(f"occurred_at year {v.year} is outside {MIN_YEAR}..{MAX_YEAR}")
        return v


# ---------------------------------------------------------------- inputs
class OrderEvent(_Envelope):
    """An order placed, cancelled, refunded or returned."""

    event_type: Literal["order"] = Field(description="Discriminator.", examples=["order"])
    order_id: str = Field(min_length=1, max_length=200, description="Order id.", examples=["o-1001"])
    status: Literal["placed", "cancelled", "refunded", "returned"] = Field(description="What happened to the order.", examples=["placed"])
    amount: float = Field(ge=0, description="Order value in `currency` (after discount).", examples=[49.9])
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.", examples=["EUR"])
    items: int = Field(ge=0, description="Number of items.", examples=[2])
    discount_amount: float = Field(default=0.0, ge=0, description="Discount granted on this order.", examples=[5.0])
    channel: Literal["web", "app", "store", "other"] = Field(description="Where the order was placed.", examples=["web"])


class SupportEvent(_Envelope):
    """A support ticket opened, escalated, resolved, reopened or commented."""

    event_type: Literal["support"] = Field(description="Discriminator.", examples=["support"])
    ticket_id: str = Field(min_length=1, max_length=200, description="Ticket id.", examples=["t-77"])
    action: Literal["opened", "escalated", "resolved", "reopened", "comment"] = Field(description="What happened to the ticket.", examples=["opened"])
    category: Literal["billing", "delivery", "product", "account", "app", "other"] = Field(description="Topic of the ticket.", examples=["delivery"])
    priority: Literal["low", "normal", "high", "urgent"] = Field(description="Ticket priority.", examples=["normal"])
    is_complaint: bool = Field(description="True when the customer complains.", examples=[True])
    csat: int | None = Field(default=None, ge=1, le=5, description="Satisfaction score 1-5, when given.", examples=[2])
    sentiment: float | None = Field(default=None, ge=-1, le=1, description="Sentiment of the message, -1..1.", examples=[-0.4])


class AppActivityEvent(_Envelope):
    """Something the customer did in the app."""

    event_type: Literal["app_activity"] = Field(description="Discriminator.", examples=["app_activity"])
    activity: Literal["login", "session", "feature_used", "push_opened", "notifications_disabled", "uninstall", "account_closed"] = Field(
        description="What the customer did; `account_closed` is an explicit churn.", examples=["session"])
    duration_s: float | None = Field(default=None, ge=0, description="Session length in seconds.", examples=[312.0])
    feature: str | None = Field(default=None, max_length=200, description="Feature used, for `feature_used`.", examples=["wishlist"])
    platform: Literal["ios", "android", "web", "other"] = Field(description="Platform.", examples=["ios"])


InputEvent = Annotated[OrderEvent | SupportEvent | AppActivityEvent, Field(discriminator="event_type")]
INPUT_TYPES: frozenset[str] = frozenset({"order", "support", "app_activity"})


# ---------------------------------------------------------------- side inputs
class ProfileUpdate(_Envelope):
    """Profile or consent change; a field left out (null) keeps its value."""

    event_type: Literal["profile"] = Field(description="Discriminator.", examples=["profile"])
    segment: str | None = Field(default=None, max_length=100, description="Business segment (free text).", examples=["smb"])
    signup_date: date | None = Field(default=None, description="Date the customer signed up.", examples=["2021-03-14"])
    marketing_consent: bool | None = Field(default=None, description="May we send marketing offers?", examples=[True])
    owner: str | None = Field(default=None, max_length=200, description="Account manager, if any.", examples=["anna.k"])
    snooze_until: AwareDatetime | None = Field(
        default=None, description="A retention agent's snooze: no risk alert for this customer before this event time "
                                  "(the episode is still tracked; only a later escalation alerts after it).",
        examples=["2024-06-01T00:00:00+00:00"])


class OfferOutcome(_Envelope):
    """What happened to a retention offer, reported by the service that delivered it."""

    event_type: Literal["offer_outcome"] = Field(description="Discriminator.", examples=["offer_outcome"])
    offer_id: str = Field(min_length=1, max_length=200, description="The offer's id.", examples=["off-3f9a"])
    outcome: Literal["delivered", "opened", "accepted", "redeemed", "declined", "expired", "failed"] = Field(
        description="Step the offer reached.", examples=["redeemed"])
    revenue: float | None = Field(default=None, ge=0, description="Revenue attributed to a redemption.", examples=[80.0])


class ErasureRequest(_Envelope):
    """Right-to-erasure: forget everything about this customer."""

    event_type: Literal["erasure_request"] = Field(description="Discriminator.", examples=["erasure_request"])
    requested_by: str | None = Field(default=None, max_length=200, description="Who asked (ticket, system).", examples=["dpo-ticket-118"])


AnyEvent = Annotated[
    OrderEvent | SupportEvent | AppActivityEvent | ProfileUpdate | OfferOutcome | ErasureRequest,
    Field(discriminator="event_type"),
]
Event = OrderEvent | SupportEvent | AppActivityEvent | ProfileUpdate | OfferOutcome | ErasureRequest
ACTIVITY_TYPES = INPUT_TYPES  # events that show a customer is still with us (see labelling)


# ---------------------------------------------------------------- outputs
class Reason(_Frozen):
    """One driver of a score, most important first."""

    feature: str = Field(description="Feature name from the catalogue.", examples=["order_overdue_ratio"])
    value: float = Field(description="The feature's value for this customer.", examples=[3.1])
    contribution: float = Field(description="Share of the score it explains (signed).", examples=[0.21])
    text: str = Field(description="A sentence a retention agent understands.", examples=["No order for 47 days, 3.1x longer than usual for this customer"])


class RiskAlert(_Frozen):
    """Raised when a customer's risk tier escalates; one per risk episode and tier."""

    alert_id: str = Field(description="Stable for one risk episode and tier: retries and replays never make a second one.", examples=["al-6c1d0e5b2a9f"])
    customer_id: str = Field(description="Customer key.", examples=["cust-000042"])
    score: float = Field(ge=0, le=1, description="Churn probability estimate 0-1.", examples=[0.83])
    tier: Tier = Field(description="Tier now.", examples=["high"])
    previous_tier: Tier = Field(description="Tier before this alert.", examples=["watch"])
    reasons: list[Reason] = Field(description="Top reasons, most important first.", examples=[[{
        "feature": "order_overdue_ratio", "value": 3.1, "contribution": 0.21,
        "text": "No order for 47 days, 3.1x longer than usual for this customer"}]])
    value_segment: ValueSegment = Field(description="high / mid / low, from RFM and expected value.", examples=["mid"])
    model_version: str = Field(description="Model version that produced the score.", examples=["rules-1"])
    occurred_at: AwareDatetime = Field(description="Event time of the triggering event or silence checkpoint.", examples=["2024-05-01T10:00:00+00:00"])
    created_at: AwareDatetime = Field(description="Wall-clock time the alert was made.", examples=["2024-05-01T10:00:01+00:00"])
    driver: Driver | None = Field(default=None, description="Primary driver derived from the reasons.", examples=["service"])
    trigger: Literal["event", "silence"] = Field(default="event", description="Scored on an arriving event or by the silence sweep.", examples=["silence"])
    offer_note: str | None = Field(default=None, description="What happened to the offer (sent, skipped and why).",
                                   examples=["offer skipped: no marketing consent"])


class RetentionOffer(_Frozen):
    """An action for downstream services; `control_group` offers are never sent."""

    offer_id: str = Field(description="Stable per alert.", examples=["off-3f9a1c"])
    alert_id: str = Field(description="Alert this offer answers.", examples=["al-6c1d0e5b2a9f"])
    customer_id: str = Field(description="Customer key.", examples=["cust-000042"])
    offer_type: str = Field(description="Offer type from the policy file.", examples=["service_credit"])
    channel: str = Field(description="Delivery channel.", examples=["email"])
    value: float = Field(ge=0, description="Monetary value (0 for non-monetary offers).", examples=[10.0])
    expires_at: AwareDatetime = Field(description="Offer expiry.", examples=["2024-05-15T10:00:00+00:00"])
    control_group: bool = Field(description="Held out: nothing is sent, kept to measure uplift.", examples=[False])
    reason: str = Field(description="Why this offer, in one sentence.", examples=["Two complaints about delivery in 30 days"])
    kind: Literal["retention", "win_back"] = Field(default="retention", description="Retention (at risk) or win-back (churned).", examples=["retention"])
    status: Literal["send", "pending_approval", "held_out"] = Field(
        default="send", description="send; pending_approval waits for an agent; held_out for the control group.", examples=["send"])
    value_segment: ValueSegment = Field(default="mid", description="Customer's value segment.", examples=["high"])
    driver: Driver | None = Field(default=None, description="Driver the offer addresses.", examples=["service"])
    occurred_at: AwareDatetime = Field(description="Event time of the alert.", examples=["2024-05-01T10:00:00+00:00"])
    created_at: AwareDatetime = Field(description="Wall-clock time made.", examples=["2024-05-01T10:00:01+00:00"])


class ErasureConfirmation(_Frozen):
    """Emitted on the erasure topic's reply side once a customer is forgotten."""

    customer_id: str = Field(description="Customer key.", examples=["cust-000042"])
    request_event_id: str = Field(description="event_id of the request.", examples=["er-1"])
    erased_at: AwareDatetime = Field(description="Wall-clock time of erasure.", examples=["2024-05-01T10:00:01+00:00"])
    removed: list[str] = Field(description="What was removed (table and key kinds).", examples=[["state", "redis:score"]])


def is_finite(x: float) -> bool:
    """True for a finite float (guards hand-made dicts that bypass validation).

    >>> is_finite(1.0), is_finite(float("nan"))
    (True, False)
    """
    return math.isfinite(x)
