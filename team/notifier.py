"""Delivers the webhook outbox: every due row is POSTed, marked sent on a 2xx, retried
with doubling back-off (and jitter) otherwise; a 4xx other than 408/429 is final.

Rows are taken with ``FOR UPDATE SKIP LOCKED``, so several service processes never send
the same row, and a row is marked sent in the transaction that sent it: each alert
reaches each endpoint once (a crash between the POST and the commit can repeat it, which
is why every request carries the ``Idempotency-Key`` header).
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from team.payloads import render
from team.tables import Alert, Notification

log = logging.getLogger(__name__)
POLL_S = 0.5
BATCH = 20


def backoff_s(attempts: int, base: float, cap: float, rnd: float = 0.5) -> float:
    """Delay after ``attempts`` failures: base·2^(attempts-1), at most ``cap``, times 0.75-1.25.

    >>> backoff_s(1, 1.0, 60.0), backoff_s(4, 1.0, 60.0), backoff_s(20, 1.0, 60.0)
    (1.0, 8.0, 60.0)
    """
    return min(base * 2 ** (attempts - 1), cap) * (0.75 + 0.5 * rnd)


def dashboard_url(settings: Any) -> str:
    return (settings.api_public_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")


async def deliver_due(rt: Any, client: httpx.AsyncClient) -> int:
    """Send every due row once; returns how many were delivered."""
    s, now, delivered = rt.settings, datetime.now(UTC), 0
    async with rt.sessions() as session, session.begin():
        rows = (await session.execute(
            select(Notification, Alert).join(Alert, Alert.alert_id == Notification.alert_id)
            .where(Notification.sent_at.is_(None), Notification.failed_at.is_(None), Notification.next_attempt_at <= now)
            .order_by(Notification.id).limit(BATCH).with_for_update(of=Notification, skip_locked=True))).all()
        for note, alert in rows:
            body = render(note.format, {c.key: getattr(alert, c.key) for c in Alert.__table__.columns}, dashboard_url(s))
            try:
                resp = await client.post(note.url, json=body, headers={"Idempotency-Key": f"{note.alert_id}:{note.id}"})
                error = None if resp.is_success else f"HTTP {resp.status_code}"
                final = resp.status_code < 500 and resp.status_code not in (408, 429) and not resp.is_success
            except httpx.HTTPError as exc:
                error, final = f"{type(exc).__name__}: {exc}"[:500], False
            note.attempts += 1
            if error is None:
                note.sent_at, outcome = datetime.now(UTC), "delivered"
                delivered += 1
            elif final:
                note.failed_at, note.last_error, outcome = datetime.now(UTC), error, "rejected"
                log.warning("webhook %s refused alert %s for good: %s", note.route, note.alert_id, error)
            else:
                wait = backoff_s(note.attempts, s.webhook_backoff_s, s.webhook_backoff_max_s, random.random())
                note.next_attempt_at, note.last_error, outcome = now + timedelta(seconds=wait), error, "retry"
            rt.metrics.deliveries.labels(outcome=outcome).inc()
    return delivered


async def outbox_depth(rt: Any) -> int:
    async with rt.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Notification).where(
            Notification.sent_at.is_(None), Notification.failed_at.is_(None)))).scalar_one())


async def notify_loop(rt: Any) -> None:
    """Deliver until cancelled; database trouble is counted and waited out."""
    async with httpx.AsyncClient(timeout=rt.settings.webhook_timeout_s) as client:
        while True:
            try:
                await deliver_due(rt, client)
                rt.metrics.outbox_depth.set(await outbox_depth(rt))
            except Exception as exc:  # noqa: BLE001 - keep delivering after a database error
                rt.metrics.db_errors.inc()
                log.warning("notifier: %s", exc)
            await asyncio.sleep(POLL_S)  # outbox poll period
