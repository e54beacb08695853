"""Markdown steps and saved blocks: steps.markdown / step_variants.markdown hold what staff
wrote in Markdown (html is what it renders to; NULL for an HTML step), saved_blocks the
Markdown snippets staff insert into any step

Revision ID: 1d4e6b3a321d
Revises: 988f21951df8
Create Date: 2026-12-07 12:26:26.460426

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1d4e6b3a321d'
down_revision = '988f21951df8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_blocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('markdown', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_blocks')),
    sa.UniqueConstraint('name', name=op.f('uq_saved_blocks_name'))
    )
    with op.batch_alter_table('step_variants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('markdown', sa.Text(), nullable=True))

    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('markdown', sa.Text(), nullable=True))



def downgrade():
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.drop_column('markdown')

    with op.batch_alter_table('step_variants', schema=None) as batch_op:
        batch_op.drop_column('markdown')

    op.drop_table('saved_blocks')
