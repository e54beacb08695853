"""What differs between PostgreSQL and SQLite, decided in one place for every service,
and the one keyset pager the staff lists share."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Select, Table, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine

from outreach.extensions import db

_Statement = TypeVar("_Statement")


def dialect() -> str:
    """The session's database dialect name: ``postgresql`` or ``sqlite``."""
    return db.session.get_bind().dialect.name


def is_postgres() -> bool:
    """True on PostgreSQL (SKIP LOCKED, row locks, parallel connections)."""
    return dialect() == "postgresql"


def per_dialect(build: Callable[[], _Statement]) -> Callable[[], _Statement]:
    """Build a statement once per dialect, for the hot paths (a STOP text): an expression
    built per request costs more Python than running it. ``build`` takes its values as
    ``bindparam``s and may call ``insert`` and ``is_postgres``."""
    built: dict[str, _Statement] = {}

    @functools.wraps(build)
    def statement() -> _Statement:
        name = dialect()
        if name not in built:
            built[name] = build()
        return built[name]

    return statement


def insert(table: Table | Any) -> Insert:
    """The dialect's INSERT (it knows ``on_conflict_do_nothing``) for a table or model."""
    return (pg_insert if is_postgres() else sqlite_insert)(table)


def insert_ignore(table: Table | Any, index_elements: list[str] | None = None) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` (on ``index_elements``, else any conflict)."""
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


def in_values(
    column: Any, values: Iterable[Any], item_type: type[TypeEngine] | TypeEngine = BigInteger
) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL (not one parameter per value,
    which costs more to plan than to run for a thousand ids), a plain IN elsewhere."""
    values = list(values)
    if is_postgres():
        return column == any_(bindparam(None, values, type_=ARRAY(item_type)))
    return column.in_(values)


def upsert(
    table: Table | Any, index_elements: list[str], values: dict[str, Any], update: list[str]
) -> Insert:
    """``INSERT ... ON CONFLICT (index_elements) DO UPDATE SET`` the ``update`` columns to
    the values given (one statement on both databases)."""
    stmt = insert(table).values(values)
    return stmt.on_conflict_do_update(
        index_elements=index_elements, set_={name: stmt.excluded[name] for name in update}
    )


def newest_first_page(
    stmt: Select, id_column: Any, before: int | None, size: int
) -> tuple[list, int | None]:
    """One page of ``stmt``'s rows by descending ``id_column`` below ``before`` (keyset
    paging: as cheap on page 1,000 as on page 1); returns the rows and the id the next page
    starts below, or None on the last page."""
    if before:
        stmt = stmt.where(id_column < before)
    rows = list(db.session.scalars(stmt.order_by(id_column.desc()).limit(size + 1)))
    if len(rows) > size:
        return rows[:size], rows[size - 1].id
    return rows, None


#: PostgreSQL-only indexes that migrations make and the models cannot describe (pg_trgm
#: GIN indexes over expressions; migration 7a1c9e5b2d30). Autogenerate leaves them alone.
MIGRATION_ONLY_INDEXES = frozenset(
    {"ix_subscribers_email_trgm", "ix_subscribers_first_name_trgm", "ix_subscribers_phone_trgm"}
)


def compared_by_autogenerate(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object``: everything but MIGRATION_ONLY_INDEXES."""
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)
