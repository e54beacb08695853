"""results dashboard indexes

The campaign results dashboard (outreach/reports.py) aggregates by SQL:

* ix_outbox_messages_campaign_state gains skip_reason, so counts by step, state and skip
  reason are an index-only scan (it still serves every (campaign_id, step_id, state) lookup);
* ix_consent_events_revoked: withdrawals by audience and time (opt-outs attributed to steps),
  partial, so it holds only the few 'revoked' ledger rows;
* ix_delivery_events_spamreport: spam reports by message (complaint rates), partial.

Plain CREATE INDEX (not CONCURRENTLY): on a million outbox rows it takes about a second.

Revision ID: 5e434d2d274b
Revises: 68f419389cbb
Create Date: 2026-11-24 04:27:35.941926

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e434d2d274b'
down_revision = '68f419389cbb'
branch_labels = None
depends_on = None

REVOKED = sa.text("action = 'revoked'")
SPAMREPORT = sa.text("event_type = 'spamreport'")


def upgrade():
    op.create_index(
        'ix_consent_events_revoked', 'consent_events', ['audience_id', 'created_at'],
        unique=False, postgresql_where=REVOKED, sqlite_where=REVOKED,
    )
    op.create_index(
        'ix_delivery_events_spamreport', 'delivery_events', ['message_id'],
        unique=False, postgresql_where=SPAMREPORT, sqlite_where=SPAMREPORT,
    )
    op.drop_index('ix_outbox_messages_campaign_state', table_name='outbox_messages')
    op.create_index(
        'ix_outbox_messages_campaign_state', 'outbox_messages',
        ['campaign_id', 'step_id', 'state', 'skip_reason'], unique=False,
    )


def downgrade():
    op.drop_index('ix_outbox_messages_campaign_state', table_name='outbox_messages')
    op.create_index(
        'ix_outbox_messages_campaign_state', 'outbox_messages',
        ['campaign_id', 'step_id', 'state'], unique=False,
    )
    op.drop_index('ix_delivery_events_spamreport', table_name='delivery_events')
    op.drop_index('ix_consent_events_revoked', table_name='consent_events')
