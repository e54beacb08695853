"""What one batch is (claimed rows and their recipients), what a pass reports, and the
one writer of outbox row changes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, update

from outreach.database import in_values
from outreach.extensions import db
from outreach.models import Message


class _UndoAttempt:
    """Marks ``attempts = attempts - 1`` in a row change (the claim was not an attempt)."""


UNDO_ATTEMPT = _UndoAttempt()


@dataclass
class Report:
    """What one dispatch pass did, by outcome."""

    materialised: int = 0
    recovered: int = 0
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    paused_steps: list[str] = field(default_factory=list)

    def add(self, other: Report) -> None:
        """Accumulate another report into this one."""
        for name in ("claimed", "sent", "skipped", "deferred", "retried", "failed", "unknown"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused_steps.extend(other.paused_steps)


@dataclass(frozen=True)
class Recipient:
    """The subscriber fields one send needs."""

    id: int
    public_id: str
    email: str | None
    phone: str | None
    first_name: str
    timezone: str
    language: str = "en"


@dataclass(frozen=True)
class Claimed:
    """A row this worker holds in ``sending``."""

    message_id: int
    step_id: int
    campaign_id: int
    channel: str
    attempts: int
    recipient: Recipient
    #: The claim's id for this step's rows: the provider request they go in (``claim_id``).
    request_id: str = ""
    #: When the row was claimed (the claim-to-send latency metric).
    claimed_at: datetime | None = None


def write(rows: list[dict[str, Any]], only_states: tuple[str, ...] | None = None) -> int | None:
    """Apply per-row outbox changes (``id`` plus column values) in as few statements as can.

    Rows with the same values become one ``UPDATE ... WHERE id IN (...)`` (a whole SendGrid
    request shares its fate); the rest go in one executemany per set of columns.
    ``attempts: UNDO_ATTEMPT`` means ``attempts - 1``. With ``only_states``, a row that is
    no longer in one of those states (a status callback already moved it) is left alone.
    Returns how many rows were changed when the driver says (None when it cannot tell).
    """
    table = Message.__table__
    # or_ rather than IN: an expanding IN cannot be used with executemany
    guard = or_(*(table.c.state == state for state in only_states)) if only_states else None
    groups: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        values = tuple(sorted((k, v) for k, v in row.items() if k != "id"))
        groups[values].append(row["id"])

    singles: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    changed: int | None = 0
    for values, ids in groups.items():
        if len(ids) > 1 or any(v is UNDO_ATTEMPT for _, v in values):
            count = write_same(ids, dict(values), only_states)
            changed = None if changed is None or count is None else changed + count
        else:
            names = tuple(name for name, _ in values)
            singles[names].append({"b_id": ids[0], **{f"b_{k}": v for k, v in values}})
    for names, params in singles.items():
        stmt = update(table).where(table.c.id == bindparam("b_id"))
        if guard is not None:
            stmt = stmt.where(guard)
        stmt = stmt.values({name: bindparam(f"b_{name}") for name in names})
        db.session.connection().execute(stmt, params)
        changed = None  # an executemany's row count is not the same on every driver
    return changed


def write_same(
    ids: list[int], values: dict[str, Any], only_states: tuple[str, ...] | None = None
) -> int | None:
    """One ``UPDATE ... WHERE id IN (ids)`` giving these rows the same ``values`` (see
    ``write``); returns the rows changed (None when the driver cannot tell)."""
    table = Message.__table__
    stmt = update(table).where(in_values(table.c.id, ids))
    if only_states:
        stmt = stmt.where(or_(*(table.c.state == state for state in only_states)))
    result = db.session.execute(
        stmt.values(
            {
                name: table.c.attempts - 1 if value is UNDO_ATTEMPT else value
                for name, value in values.items()
            }
        )
    )
    return result.rowcount if result.rowcount >= 0 else None
