"""Small SQL helpers shared by the services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine

from outreach.extensions import db


def in_values(
    column: Any, values: Iterable[Any], item_type: type[TypeEngine] | TypeEngine = BigInteger
) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL (not one parameter per value,
    which costs more to plan than to run for a thousand ids), a plain IN elsewhere."""
    values = list(values)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(item_type)))
    return column.in_(values)
