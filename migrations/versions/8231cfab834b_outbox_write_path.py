"""outbox write path: no per-row foreign keys, provider id index partial

Materialising a step inserts one outbox row per recipient (a million for a big audience).
Two costs per row are dropped:

* the foreign keys on outbox_messages.campaign_id, step_id and subscriber_id. Each inserted
  row re-checked its step, campaign and subscriber, locking each parent row (the lock is
  written into the subscriber's row, so a fan-out also rewrote a million subscriber rows):
  about 45% of a million-row fan-out. Rows are only created by outreach.outbox.materialise
  from the steps and subscribers it reads in the same statement; a step or campaign with
  outbox rows is never deleted (campaign_editing.delete_step refuses) and neither is a
  subscriber (privacy.erase blanks the row), so the keys guarded nothing a service can
  break.
* ix_outbox_messages_provider_id becomes partial (provider_id IS NOT NULL): queued and
  claimed rows have no provider id, so inserting and claiming them no longer touch it; the
  look-ups by provider id (status callbacks, SendGrid events) still use it.

SQLite rebuilds the table for the foreign keys (batch mode); foreign key enforcement is off
on this app's SQLite connections, so the rebuild leaves delivery_events untouched.

Revision ID: 8231cfab834b
Revises: 5e434d2d274b
Create Date: 2026-11-24 06:42:47.190399

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8231cfab834b'
down_revision = '5e434d2d274b'
branch_labels = None
depends_on = None

HAS_PROVIDER_ID = sa.text("provider_id IS NOT NULL")


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_step_id_steps'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_campaign_id_campaigns'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_subscriber_id_subscribers'), type_='foreignkey')
    op.drop_index('ix_outbox_messages_provider_id', table_name='outbox_messages')
    op.create_index(
        'ix_outbox_messages_provider_id', 'outbox_messages', ['provider_id'],
        unique=False, postgresql_where=HAS_PROVIDER_ID, sqlite_where=HAS_PROVIDER_ID,
    )


def downgrade():
    op.drop_index('ix_outbox_messages_provider_id', table_name='outbox_messages')
    op.create_index('ix_outbox_messages_provider_id', 'outbox_messages', ['provider_id'], unique=False)
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_subscriber_id_subscribers'), 'subscribers', ['subscriber_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_campaign_id_campaigns'), 'campaigns', ['campaign_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_step_id_steps'), 'steps', ['step_id'], ['id'], ondelete='CASCADE')
