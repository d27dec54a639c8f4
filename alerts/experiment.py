"""Did the offer work? Per-customer outcome tracking and the shared counters.

A customer who got an offer (treated) or was held out (control) is tracked until we
know whether they were still a customer when the horizon ended: activity after the
horizon → retained; a horizon-long silence after the offer (or after their last
activity since it), or a closed account → churned. So a customer who keeps buying for
a week after the offer and then lapses counts as churned, as they should. Counters per
offer type × segment × arm live in one Redis hash ``P:exp:counts`` (fields
``type|segment|arm|metric``); ``P:exp:offers`` maps offer_id → ``type|segment|arm|value``
because outcomes carry only the offer_id; both hold no customer id. Every write is
idempotent per offer_id (and outcome step).

>>> from datetime import datetime, timedelta, timezone
>>> t0, h = datetime(2024, 5, 1, tzinfo=timezone.utc), timedelta(days=30)
>>> tr = OfferTracking("off-1", "free_returns", "mid", "treated", t0.timestamp())
>>> on_activity(tr, t0 + timedelta(days=10), h, last_seen=t0)[1] is None  # still inside the horizon
True
>>> on_activity(tr, t0 + timedelta(days=31), h, last_seen=t0 + timedelta(days=10))[1].outcome
'retained'
>>> on_silence(tr, t0 + timedelta(days=40), h, last_seen=t0 + timedelta(days=10))[1].outcome
'churned'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from redis.asyncio import Redis

from alerts.offers import OfferPlan
from schemas.events import OfferOutcome

Arm = Literal["treated", "control"]
COUNTED_OUTCOMES = ("delivered", "opened", "accepted", "redeemed")


@dataclass(slots=True)
class OfferTracking:
    """The offer a customer is being watched for (``offered_at`` in epoch seconds)."""

    offer_id: str
    offer_type: str
    segment: str
    arm: Arm
    offered_at: float

    def to_json(self) -> list[Any]:
        """Compact: a five-element list.

        >>> OfferTracking.from_json(OfferTracking("o", "t", "low", "control", 1.0).to_json()).arm
        'control'
        """
        return [self.offer_id, self.offer_type, self.segment, self.arm, self.offered_at]

    @classmethod
    def from_json(cls, obj: list[Any]) -> "OfferTracking":
        return cls(*obj)


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a tracked offer ended."""

    offer_id: str
    offer_type: str
    segment: str
    arm: Arm
    outcome: Literal["retained", "churned"]


def on_offer(plan: OfferPlan) -> OfferTracking:
    """Start tracking a reserved (or held-out) offer from its event time."""
    arm: Arm = "control" if plan.control_group else "treated"
    return OfferTracking(plan.offer_id, plan.offer_type, plan.value_segment, arm, plan.occurred_at)


def _resolve(t: OfferTracking, outcome: Literal["retained", "churned"]) -> tuple[None, Resolution]:
    return None, Resolution(t.offer_id, t.offer_type, t.segment, t.arm, outcome)


def on_activity(tracking: OfferTracking | None, now: datetime, horizon: timedelta, *, last_seen: datetime | None
                ) -> tuple[OfferTracking | None, Resolution | None]:
    """Activity at ``now`` (``last_seen``: the customer's activity before this event).

    Retained once active after the horizon; churned if this ends a horizon-long silence
    that began after the offer (the silence checkpoint normally resolves that first).
    """
    if tracking is None or now.timestamp() <= tracking.offered_at:
        return tracking, None
    if now.timestamp() - max(tracking.offered_at, last_seen.timestamp() if last_seen else 0.0) >= horizon.total_seconds():
        return _resolve(tracking, "churned")
    if now.timestamp() > tracking.offered_at + horizon.total_seconds():
        return _resolve(tracking, "retained")
    return tracking, None


def on_silence(tracking: OfferTracking | None, now: datetime, horizon: timedelta, *, last_seen: datetime | None
               ) -> tuple[OfferTracking | None, Resolution | None]:
    """Silence checkpoint at ``now``: churned once a horizon has passed since the later of
    the offer and the customer's last activity."""
    if tracking is None:
        return None, None
    since = max(tracking.offered_at, last_seen.timestamp() if last_seen else 0.0)
    if now.timestamp() < since + horizon.total_seconds():
        return tracking, None
    return _resolve(tracking, "churned")


def on_churn(tracking: OfferTracking | None) -> tuple[None, Resolution | None]:
    """Explicit churn (account closed): churned at once."""
    return (None, None) if tracking is None else _resolve(tracking, "churned")


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


_ONCE_INCR = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class ExperimentStore:
    """Counters behind the uplift report, shared by every worker."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r = redis
        self._counts, self._offers, self._seen = f"{prefix}:exp:counts", f"{prefix}:exp:offers", f"{prefix}:exp:seen"
        self._once = redis.register_script(_ONCE_INCR)

    async def _incr_once(self, seen_key: str, field: str, meta: str, *pairs: tuple[str, float]) -> bool:
        args: list[Any] = [field, meta]
        for name, amount in pairs:
            args += [name, repr(float(amount))]
        return bool(await self._once(keys=[self._counts, seen_key], args=args))

    async def record_offer(self, plan: OfferPlan) -> bool:
        """Count an offer made (or held out) and remember its type, segment, arm, value."""
        arm = "control" if plan.control_group else "treated"
        meta = f"{plan.offer_type}|{plan.value_segment}|{arm}|{plan.value!r}"
        return await self._incr_once(self._offers, plan.offer_id, meta, (f"{meta.rsplit('|', 1)[0]}|offered", 1))

    async def record_resolution(self, res: Resolution) -> bool:
        """Count a retained or churned customer once per offer."""
        cell = f"{res.offer_type}|{res.segment}|{res.arm}"
        return await self._incr_once(self._seen, f"{res.offer_id}|resolved", res.outcome, (f"{cell}|{res.outcome}", 1))

    async def record_outcome(self, outcome: OfferOutcome, offer_type: str | None = None, segment: str | None = None) -> bool:
        """Count an offer-outcome step once; a redemption adds revenue and the offer's value as cost."""
        if outcome.outcome not in COUNTED_OUTCOMES:
            return False
        raw = await self._r.hget(self._offers, outcome.offer_id)
        if raw is None and (offer_type is None or segment is None):
            return False  # unknown offer: made before tracking started, or forgotten
        known_type, known_segment, arm, value = (_text(raw) if raw else f"{offer_type}|{segment}|treated|0.0").split("|")
        cell = f"{offer_type or known_type}|{segment or known_segment}|{arm}"
        pairs = [(f"{cell}|{outcome.outcome}", 1.0)]
        if outcome.outcome == "redeemed":
            pairs += [(f"{cell}|revenue", outcome.revenue or 0.0), (f"{cell}|cost", float(value))]
        return await self._incr_once(self._seen, f"{outcome.offer_id}|{outcome.outcome}", "1", *pairs)

    async def counts(self) -> dict[tuple[str, str, str], dict[str, float]]:
        """(offer_type, segment, arm) → metric → total."""
        out: dict[tuple[str, str, str], dict[str, float]] = {}
        for field, amount in (await self._r.hgetall(self._counts)).items():
            offer_type, segment, arm, metric = _text(field).split("|")
            out.setdefault((offer_type, segment, arm), {})[metric] = float(amount)
        return out
