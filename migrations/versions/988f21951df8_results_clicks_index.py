"""results: an index of people's clicks (link_clicks WHERE human) covering the results'
GROUP BYs per step, per link and per hour (index-only scans)

Revision ID: 988f21951df8
Revises: a8236c092f55
Create Date: 2026-12-07 09:56:49.177073

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '988f21951df8'
down_revision = 'a8236c092f55'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('link_clicks', schema=None) as batch_op:
        batch_op.create_index(
            'ix_link_clicks_human',
            ['campaign_id', 'step_id', 'link_position', 'message_id', 'clicked_at'],
            unique=False,
            postgresql_where=sa.text('human'),
            sqlite_where=sa.text("human = 1"),
        )


def downgrade():
    with op.batch_alter_table('link_clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_link_clicks_human')
