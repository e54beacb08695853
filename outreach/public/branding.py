"""Every public page wears the clinic's brand, footer and postal address: a page that names
no audience (a bad or expired link, an unknown tracked link) shows the first audience's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from werkzeug.local import LocalProxy

from outreach.extensions import db
from outreach.models import Audience
from outreach.public import bp


def house_audience() -> Audience | None:
    """The audience whose identity pages without one of their own carry (the first made)."""
    return db.session.scalar(select(Audience).order_by(Audience.id).limit(1))


@bp.context_processor
def _house_brand() -> dict[str, Any]:
    """``audience`` for templates rendered without one (a view's own always wins). Lazy:
    looked up only when a page without its own audience uses it."""
    return {"audience": LocalProxy(house_audience)}
