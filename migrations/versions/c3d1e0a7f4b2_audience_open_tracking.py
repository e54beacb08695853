"""audiences.track_opens: SendGrid open tracking per audience (off by default)

Revision ID: c3d1e0a7f4b2
Revises: 8bacc5f4c5c0
Create Date: 2026-12-07 09:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d1e0a7f4b2'
down_revision = '8bacc5f4c5c0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audiences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('track_opens', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('audiences', schema=None) as batch_op:
        batch_op.drop_column('track_opens')
