"""subscriber search: trigram (pg_trgm GIN) indexes over lower(email), lower(first_name) and
the phone's digits, so a search matching one address reads the index instead of the whole
table (PostgreSQL only; SQLite keeps its scan)

Revision ID: 7a1c9e5b2d30
Revises: 5c7e2a9d4f10
Create Date: 2026-12-07 21:10:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '7a1c9e5b2d30'
down_revision = '5c7e2a9d4f10'
branch_labels = None
depends_on = None

# audiences/finding.py searches with these very expressions. The phone index is over
# ltrim(phone, '+'), not the column: pg_trgm's GIN class also answers "=", and an index on
# the column itself could be picked for the import's `phone IN (...)` over the B-tree.
INDEXES = (
    ("ix_subscribers_email_trgm", "lower(email)"),
    ("ix_subscribers_first_name_trgm", "lower(first_name)"),
    ("ix_subscribers_phone_trgm", "ltrim(phone, '+')"),
)


def upgrade():
    if op.get_context().dialect.name != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES:
        op.execute(f"CREATE INDEX {name} ON subscribers USING gin ({expression} gin_trgm_ops)")


def downgrade():
    if op.get_context().dialect.name != "postgresql":
        return
    for name, _ in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
