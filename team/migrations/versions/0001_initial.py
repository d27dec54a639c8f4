"""Team tables: inbox, offers, score history, customers, audit trail, tokens, webhook outbox, meta

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('actions',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('alert_id', sa.String(length=200), nullable=True),
    sa.Column('offer_id', sa.String(length=200), nullable=True),
    sa.Column('customer_id', sa.String(length=200), nullable=True),
    sa.Column('customer_ref', sa.String(length=40), nullable=True),
    sa.Column('detail', postgresql.JSONB(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_actions_alert_id'), 'actions', ['alert_id'], unique=False)
    op.create_index(op.f('ix_actions_at'), 'actions', ['at'], unique=False)
    op.create_index(op.f('ix_actions_customer_id'), 'actions', ['customer_id'], unique=False)
    op.create_table('alerts',
    sa.Column('alert_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=True),
    sa.Column('customer_ref', sa.String(length=40), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('previous_tier', sa.String(length=20), nullable=False),
    sa.Column('driver', sa.String(length=40), nullable=True),
    sa.Column('value_segment', sa.String(length=10), nullable=False),
    sa.Column('reasons', postgresql.JSONB(), nullable=False),
    sa.Column('model_version', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('offer_note', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('alert_id')
    )
    op.create_index(op.f('ix_alerts_created_at'), 'alerts', ['created_at'], unique=False)
    op.create_index(op.f('ix_alerts_customer_id'), 'alerts', ['customer_id'], unique=False)
    op.create_index(op.f('ix_alerts_customer_ref'), 'alerts', ['customer_ref'], unique=False)
    op.create_index('ix_alerts_score', 'alerts', ['score'], unique=False)
    op.create_index('ix_alerts_status_owner', 'alerts', ['status', 'owner'], unique=False)
    op.create_table('customers',
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('segment', sa.String(length=100), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id')
    )
    op.create_table('meta',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('offers',
    sa.Column('offer_id', sa.String(length=200), nullable=False),
    sa.Column('alert_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=True),
    sa.Column('customer_ref', sa.String(length=40), nullable=False),
    sa.Column('offer_type', sa.String(length=100), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('control_group', sa.Boolean(), nullable=False),
    sa.Column('value_segment', sa.String(length=10), nullable=False),
    sa.Column('driver', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('revenue', sa.Float(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('offer_id')
    )
    op.create_index(op.f('ix_offers_alert_id'), 'offers', ['alert_id'], unique=False)
    op.create_index(op.f('ix_offers_created_at'), 'offers', ['created_at'], unique=False)
    op.create_index(op.f('ix_offers_customer_id'), 'offers', ['customer_id'], unique=False)
    op.create_index(op.f('ix_offers_customer_ref'), 'offers', ['customer_ref'], unique=False)
    op.create_index(op.f('ix_offers_status'), 'offers', ['status'], unique=False)
    op.create_table('score_history',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('model_version', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_score_history_customer_at', 'score_history', ['customer_id', 'at'], unique=False)
    op.create_table('tokens',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.String(length=200), nullable=False),
    sa.Column('route', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.alert_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', 'url', name='uq_notifications_alert_url')
    )
    op.create_index('ix_notifications_due', 'notifications', ['next_attempt_at'], unique=False,
                    postgresql_where=sa.text('sent_at IS NULL AND failed_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_notifications_due', table_name='notifications', postgresql_where=sa.text('sent_at IS NULL AND failed_at IS NULL'))
    op.drop_table('notifications')
    op.drop_table('tokens')
    op.drop_index('ix_score_history_customer_at', table_name='score_history')
    op.drop_table('score_history')
    op.drop_index(op.f('ix_offers_status'), table_name='offers')
    op.drop_index(op.f('ix_offers_customer_ref'), table_name='offers')
    op.drop_index(op.f('ix_offers_customer_id'), table_name='offers')
    op.drop_index(op.f('ix_offers_created_at'), table_name='offers')
    op.drop_index(op.f('ix_offers_alert_id'), table_name='offers')
    op.drop_table('offers')
    op.drop_table('meta')
    op.drop_table('customers')
    op.drop_index('ix_alerts_status_owner', table_name='alerts')
    op.drop_index('ix_alerts_score', table_name='alerts')
    op.drop_index(op.f('ix_alerts_customer_ref'), table_name='alerts')
    op.drop_index(op.f('ix_alerts_customer_id'), table_name='alerts')
    op.drop_index(op.f('ix_alerts_created_at'), table_name='alerts')
    op.drop_table('alerts')
    op.drop_index(op.f('ix_actions_customer_id'), table_name='actions')
    op.drop_index(op.f('ix_actions_at'), table_name='actions')
    op.drop_index(op.f('ix_actions_alert_id'), table_name='actions')
    op.drop_table('actions')
