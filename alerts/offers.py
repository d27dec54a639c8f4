"""Retention and win-back offers: the policy file and the pure choice of an offer.

Rules map driver × value segment to an offer; ``"*"`` matches any. The customer's
own channel (``web``/``app``/``store``/``other``, where they order) maps to delivery
channels through the file's ``channels`` section; the first one the rule allows wins,
else the rule's first channel. No offer without marketing consent. A deterministic
hash of the customer id puts ``control_share`` of customers in the control group.

>>> from datetime import datetime, timezone
>>> plan = choose_offer(OfferPolicy.load(), driver="service", alert_id="al-1", value_segment="mid",
...                     preferred_channel="app", marketing_consent=True, customer_id="c-7",
...                     now=datetime(2024, 5, 1, tzinfo=timezone.utc), control_share=0.0)
>>> plan.offer_type, plan.channel, plan.value, plan.status
('apology_service_credit', 'push', 10.0, 'send')
>>> choose_offer(OfferPolicy.load(), driver="service", alert_id="al-1", value_segment="mid", preferred_channel="app",
...              marketing_consent=False, customer_id="c-7", now=datetime(2024, 5, 1, tzinfo=timezone.utc))
Skip(reason='offer skipped: no marketing consent')
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from alerts.policy import stable_id
from schemas.errors import ConfigError
from schemas.events import Driver, RetentionOffer, ValueSegment

if TYPE_CHECKING:
    from alerts.policy import AlertDecision

Kind = Literal["retention", "win_back"]
DeliveryChannel = Literal["email", "push", "sms", "in_app", "phone"]


@pydantic_dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class Caps:
    """Limits the ledger enforces atomically in Redis (``caps`` section of the policy).

    >>> Caps(daily_per_type_overrides={"account_manager_call": 40}).type_cap("account_manager_call"), Caps().type_cap("x")
    (40, 500)
    """

    contacts_per_customer: int = Field(default=2, ge=0)
    contact_window_days: int = Field(default=30, ge=1)
    daily_per_type: int = Field(default=500, ge=0)
    daily_per_type_overrides: dict[str, int] = field(default_factory=dict)
    daily_spend: float = Field(default=5000.0, ge=0)

    def type_cap(self, offer_type: str) -> int:
        """Daily cap of one offer type."""
        return self.daily_per_type_overrides.get(offer_type, self.daily_per_type)


class Rule(BaseModel):
    """One offer: what, through which channels, worth how much, for how long."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    offer_type: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    channels: tuple[DeliveryChannel, ...] = Field(min_length=1)
    value: float = Field(default=0.0, ge=0)
    expiry_days: float = Field(default=14.0, gt=0)
    monetary: bool = False
    reason: str = ""


_Rules = dict[Driver | Literal["*"], dict[ValueSegment | Literal["*"], Rule]]


class OfferPolicy(BaseModel):
    """The whole policy file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: Literal[1] = 1
    channels: dict[Literal["web", "app", "store", "other"], tuple[DeliveryChannel, ...]] = Field(default_factory=dict)
    caps: Caps = Caps()
    retention: _Rules
    win_back: _Rules = Field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> OfferPolicy:
        """Read and check a policy file; ``None`` reads the packaged default."""
        where = str(path) if path is not None else "alerts/default_policy.yaml"
        try:
            text = Path(path).read_text() if path is not None else resources.files("alerts").joinpath("default_policy.yaml").read_text()
            return cls.model_validate(yaml.safe_load(text))
        except OSError as exc:
            raise ConfigError(f"offer policy {where}: cannot read: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"offer policy {where}: not valid YAML: {exc}") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(_key_path(err["loc"])) or "(top level)"
            raise ConfigError(f"offer policy {where}: key '{key}': {err['msg']}") from exc

    def rule(self, kind: Kind, driver: Driver, segment: ValueSegment) -> Rule | None:
        """The most specific rule for ``driver`` and ``segment``."""
        table = self.retention if kind == "retention" else self.win_back
        for d, s in ((driver, segment), (driver, "*"), ("*", segment), ("*", "*")):
            if (rule := table.get(d, {}).get(s)) is not None:  # type: ignore[call-overload]
                return rule
        return None


def _key_path(loc: tuple[int | str, ...]) -> list[str]:
    """The file's keys in a pydantic error location, without pydantic's type tags."""
    keys: list[str] = []
    for part in loc:
        if part == "[key]":
            break
        if not (isinstance(part, str) and "[" in part):
            keys.append(str(part))
    return keys


@dataclass(frozen=True, slots=True)
class Skip:
    """No offer, and why (a sentence for the alert's ``offer_note``)."""

    reason: str


@dataclass(frozen=True, slots=True)
class OfferPlan:
    """A chosen offer before caps; ``occurred_at`` is event time in epoch seconds."""

    offer_id: str
    alert_id: str
    customer_id: str
    kind: Kind
    offer_type: str
    channel: str
    value: float
    monetary: bool
    expiry_days: float
    driver: Driver
    value_segment: ValueSegment
    reason: str
    control_group: bool
    status: Literal["send", "pending_approval", "held_out"]
    occurred_at: float

    def to_json(self) -> dict[str, Any]:
        """Plain dict (for Redis); :meth:`from_json` inverts it."""
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> OfferPlan:
        return cls(**obj)


def in_control_group(customer_id: str, share: float) -> bool:
    """Same customer, same arm, on every worker and replay.

    >>> in_control_group("c-1", 0.0), in_control_group("c-1", 1.0)
    (False, True)
    """
    bucket = int.from_bytes(hashlib.blake2b(f"control\x1f{customer_id}".encode(), digest_size=8).digest(), "big")
    return bucket / 2**64 < share


def choose_offer(policy: OfferPolicy, *, decision: AlertDecision | None = None, driver: Driver | None = None,
                 alert_id: str | None = None, value_segment: ValueSegment, preferred_channel: str | None,
                 marketing_consent: bool, customer_id: str, now: datetime, control_share: float = 0.10,
                 approval_above: float = 100.0, kind: Kind = "retention") -> OfferPlan | Skip:
    """The offer for an alert (``decision``) or, for win-back, a ``driver`` and ``alert_id``."""
    if not marketing_consent:
        return Skip("offer skipped: no marketing consent")
    driver = driver or (decision.driver if decision is not None else "disengagement")
    alert_id = alert_id or (decision.alert_id if decision is not None else None)
    if alert_id is None:
        raise ConfigError("choose_offer: give a decision or an alert_id")
    rule = policy.rule(kind, driver, value_segment)
    if rule is None:
        return Skip(f"offer skipped: no {kind} rule for driver {driver} and {value_segment}-value customers")
    preferred = policy.channels.get(preferred_channel, ()) if preferred_channel else ()  # type: ignore[call-overload]
    channel = next((c for c in preferred if c in rule.channels), rule.channels[0])
    control = in_control_group(customer_id, control_share)
    status = "held_out" if control else "pending_approval" if rule.value > approval_above else "send"
    reason = rule.reason or f"{rule.offer_type} for a {value_segment}-value customer ({driver})"
    if decision is not None and decision.reasons:
        reason = f"{reason} ({decision.reasons[0].text})"
    return OfferPlan(offer_id=stable_id("off", alert_id, kind), alert_id=alert_id, customer_id=customer_id, kind=kind,
                     offer_type=rule.offer_type, channel=channel, value=rule.value, monetary=rule.monetary,
                     expiry_days=rule.expiry_days, driver=driver, value_segment=value_segment, reason=reason,
                     control_group=control, status=status, occurred_at=now.timestamp())


def build_offer(plan: OfferPlan, *, created_at: datetime) -> RetentionOffer:
    """The ``retention-offers`` message; expiry counts from the alert's event time."""
    occurred = datetime.fromtimestamp(plan.occurred_at, tz=UTC)
    return RetentionOffer(offer_id=plan.offer_id, alert_id=plan.alert_id, customer_id=plan.customer_id,
                          offer_type=plan.offer_type, channel=plan.channel, value=plan.value,
                          expires_at=occurred + timedelta(days=plan.expiry_days), control_group=plan.control_group,
                          reason=plan.reason, kind=plan.kind, status=plan.status, value_segment=plan.value_segment,
                          driver=plan.driver, occurred_at=occurred, created_at=created_at)
