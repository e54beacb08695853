"""staff time zone: the zone staff pages show times in

Revision ID: a8236c092f55
Revises: c3d1e0a7f4b2
Create Date: 2026-12-07 10:04:16.349352

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a8236c092f55'
down_revision = 'c3d1e0a7f4b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('timezone')
