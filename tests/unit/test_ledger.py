"""OfferLedger against the session's real Redis: caps, dedup, approvals, erasure, concurrency."""

import asyncio
from dataclasses import replace
from datetime import date, timedelta

import pytest

from alerts.ledger import OfferLedger, Reserved
from alerts.offers import Caps, OfferPlan, Skip

DAY = date(2024, 5, 1)
CAPS = Caps(contacts_per_customer=2, contact_window_days=30, daily_per_type=100, daily_spend=50.0)


def plan(n=0, *, customer="c-1", offer_type="free_returns", value=0.0, monetary=False, control=False, status="send"):
    return OfferPlan(offer_id=f"off-{customer}-{n}", alert_id=f"al-{n}", customer_id=customer, kind="retention",
                     offer_type=offer_type, channel="email", value=value, monetary=monetary, expiry_days=14,
                     driver="service", value_segment="mid", reason="because", control_group=control,
                     status="held_out" if control else status, occurred_at=1714521600.0 + n)


def in_redis(scratch, body):
    """Run ``body(ledger, redis, prefix)`` on the test's scratch Redis (its keys go afterwards)."""
    scratch.run(lambda redis: body(OfferLedger(redis, scratch.prefix), redis, scratch.prefix))


def test_contact_cap_across_offer_types_and_window(scratch_redis):
    async def body(ledger, redis, prefix):
        assert isinstance(await ledger.reserve(plan(1), customer_id="c-1", day=DAY, caps=CAPS), Reserved)
        assert isinstance(await ledger.reserve(plan(2, offer_type="deals_nudge"), customer_id="c-1", day=DAY, caps=CAPS), Reserved)
        third = await ledger.reserve(plan(3), customer_id="c-1", day=DAY + timedelta(days=29), caps=CAPS)
        assert isinstance(third, Skip) and "contact cap" in third.reason
        assert isinstance(await ledger.reserve(plan(4), customer_id="c-1", day=DAY + timedelta(days=30), caps=CAPS), Reserved)
        assert isinstance(await ledger.reserve(plan(1, customer="c-2"), customer_id="c-2", day=DAY, caps=CAPS), Reserved)
    in_redis(scratch_redis, body)


def test_same_offer_id_returns_first_result_and_never_double_counts(scratch_redis):
    async def body(ledger, redis, prefix):
        first = await ledger.reserve(plan(1, value=20, monetary=True), customer_id="c-1", day=DAY, caps=CAPS)
        again = await ledger.reserve(plan(1, value=20, monetary=True), customer_id="c-1", day=DAY, caps=CAPS)
        assert first == Reserved("off-c-1-1", "send") and again == Reserved("off-c-1-1", "send", duplicate=True)
        assert await redis.zcard(f"{prefix}:cust:c-1:contacts") == 1
        assert float(await redis.get(f"{prefix}:day:{DAY}:spend")) == 20.0
        assert int(await redis.get(f"{prefix}:day:{DAY}:type:free_returns")) == 1
        # a skipped offer stays skipped on retry even after the cap would allow it
        tight = replace(CAPS, contacts_per_customer=1)
        skip = await ledger.reserve(plan(2), customer_id="c-1", day=DAY, caps=tight)
        assert isinstance(skip, Skip)
        assert await ledger.reserve(plan(2), customer_id="c-1", day=DAY, caps=CAPS) == skip
    in_redis(scratch_redis, body)


def test_daily_type_cap_and_spend_cap(scratch_redis):
    async def body(ledger, redis, prefix):
        caps = replace(CAPS, daily_per_type=2, daily_per_type_overrides={"call": 1, "voucher": 10}, daily_spend=25.0)
        res = [await ledger.reserve(plan(0, customer=f"c{i}"), customer_id=f"c{i}", day=DAY, caps=caps) for i in range(3)]
        assert [type(x) for x in res] == [Reserved, Reserved, Skip] and "daily cap of 2" in res[2].reason
        assert isinstance(await ledger.reserve(plan(0, customer="n1"), customer_id="n1", day=DAY + timedelta(days=1), caps=caps), Reserved)
        calls = [await ledger.reserve(plan(0, customer=f"k{i}", offer_type="call"), customer_id=f"k{i}", day=DAY, caps=caps) for i in range(2)]
        assert [type(x) for x in calls] == [Reserved, Skip]
        money = [await ledger.reserve(plan(0, customer=f"m{i}", offer_type="voucher", value=10, monetary=True),
                                      customer_id=f"m{i}", day=DAY, caps=caps) for i in range(2)]
        over = await ledger.reserve(plan(0, customer="m2", offer_type="voucher", value=10, monetary=True), customer_id="m2", day=DAY, caps=caps)
        assert all(isinstance(x, Reserved) for x in money) and isinstance(over, Skip) and "spend" in over.reason
        # non-monetary offers do not touch the spend cap
        assert isinstance(await ledger.reserve(plan(0, customer="z", offer_type="nudge"), customer_id="z", day=DAY, caps=caps), Reserved)
    in_redis(scratch_redis, body)


def test_control_group_recorded_but_consumes_nothing(scratch_redis):
    async def body(ledger, redis, prefix):
        tight = replace(CAPS, contacts_per_customer=1, daily_per_type=1, daily_spend=5)
        held = await ledger.reserve(plan(1, control=True, value=10, monetary=True), customer_id="c-1", day=DAY, caps=tight)
        assert held == Reserved("off-c-1-1", "held_out")
        assert await ledger.reserve(plan(1, control=True), customer_id="c-1", day=DAY, caps=tight) == Reserved("off-c-1-1", "held_out", True)
        assert await redis.zcard(f"{prefix}:cust:c-1:contacts") == 0
        assert await redis.get(f"{prefix}:day:{DAY}:type:free_returns") is None
        assert isinstance(await ledger.reserve(plan(2), customer_id="c-1", day=DAY, caps=tight), Reserved)
    in_redis(scratch_redis, body)


def test_concurrent_workers_never_exceed_caps(scratch_redis):
    async def body(ledger, redis, prefix):
        clients = [scratch_redis.client() for _ in range(6)]
        ledgers = [OfferLedger(c, prefix) for c in clients]
        try:
            same = await asyncio.gather(*(ledgers[i % 6].reserve(plan(i), customer_id="c-1", day=DAY, caps=CAPS) for i in range(60)))
            assert sum(isinstance(x, Reserved) for x in same) == 2
            caps = replace(CAPS, daily_per_type=7)
            many = await asyncio.gather(*(ledgers[i % 6].reserve(plan(0, customer=f"x{i}", offer_type="rush"), customer_id=f"x{i}",
                                                                  day=DAY, caps=caps) for i in range(60)))
            assert sum(isinstance(x, Reserved) for x in many) == 7
            dup = await asyncio.gather(*(ledgers[i % 6].reserve(plan(0, customer="d"), customer_id="d", day=DAY, caps=CAPS) for i in range(30)))
            assert sum(not x.duplicate for x in dup) == 1 and await redis.zcard(f"{prefix}:cust:d:contacts") == 1
            claims = await asyncio.gather(*(ledgers[i % 6].claim_alert("al-race") for i in range(30)))
            assert sum(claims) == 1
        finally:
            for c in clients:
                await c.aclose()
    in_redis(scratch_redis, body)


def test_claim_alert_once_with_ttl(scratch_redis):
    async def body(ledger, redis, prefix):
        assert await ledger.claim_alert("al-1", ttl_s=60) is True
        assert await ledger.claim_alert("al-1") is False
        assert 0 < await redis.ttl(f"{prefix}:alert:al-1") <= 60
    in_redis(scratch_redis, body)


def test_pending_approvals_and_approve(scratch_redis):
    async def body(ledger, redis, prefix):
        big = plan(1, value=40, monetary=True, status="pending_approval")
        assert await ledger.reserve(big, customer_id="c-1", day=DAY, caps=CAPS) == Reserved(big.offer_id, "pending_approval")
        assert await ledger.pending_approvals() == [big]
        approved = await ledger.approve(big.offer_id)
        assert approved == replace(big, status="send")
        assert await ledger.pending_approvals() == [] and await ledger.approve(big.offer_id) is None
    in_redis(scratch_redis, body)


def test_forget_customer_removes_every_per_customer_key_and_only_theirs(scratch_redis):
    async def body(ledger, redis, prefix):
        for cust in ("c-1", "c-2"):
            for n in (1, 2):
                p = plan(n, customer=cust, value=20 * (2 - n), monetary=n == 1, status="pending_approval" if n == 1 else "send")
                assert isinstance(await ledger.reserve(p, customer_id=cust, day=DAY, caps=CAPS), Reserved)
            assert await ledger.claim_alert(f"al-{cust}", slot=(cust, "watch", 1.0, 86_400.0))
        assert sorted(k.decode() for k in await redis.keys(f"{prefix}:cust:c-1:*")) == sorted(ledger.customer_keys("c-1"))
        removed = await ledger.forget_customer("c-1")
        assert removed == 4  # three keys and one pending approval
        assert [k async for k in redis.scan_iter(match=f"{prefix}:cust:c-1:*")] == []
        assert [p.customer_id for p in await ledger.pending_approvals()] == ["c-2"]
        assert len([k async for k in redis.scan_iter(match=f"{prefix}:cust:c-2:*")]) == 3
        assert await ledger.forget_customer("c-1") == 0
    in_redis(scratch_redis, body)


@pytest.mark.parametrize("decode", [True, False])
def test_works_with_decoded_responses(scratch_redis, decode):
    async def body(_):
        redis = scratch_redis.client(decode_responses=decode)
        ledger = OfferLedger(redis, scratch_redis.prefix)
        try:
            big = plan(1, value=40, monetary=True, status="pending_approval")
            assert isinstance(await ledger.reserve(big, customer_id="c-1", day=DAY, caps=CAPS), Reserved)
            assert isinstance(await ledger.reserve(plan(2), customer_id="c-1", day=DAY, caps=replace(CAPS, contacts_per_customer=1)), Skip)
            assert await ledger.pending_approvals() == [big]
        finally:
            await redis.aclose()
    scratch_redis.run(body)


def test_claim_alert_with_a_slot_refuses_the_same_tier_for_the_customer_within_the_window(scratch_redis):
    async def body(ledger, redis, prefix):
        day = 86_400.0
        assert await ledger.claim_alert("al-a", slot=("c1", "watch", 100 * day, 7 * day)) is True
        # the same episode re-decided after a restart, starting 3 hours later: a new id, same slot
        assert await ledger.claim_alert("al-b", slot=("c1", "watch", 100 * day + 3 * 3600, 7 * day)) is False
        assert await ledger.claim_alert("al-c", slot=("c1", "high", 100 * day + 3 * 3600, 7 * day)) is True  # escalation
        assert await ledger.claim_alert("al-d", slot=("c2", "watch", 100 * day, 7 * day)) is True  # someone else
        assert await ledger.claim_alert("al-e", slot=("c1", "watch", 108 * day, 7 * day)) is True  # a later episode
        assert await ledger.claim_alert("al-e", slot=("c1", "watch", 200 * day, 7 * day)) is False  # the id itself
        assert f"{prefix}:cust:c1:alerts" in ledger.customer_keys("c1")  # erasure removes it
        assert await redis.exists(f"{prefix}:cust:c1:alerts")
    in_redis(scratch_redis, body)


def test_a_claim_whose_message_never_finished_is_handed_over_until_the_alert_is_sent(scratch_redis):
    async def body(ledger, redis, prefix):
        committed = {("orders", 3): 100}  # offsets below 100 of orders[3] are committed

        def unfinished(topic: str, partition: int, offset: int) -> bool:
            return offset >= committed.get((topic, partition), 0)

        slot = ("c1", "watch", 1000.0, 86_400.0)
        assert await ledger.claim_alert("al-1", slot=slot, source="orders:3:120", unfinished=unfinished) is True
        # the worker died before delivering; its successor processes orders[3]@120 again, or another
        # uncommitted message decides the same alert: the claim is handed over, not refused
        assert await ledger.claim_alert("al-1", slot=slot, source="orders:3:120", unfinished=unfinished) is True
        assert await ledger.claim_alert("al-1", slot=slot, source="support-tickets:3:7", unfinished=unfinished) is True
        assert await redis.get(f"{prefix}:alert:al-1") == b"support-tickets:3:7"
        # a claim held by a message the group has committed past is final (its alert went out or was decided away)
        await ledger.claim_alert("al-2", source="orders:3:90", unfinished=unfinished)
        assert await ledger.claim_alert("al-2", source="orders:3:130", unfinished=unfinished) is False
        # without the committed offsets (unfinished=None) a held claim is refused, as before
        assert await ledger.claim_alert("al-1", source="orders:3:121") is False
        # once delivered, nothing claims it again, uncommitted message or not
        await ledger.alert_sent("al-1")
        assert await ledger.claim_alert("al-1", slot=slot, source="orders:3:120", unfinished=lambda *_: True) is False
        assert 0 < await redis.ttl(f"{prefix}:alert:al-1") <= 90 * 86_400, "alert_sent keeps the claim's TTL"
        # a claim written before claims held their message ('1') is final
        await redis.set(f"{prefix}:alert:al-old", b"1")
        assert await ledger.claim_alert("al-old", source="orders:3:120", unfinished=lambda *_: True) is False
        # alert_sent never creates a claim that was not made
        await ledger.alert_sent("al-never")
        assert await redis.exists(f"{prefix}:alert:al-never") == 0
    in_redis(scratch_redis, body)
