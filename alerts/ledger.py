"""Offer caps, offer and alert dedup, and pending approvals, atomic in Redis.

One Lua script checks and counts together, so any number of workers never exceed a
cap and a retried ``reserve`` of the same ``offer_id`` returns the first answer.

Keys (``P`` is the prefix). Per customer, all under ``P:cust:<customer_id>:``:

- ``P:cust:<id>:contacts`` sorted set, offer_id → day (epoch s) of each counted contact
- ``P:cust:<id>:offers``   hash, offer_id → first reserve result: ``ok`` or the skip sentence (dedup)

Shared: ``P:alert:<alert_id>`` (claimed alerts, opaque hash ids, TTL; the value is the
claiming message's position until the alert is delivered, then ``sent``),
``P:day:<date>:type:<offer_type>`` and ``P:day:<date>:spend`` (daily counters, TTL),
``P:approvals`` (hash offer_id → plan JSON; entries of a customer go with
:meth:`OfferLedger.forget_customer`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from redis.asyncio import Redis

from alerts.offers import Caps, OfferPlan, Skip

_RESERVE = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev then return {prev, 1} end
local res = 'ok'
if ARGV[2] ~= '1' then
  local day, window = tonumber(ARGV[3]), tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', day - window)
  local spend = tonumber(redis.call('GET', KEYS[4]) or '0')
  if redis.call('ZCOUNT', KEYS[2], '(' .. (day - window), '+inf') >= tonumber(ARGV[5]) then res = ARGV[12]
  elseif tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[6]) then res = ARGV[13]
  elseif ARGV[9] == '1' and spend + tonumber(ARGV[8]) > tonumber(ARGV[7]) then res = ARGV[14]
  else
    redis.call('ZADD', KEYS[2], day, ARGV[1])
    redis.call('EXPIRE', KEYS[2], window + 86400)
    redis.call('INCR', KEYS[3]); redis.call('EXPIRE', KEYS[3], 259200)
    if ARGV[9] == '1' then redis.call('INCRBYFLOAT', KEYS[4], ARGV[8]); redis.call('EXPIRE', KEYS[4], 259200) end
    if ARGV[10] ~= '' then redis.call('HSET', KEYS[5], ARGV[1], ARGV[10]) end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], res)
redis.call('EXPIRE', KEYS[1], ARGV[11])
return {res, 0}
"""

_FORGET = """
local approvals = KEYS[#KEYS]
local ids = redis.call('HKEYS', KEYS[1])
local n = 0
for _, id in ipairs(ids) do n = n + redis.call('HDEL', approvals, id) end
for i = 1, #KEYS - 1 do n = n + redis.call('DEL', KEYS[i]) end
return n
"""

_APPROVE = """
local plan = redis.call('HGET', KEYS[1], ARGV[1])
if plan then redis.call('HDEL', KEYS[1], ARGV[1]) end
return plan
"""


_CLAIM_ALERT = """
local held = redis.call('GET', KEYS[1])
if held then return held end
if KEYS[2] then
  local last = redis.call('HGET', KEYS[2], ARGV[1])
  if last and math.abs(tonumber(ARGV[2]) - tonumber(last)) < tonumber(ARGV[3]) then return 0 end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
redis.call('SET', KEYS[1], ARGV[5], 'EX', ARGV[4])
return 1
"""

_RETAKE_ALERT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"""

def message_source(topic: str, partition: int, offset: int) -> str:
    """How an alert claim names the input message whose processing decided it."""
    return f"{topic}:{partition}:{offset}"


def parse_source(held: str) -> tuple[str, int, int] | None:
    """Inverse of :func:`message_source`; ``None`` for ``sent``, ``claimed`` or a claim from
    before claims held their message (``1``).

    >>> parse_source(message_source("orders", 3, 120)), parse_source("sent"), parse_source("1")
    (('orders', 3, 120), None, None)
    """
    parts = held.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


@dataclass(frozen=True, slots=True)
class Reserved:
    """The offer may go out with ``status``; ``duplicate`` when this offer_id was reserved before."""

    offer_id: str
    status: str
    duplicate: bool = False


def skip_reason(code: str, caps: Caps, offer_type: str) -> str:
    """The sentence for a cap that stopped an offer.

    >>> skip_reason("contacts", Caps(), "x")
    'offer skipped: contact cap reached (2 offers in 30 days)'
    """
    return {
        "contacts": f"offer skipped: contact cap reached ({caps.contacts_per_customer} offers in {caps.contact_window_days} days)",
        "type": f"offer skipped: daily cap of {caps.type_cap(offer_type)} {offer_type} offers reached",
        "spend": f"offer skipped: daily spend cap of {caps.daily_spend:g} reached",
    }.get(code, f"offer skipped: {code}")


class OfferLedger:
    """Caps, dedup and approvals for offers and alerts, shared by every worker."""

    def __init__(self, redis: Redis, prefix: str, *, dedup_ttl_s: int = 90 * 86_400) -> None:
        self._r, self._p, self._ttl = redis, prefix, dedup_ttl_s
        self._reserve = redis.register_script(_RESERVE)
        self._forget = redis.register_script(_FORGET)
        self._approve = redis.register_script(_APPROVE)
        self._claim = redis.register_script(_CLAIM_ALERT)
        self._retake = redis.register_script(_RETAKE_ALERT)

    def customer_keys(self, customer_id: str) -> list[str]:
        """Every per-customer key this ledger writes."""
        base = f"{self._p}:cust:{customer_id}:"
        return [base + "offers", base + "contacts", base + "alerts"]

    async def reserve(self, plan: OfferPlan, *, customer_id: str, day: date, caps: Caps) -> Reserved | Skip:
        """Check every cap and count the offer in one atomic step; control plans count nothing."""
        offers, contacts, _alerts = self.customer_keys(customer_id)
        keys = [offers, contacts, f"{self._p}:day:{day.isoformat()}:type:{plan.offer_type}",
                f"{self._p}:day:{day.isoformat()}:spend", f"{self._p}:approvals"]
        day_s = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        pending = json.dumps(plan.to_json()) if plan.status == "pending_approval" else ""
        args = [plan.offer_id, int(plan.control_group), day_s, caps.contact_window_days * 86_400,
                caps.contacts_per_customer, caps.type_cap(plan.offer_type), repr(float(caps.daily_spend)),
                repr(float(plan.value)), int(plan.monetary), pending, self._ttl,
                *(skip_reason(code, caps, plan.offer_type) for code in ("contacts", "type", "spend"))]
        res, dup = await self._reserve(keys=keys, args=args)
        res = res.decode() if isinstance(res, bytes) else res
        if res != "ok":
            return Skip(res)  # the sentence stored by the first reserve of this offer_id
        return Reserved(plan.offer_id, plan.status, bool(dup))

    async def claim_alert(self, alert_id: str, *, ttl_s: int | None = None,
                          slot: tuple[str, str, float, float] | None = None, source: str = "",
                          unfinished: Callable[[str, int, int], bool] | None = None) -> bool:
        """True exactly once per ``alert_id`` (until the TTL), across workers and replays,
        unless the claim's message never finished.

        ``source`` names the input message whose processing claims the alert
        (:func:`message_source`); the claim holds it until :meth:`alert_sent`. A worker
        that dies between the claim and the delivery leaves its message uncommitted, and
        its successor processes it again and decides the same alert. When a claim is
        still held by such a message (``unfinished(topic, partition, offset)``: not
        committed), it is
        handed over and this call returns True, so the alert goes out rather than being
        lost; a still-running first claimer could then send it too, with the same id.

        ``slot`` = (customer_id, tier, event time, window seconds): also False when the
        customer had an alert of that tier within the window of this one's event time. Two
        episodes of a customer are at least the cooldown apart, so that only happens when
        a restart re-decided an episode whose start moved with how the input topics
        interleaved (a new alert_id for the same episode).
        """
        keys = [f"{self._p}:alert:{alert_id}"]
        tier, at, window_s = "", "0", "0"
        if slot is not None:
            customer_id, tier, at_s, window = slot
            keys.append(f"{self._p}:cust:{customer_id}:alerts")
            at, window_s = repr(float(at_s)), repr(float(window))
        mine = source or "claimed"
        got = await self._claim(keys=keys, args=[tier, at, window_s, ttl_s or self._ttl, mine])
        if not isinstance(got, bytes):
            return bool(got)
        held = got.decode()
        by = parse_source(held)
        if unfinished is None or by is None or not unfinished(*by):
            return False
        return bool(await self._retake(keys=keys[:1], args=[held, mine]))

    async def alert_sent(self, alert_id: str) -> None:
        """The claimed alert was delivered: from now on every claim of it is refused."""
        await self.alerts_sent([alert_id])

    async def alerts_sent(self, alert_ids: list[str]) -> None:
        """:meth:`alert_sent` of several alerts in one pipelined round trip."""
        async with self._r.pipeline(transaction=False) as pipe:
            for alert_id in alert_ids:
                pipe.set(f"{self._p}:alert:{alert_id}", b"sent", xx=True, keepttl=True)
            await pipe.execute()

    async def pending_approvals(self) -> list[OfferPlan]:
        """Offers waiting for an agent, oldest first."""
        raw = await self._r.hvals(f"{self._p}:approvals")
        return sorted((OfferPlan.from_json(json.loads(v)) for v in raw), key=lambda p: p.occurred_at)

    async def approve(self, offer_id: str) -> OfferPlan | None:
        """Take an offer off the approval list; the plan to send, or ``None`` if unknown."""
        raw = await self._approve(keys=[f"{self._p}:approvals"], args=[offer_id])
        return None if raw is None else replace(OfferPlan.from_json(json.loads(raw)), status="send")

    async def reject(self, offer_id: str) -> bool:
        """Take an offer off the approval list for good (an agent said no); False if unknown."""
        return await self._approve(keys=[f"{self._p}:approvals"], args=[offer_id]) is not None

    async def forget_customer(self, customer_id: str) -> int:
        """Delete every per-customer key and the customer's pending approvals; how many went."""
        return int(await self._forget(keys=[*self.customer_keys(customer_id), f"{self._p}:approvals"]))
