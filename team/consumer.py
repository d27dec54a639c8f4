"""The team service's own consumer group on the alert, offer and customer side topics.

Each batch is stored in one transaction, and its offsets are committed only after that
transaction: a crash replays the batch, and storing is idempotent, so nothing is lost or
doubled. While the database is away the batch waits and is retried (``rt.database``, one
log line when it goes and one when it is back); a batch it refuses for another reason is
retried with back-off too. Either way no offset moves past a batch that was not stored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import TypeAdapter, ValidationError

from schemas.events import AnyEvent, ErasureRequest, OfferOutcome, ProfileUpdate, RetentionOffer, RiskAlert
from services.broker import ensure_topics
from team import ingest
from team.erasure import erase

log = logging.getLogger(__name__)
_EVENT = TypeAdapter(AnyEvent)
TOPICS = ("alerts", "offers", "outcomes", "profiles", "erasure")


def decode(kind: str, value: bytes | None) -> Any:
    """The message as a model, or ``None`` when it is not one (a stray marker, a bad payload)."""
    try:
        if kind == "alerts":
            return RiskAlert.model_validate_json(value or b"")
        if kind == "offers":
            return RetentionOffer.model_validate_json(value or b"")
        return _EVENT.validate_json(value or b"")
    except ValidationError:
        return None


async def apply(rt: Any, session: Any, msg: Any) -> str:
    """Store one decoded message; returns the metric kind."""
    if isinstance(msg, RiskAlert):
        await ingest.store_alert(session, msg, ref=rt.ref(msg.customer_id), routes=rt.settings.webhooks)
        return "alert"
    if isinstance(msg, RetentionOffer):
        await ingest.store_offer(session, msg, ref=rt.ref(msg.customer_id))
        return "offer"
    if isinstance(msg, OfferOutcome):
        await ingest.store_outcome(session, msg)
        return "outcome"
    if isinstance(msg, ProfileUpdate):
        await ingest.store_profile(session, msg)
        return "profile"
    if isinstance(msg, ErasureRequest):
        await erase(session, msg, ref=rt.ref(msg.customer_id))
        return "erasure"
    return "invalid"


async def _store(rt: Any, batch: list[tuple[str, Any]]) -> list[str]:
    async with rt.sessions() as session, session.begin():
        return [await apply(rt, session, msg) for _, msg in batch]


async def store_batch(rt: Any, batch: list[tuple[str, Any]]) -> None:
    """One transaction for the batch; retried until the database takes it."""
    delay = 0.5
    while True:
        try:
            kinds = await rt.database.call(_store, rt, batch)  # waits out an outage
            for kind in kinds:
                rt.metrics.ingested.labels(kind=kind).inc()
            return
        except Exception as exc:  # noqa: BLE001 - keep the batch, retry: nothing may be lost
            rt.metrics.db_errors.inc()
            log.warning("cannot store %d messages (%s); retrying in %.1f s", len(batch), exc, delay)
            await asyncio.sleep(delay)  # retry back-off
            delay = min(delay * 2, 10.0)


async def consume(rt: Any) -> None:
    """Consume until cancelled."""
    kinds = {rt.topic(t): t for t in TOPICS}
    await ensure_topics(rt.settings)
    cons = AIOKafkaConsumer(*kinds, bootstrap_servers=rt.settings.bootstrap_servers, group_id=rt.settings.api_group,
                            enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=10_000,
                            heartbeat_interval_ms=1_000, metadata_max_age_ms=5_000,
                            fetch_max_wait_ms=round(rt.settings.fetch_max_wait_s * 1000))
    await cons.start()
    rt.consumer_running = True
    rt.metrics.consumer_up.set(1)
    try:
        while True:
            records = await cons.getmany(timeout_ms=200, max_records=500)
            batch = []
            for tp, recs in records.items():
                for r in recs:
                    msg = decode(kinds[tp.topic], r.value)
                    if msg is None:
                        log.warning("not a %s message: %s[%s]@%s", kinds[tp.topic], tp.topic, tp.partition, r.offset)
                    batch.append((kinds[tp.topic], msg))
            if batch:
                await store_batch(rt, batch)
                await cons.commit()
    finally:
        rt.consumer_running = False
        rt.metrics.consumer_up.set(0)
        await cons.stop()
