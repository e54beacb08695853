"""results: partial indexes of the opened and clicked messages per (campaign, step), so the
results' engagement counts read the few opened or clicked rows instead of every row of the
campaign (a full scan of 10,000,000 rows took about a second). A fanned-out row has neither
time set, so fan-out never writes them.

Plain CREATE INDEX (not CONCURRENTLY): only rows with a click or an open are indexed.

Revision ID: 4b8e2f6a1c73
Revises: 7a1c9e5b2d30
Create Date: 2026-12-08 03:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4b8e2f6a1c73'
down_revision = '7a1c9e5b2d30'
branch_labels = None
depends_on = None

CLICKED = sa.text("clicked_at IS NOT NULL")
OPENED = sa.text("opened_at IS NOT NULL")


def upgrade():
    op.create_index(
        'ix_outbox_messages_clicked', 'outbox_messages', ['campaign_id', 'step_id'],
        unique=False, postgresql_where=CLICKED, sqlite_where=CLICKED,
    )
    op.create_index(
        'ix_outbox_messages_opened', 'outbox_messages', ['campaign_id', 'step_id'],
        unique=False, postgresql_where=OPENED, sqlite_where=OPENED,
    )


def downgrade():
    op.drop_index('ix_outbox_messages_opened', table_name='outbox_messages')
    op.drop_index('ix_outbox_messages_clicked', table_name='outbox_messages')
