"""The shared counters behind the uplift report, in Redis, written by every worker.

Counters per offer type × segment × arm live in one Redis hash ``P:exp:counts``
(fields ``type|segment|arm|metric``); ``P:exp:offers`` maps offer_id →
``type|segment|arm|value`` because outcomes carry only the offer_id; both hold no
customer id. Every write is idempotent per offer_id (and outcome step).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from alerts.experiment import Resolution
from alerts.offers import OfferPlan
from schemas.events import OfferOutcome

COUNTED_OUTCOMES = ("delivered", "opened", "accepted", "redeemed")


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
