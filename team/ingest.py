"""Storing what the topics carry, idempotently: a message seen twice changes nothing.

Alerts are keyed by ``alert_id``, offers by ``offer_id``; a new alert also gets its
score-history row and one outbox row per matching webhook route, in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import WebhookRoute
from schemas.events import TIERS, OfferOutcome, ProfileUpdate, RetentionOffer, RiskAlert
from team.hub import notify
from team.tables import Alert, Customer, Notification, Offer, ScoreHistory

OUTCOME_STEPS = ("failed", "expired", "declined", "delivered", "opened", "accepted", "redeemed")


def route_matches(route: WebhookRoute, *, owner: str | None, segment: str, tier: str) -> bool:
    """Does an alert go to this route?

    >>> r = WebhookRoute(url="http://h/x", owner="anna", min_tier="high")
    >>> route_matches(r, owner="anna", segment="mid", tier="critical"), route_matches(r, owner="bo", segment="mid", tier="critical")
    (True, False)
    """
    return ((route.owner is None or route.owner == owner) and (route.segment is None or route.segment == segment)
            and TIERS.index(tier) >= TIERS.index(route.min_tier))


async def store_alert(session: AsyncSession, a: RiskAlert, *, ref: str, routes: tuple[WebhookRoute, ...]) -> bool:
    """Insert a new alert (owner: the customer's account owner); False when already stored."""
    now = datetime.now(UTC)
    owner = (await session.execute(select(Customer.owner).where(Customer.customer_id == a.customer_id))).scalar()
    row = dict(alert_id=a.alert_id, customer_id=a.customer_id, customer_ref=ref, score=a.score, tier=a.tier,
               previous_tier=a.previous_tier, driver=a.driver, value_segment=a.value_segment,
               reasons=[r.model_dump() for r in a.reasons], model_version=a.model_version, trigger=a.trigger,
               offer_note=a.offer_note, occurred_at=a.occurred_at, created_at=a.created_at, status="open",
               owner=owner, updated_at=now)
    got = await session.execute(insert(Alert).values(**row).on_conflict_do_nothing().returning(Alert.alert_id))
    if got.scalar() is None:
        return False
    session.add(ScoreHistory(customer_id=a.customer_id, at=a.occurred_at, score=a.score, tier=a.tier,
                             model_version=a.model_version, source="alert"))
    for route in routes:
        if route_matches(route, owner=owner, segment=a.value_segment, tier=a.tier):
            await session.execute(insert(Notification).values(
                alert_id=a.alert_id, route=route.name or route.url.split("/")[2], url=route.url, format=route.format,
                created_at=now, attempts=0, next_attempt_at=now).on_conflict_do_nothing())
    await notify(session, "alert", a.alert_id)
    return True


async def store_offer(session: AsyncSession, o: RetentionOffer, *, ref: str) -> bool:
    """Insert a new offer; a ``send`` copy of a pending offer (approved elsewhere) marks it approved."""
    row = dict(offer_id=o.offer_id, alert_id=o.alert_id, customer_id=o.customer_id, customer_ref=ref,
               offer_type=o.offer_type, channel=o.channel, value=o.value, kind=o.kind, status=o.status,
               control_group=o.control_group, value_segment=o.value_segment, driver=o.driver, reason=o.reason,
               occurred_at=o.occurred_at, created_at=o.created_at, expires_at=o.expires_at)
    got = await session.execute(insert(Offer).values(**row).on_conflict_do_nothing().returning(Offer.offer_id))
    if got.scalar() is None:
        if o.status != "send":
            return False
        changed = await session.execute(update(Offer).where(Offer.offer_id == o.offer_id, Offer.status == "pending_approval")
                                        .values(status="approved", emitted_at=o.created_at))
        if not changed.rowcount:  # our own approved copy: its publish is confirmed
            await session.execute(update(Offer).where(Offer.offer_id == o.offer_id, Offer.status == "approved",
                                                      Offer.emitted_at.is_(None)).values(emitted_at=o.created_at))
            return False
    await notify(session, "offer", o.alert_id)
    return True


async def store_outcome(session: AsyncSession, ev: OfferOutcome) -> bool:
    """Keep the furthest step an offer reached, and its revenue."""
    row = (await session.execute(select(Offer).where(Offer.offer_id == ev.offer_id).with_for_update())).scalar()
    if row is None or (row.outcome in OUTCOME_STEPS and OUTCOME_STEPS.index(row.outcome) > OUTCOME_STEPS.index(ev.outcome)):
        return False
    row.outcome, row.revenue = ev.outcome, ev.revenue if ev.revenue is not None else row.revenue
    await notify(session, "offer", row.alert_id)
    return True


async def store_profile(session: AsyncSession, ev: ProfileUpdate) -> bool:
    """Account owner and segment; a field left out keeps its value."""
    if ev.owner is None and ev.segment is None:
        return False
    values = {"customer_id": ev.customer_id, "owner": ev.owner, "segment": ev.segment, "updated_at": ev.occurred_at}
    stmt = insert(Customer).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[Customer.customer_id], set_={
        "owner": stmt.excluded.owner if ev.owner is not None else Customer.owner,
        "segment": stmt.excluded.segment if ev.segment is not None else Customer.segment,
        "updated_at": stmt.excluded.updated_at})
    await session.execute(stmt)
    return True
