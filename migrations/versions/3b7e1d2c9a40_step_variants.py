"""step variants: a step's copy in another language (es), one row per step and language

Revision ID: 3b7e1d2c9a40
Revises: f1f655087e50
Create Date: 2026-12-07 03:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3b7e1d2c9a40'
down_revision = 'f1f655087e50'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'step_variants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('step_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('preheader', sa.String(length=300), nullable=False),
        sa.Column('html', sa.Text(), nullable=False),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ['step_id'], ['steps.id'],
            name=op.f('fk_step_variants_step_id_steps'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_step_variants')),
        sa.UniqueConstraint('step_id', 'language', name=op.f('uq_step_variants_step_id_language')),
    )


def downgrade():
    op.drop_table('step_variants')
