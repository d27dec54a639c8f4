"""The team database, declared once (SQLAlchemy 2.0 typed models). Changes only through
the numbered migrations in ``team/migrations``; a test checks the two agree.

Identity: ``customer_id`` columns are nullable, an erasure clears them; ``customer_ref`` is
the stable pseudonym analysts see, and what the audit trail keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Json = JSON().with_variant(JSONB(), "postgresql")
TS = DateTime(timezone=True)


class Base(DeclarativeBase):
    pass


class Alert(Base):
    """The inbox: one row per ``alert_id``, with its handling state."""

    __tablename__ = "alerts"
    alert_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_ref: Mapped[str] = mapped_column(String(40), index=True)
    score: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(20))
    previous_tier: Mapped[str] = mapped_column(String(20))
    driver: Mapped[str | None] = mapped_column(String(40))
    value_segment: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    model_version: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(20))
    offer_note: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS, index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    owner: Mapped[str | None] = mapped_column(String(200))
    snoozed_until: Mapped[datetime | None] = mapped_column(TS)
    resolution: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_alerts_score", "score"), Index("ix_alerts_status_owner", "status", "owner"))


class Offer(Base):
    """Retention offers as seen on ``retention-offers``; ``status`` adds approved / rejected."""

    __tablename__ = "offers"
    offer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(200), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_ref: Mapped[str] = mapped_column(String(40), index=True)
    offer_type: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    control_group: Mapped[bool]
    value_segment: Mapped[str] = mapped_column(String(10))
    driver: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS, index=True)
    expires_at: Mapped[datetime] = mapped_column(TS)
    outcome: Mapped[str | None] = mapped_column(String(20))
    revenue: Mapped[float | None] = mapped_column(Float)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(TS)
    emitted_at: Mapped[datetime | None] = mapped_column(TS)  # an approved offer's message went out


class ScoreHistory(Base):
    """Scores of a customer over time: every alert (a tier change) and every tier change the workers report."""

    __tablename__ = "score_history"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(TS)
    score: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(20))
    model_version: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # alert | score
    __table_args__ = (Index("ix_score_history_customer_at", "customer_id", "at"),)


class Customer(Base):
    """Account owner and segment from ``customer-profiles`` (routing and default owner)."""

    __tablename__ = "customers"
    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(TS)


class Action(Base):
    """The audit trail: who did what, when, on which alert or offer."""

    __tablename__ = "actions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(TS, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    alert_id: Mapped[str | None] = mapped_column(String(200), index=True)
    offer_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_ref: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(Json)


class Token(Base):
    """API tokens; only a SHA-256 of each is stored."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    created_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(TS)


class Notification(Base):
    """The webhook outbox: one row per alert and route, written with the alert, sent by the notifier."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(200), ForeignKey("alerts.alert_id", ondelete="CASCADE"))
    route: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(TS)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TS)
    sent_at: Mapped[datetime | None] = mapped_column(TS)
    failed_at: Mapped[datetime | None] = mapped_column(TS)
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("alert_id", "url", name="uq_notifications_alert_url"),
                      Index("ix_notifications_due", "next_attempt_at", postgresql_where=text("sent_at IS NULL AND failed_at IS NULL")))


class Meta(Base):
    """Small service-wide values (the generated pseudonym key)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
