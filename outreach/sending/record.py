"""Write a batch's results: sent, retried with backoff, failed (with suppression), or
``unknown``; provider ids kept on rows a callback already moved."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import DBAPIError

from outreach.channels.base import Outcome, SendResult
from outreach.consent import subscriptions
from outreach.consent.ledger import Evidence
from outreach.database import in_values
from outreach.extensions import db
from outreach.models import Audience, Message, Subscriber
from outreach.operations import metrics
from outreach.sending.batch import Claimed, Report, write, write_same
from outreach.sending.outage import (
    DATABASE_OUTAGE_SECONDS,
    HANDED_OFF,
    database_gone,
    wait_for_database,
)

log = logging.getLogger(__name__)


MAX_ATTEMPTS = 5


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    seconds = max(retry_after or 0.0, min(3600.0, 30.0 * (2 ** max(attempts - 1, 0))))
    return timedelta(seconds=seconds)


def _record(
    results: list[SendResult],
    batch: dict[int, Claimed],
    at: datetime,
    report: Report,
    audience: Audience,
) -> None:
    changes: list[dict] = []
    bounces: list[subscriptions.OptOut] = []
    # Sent rows grouped by what they are given (a whole SendGrid request shares its id):
    # one UPDATE per group, no per-row dictionaries.
    sent: dict[tuple[str | None, str | None, str | None], list[int]] = defaultdict(list)
    for result in results:
        claimed = batch.get(result.message_id)
        if claimed is None:
            continue
        if result.outcome == Outcome.SENT:
            key = (result.provider_id, result.error_code, result.error_detail)
            sent[key].append(result.message_id)
            report.sent += 1
            continue
        row = {
            "id": result.message_id,
            "updated_at": at,
            "lease_until": None,
            "error_code": result.error_code,
            "error_detail": result.error_detail,
        }
        if result.outcome == Outcome.RETRY and claimed.attempts < MAX_ATTEMPTS:
            row.update(state="queued", due_at=at + _backoff(claimed.attempts, result.retry_after))
            report.retried += 1
        elif result.outcome == Outcome.UNKNOWN:
            row.update(state="unknown", provider_id=result.provider_id)
            report.unknown += 1
        else:
            row.update(state="failed")
            if result.outcome == Outcome.RETRY:
                row["error_detail"] = f"gave up after {claimed.attempts} attempts: " + (
                    result.error_detail or ""
                )
            report.failed += 1
            if result.outcome == Outcome.BOUNCED:
                bounces.append(_hard_bounce(result, claimed))
            else:
                _apply_permanent(result, claimed, audience)
        changes.append(row)
    # A status callback or event may have moved a row on while the batch was in flight
    # (PostgreSQL lets webhooks write during a send): never move it back.
    moving = ("sending", "unknown")
    groups = []
    for (provider_id, code, detail), ids in sent.items():
        values = {"state": "sent", "provider_id": provider_id, "sent_at": at, "updated_at": at,
                  "lease_until": None, "error_code": code, "error_detail": detail}  # fmt: skip
        if len(ids) == 1:  # texts: a sid each, written by one executemany in ``write``
            changes.append({"id": ids[0], **values})
        else:
            groups.append((ids, values))
    changed: int | None = write(changes, only_states=moving) if changes else 0
    wanted = {row["id"]: row["provider_id"] for row in changes if row.get("provider_id")}
    for ids, values in groups:
        provider_id = values["provider_id"]
        count = write_same(ids, values, only_states=moving)
        changed = None if changed is None or count is None else changed + count
        if provider_id:
            wanted.update(dict.fromkeys(ids, provider_id))
    if changed != len(changes) + sum(len(ids) for ids, _ in groups):  # a row moved on
        _backfill_provider_ids(wanted, at)
    if bounces:
        subscriptions.opt_out_many("email", bounces)


def _hard_bounce(result: SendResult, claimed: Claimed) -> subscriptions.OptOut:
    """An SMTP relay's "no such mailbox" (5.1.1): what a SendGrid hard bounce does, the
    person's email subscriptions bounced everywhere and the address suppressed."""
    evidence = Evidence(
        source="provider_event",
        provider_ref=f"smtp-{result.error_code}"[:128],
        note=f"SMTP relay answered {result.error_code}: no such mailbox",
    )
    return subscriptions.OptOut(
        claimed.recipient.id, evidence, state="bounced", suppress_reason="hard_bounce"
    )


def _backfill_provider_ids(wanted: dict[int, str], at: datetime) -> None:
    """Keep the provider id (``wanted``: row id -> provider id) and send time on rows a
    callback already moved forward.

    One cheap look-up finds them (usually none); only those get an UPDATE.
    """
    table = Message.__table__
    if not wanted:
        return
    missing = db.session.scalars(
        select(table.c.id).where(in_values(table.c.id, wanted), table.c.provider_id.is_(None))
    ).all()
    if missing:
        db.session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.provider_id.is_(None))
            .values(
                provider_id=bindparam("b_pid"),
                sent_at=func.coalesce(
                    table.c.sent_at, bindparam("b_at", type_=table.c.sent_at.type)
                ),
            ),
            [{"b_id": mid, "b_pid": wanted[mid], "b_at": at} for mid in missing],
        )


def _apply_permanent(result: SendResult, claimed: Claimed, audience: Audience) -> None:
    if result.outcome == Outcome.OPTED_OUT:
        subscriptions.carrier_opt_out(
            db.session.get(Subscriber, claimed.recipient.id),
            claimed.recipient.phone,
            result.provider_id or f"twilio-{result.error_code}",
        )
    elif result.outcome == Outcome.INVALID_NUMBER:
        subscriber = db.session.get(Subscriber, claimed.recipient.id)
        subscriber.phone_invalid = True


def record_durably(
    results: list[SendResult],
    allowed: list[Claimed],
    at: datetime,
    report: Report,
    audience: Audience,
) -> None:
    """Write a batch's results and commit; across a database outage, write them again.

    Until they are written, the batch's ids are remembered as handed to the provider, so
    no later clean-up in this process can put them back in the queue (maybe sent: they
    become ``unknown`` after their lease instead).
    """
    by_id = {c.message_id: c for c in allowed}
    HANDED_OFF.update(by_id)
    deadline = time.monotonic() + DATABASE_OUTAGE_SECONDS
    while True:
        partial = Report()
        try:
            _record(results, by_id, at, partial, audience)
            db.session.commit()
        except DBAPIError as exc:
            if not database_gone(exc) or time.monotonic() > deadline:
                raise
            log.warning("database unavailable while recording %d results; retrying", len(results))
            wait_for_database(deadline)
            continue
        report.add(partial)
        HANDED_OFF.difference_update(by_id)
        _count(results, allowed, partial)
        return


def _count(results: list[SendResult], allowed: list[Claimed], recorded: Report) -> None:
    """The metrics of a recorded batch: sends, provider error codes, time since claim."""
    if not allowed:
        return
    ids = {c.message_id for c in allowed}
    codes = [
        r.error_code
        for r in results
        if r.message_id in ids and r.outcome != Outcome.SENT and r.error_code
    ]
    metrics.batch_recorded(allowed[0].channel, recorded.sent, codes, allowed[0].claimed_at)
