"""worker heartbeats

One row per running worker process (``flask outreach worker`` / ``dispatch --once``): its
id (``sending.identity.worker_id()``), host, pid, when it started, when it last beat and
the batch in hand (a channel and a row count, never a person). The worker deletes its row
when it stops gracefully; a row whose last beat is old is a worker that died. The index
on ``last_beat_at`` serves the stale-worker look-up of ``/healthz?deep=1``.

Revision ID: cf21dbc186a9
Revises: 574514648140
Create Date: 2026-12-07 02:36:28.773381

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'cf21dbc186a9'
down_revision = '574514648140'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'worker_heartbeats',
        sa.Column('worker_id', sa.String(length=80), nullable=False),
        sa.Column('host', sa.String(length=64), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('last_beat_at', sa.DateTime(), nullable=False),
        sa.Column('current_batch', sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeats')),
    )
    op.create_index(
        'ix_worker_heartbeats_last_beat_at', 'worker_heartbeats', ['last_beat_at'], unique=False
    )


def downgrade():
    op.drop_index('ix_worker_heartbeats_last_beat_at', table_name='worker_heartbeats')
    op.drop_table('worker_heartbeats')
