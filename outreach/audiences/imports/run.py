"""One import pass: validate each row, sign people up set-wise, send confirmations, and
report every row's fate."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

from outreach.audiences.contacts import (
    InvalidContact,
    address_hash,
    clean_name,
    normalise_email,
    normalise_phone,
)
from outreach.audiences.imports.reading import cell_value, chunks, csv_rows
from outreach.audiences.imports.settings import ImportProblem, ImportSettings, import_mode
from outreach.campaigns import windows
from outreach.consent import confirmations
from outreach.consent import ledger as consent_ledger
from outreach.consent import signup as signups
from outreach.database import in_values
from outreach.extensions import db
from outreach.i18n import language_or_default
from outreach.models import Audience, Subscriber, Subscription, Suppression
from outreach.spreadsheets import SafeDictWriter
from outreach.staff import audit as staff_audit

log = logging.getLogger(__name__)


#: Rows per transaction.
BATCH_SIZE = 500


#: Columns of the rejected-rows report.
REPORT_FIELDS = ("line", "status", "reason", "email", "phone", "first_name")


#: Subscription states an import must leave alone: the person withdrew consent.
WITHDRAWN = ("unsubscribed", "bounced", "complained")


@dataclass
class ImportResult:
    """Counts after (or during) an import."""

    mode: str = "pending"
    rows: int = 0
    active: int = 0
    pending: int = 0
    already: int = 0
    rejected: int = 0
    partial: int = 0
    confirmations_sent: int = 0
    confirmations_not_sent: int = 0
    confirmations_deferred: int = 0
    bytes_read: int = 0
    bytes_total: int = 0
    #: Subscriptions by channel and outcome: {"email": {"active": 3, ...}, "sms": {...}}.
    channels: dict[str, dict[str, int]] = field(default_factory=dict)

    def tally(self, outcome: str, channel: str, count: int = 1) -> None:
        """Count ``count`` subscriptions on ``channel`` as ``outcome`` (active, pending,
        already), in the total and per channel."""
        setattr(self, outcome, getattr(self, outcome) + count)
        per = self.channels.setdefault(channel, {})
        per[outcome] = per.get(outcome, 0) + count

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return asdict(self)


@dataclass
class _Row:
    line: int
    raw_email: str
    raw_phone: str
    raw_name: str
    email: str | None = None
    phone: str | None = None
    first_name: str = ""
    timezone: str | None = None
    language: str = "en"
    problems: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)


def _parse(line: int, record: dict[str, str], settings: ImportSettings, audience: Audience) -> _Row:
    mapping = settings.mapping
    row = _Row(
        line=line,
        raw_email=cell_value(record, mapping.email)[:320],
        raw_phone=cell_value(record, mapping.phone)[:40],
        raw_name=cell_value(record, mapping.first_name)[:100],
    )
    wanted = []
    if "email" in settings.channels and row.raw_email:
        try:
            row.email = normalise_email(row.raw_email)
            wanted.append("email")
        except InvalidContact as exc:
            row.problems.append(f"email: {exc}")
    if "sms" in settings.channels and row.raw_phone:
        try:
            row.phone = normalise_phone(row.raw_phone, settings.region)
            wanted.append("sms")
        except InvalidContact as exc:
            row.problems.append(f"phone: {exc}")
    if not wanted and not row.problems:
        need = " or ".join(
            {"email": "email address", "sms": "mobile number"}[c] for c in settings.channels
        )
        row.problems.append(f"no {need}")
    row.channels = wanted
    row.first_name = clean_name(row.raw_name)
    row.timezone = windows.choose_timezone(
        cell_value(record, mapping.timezone), row.phone, audience.default_timezone
    )
    row.language = language_or_default(cell_value(record, mapping.language))
    return row


def _prefetch(rows: list[_Row], audience: Audience) -> tuple[dict, dict, dict, set]:
    emails = [r.email for r in rows if r.email]
    phones = [r.phone for r in rows if r.phone]
    by_email = (
        {
            s.email: s
            for s in db.session.scalars(select(Subscriber).where(Subscriber.email.in_(emails)))
        }
        if emails
        else {}
    )
    by_phone = (
        {
            s.phone: s
            for s in db.session.scalars(select(Subscriber).where(Subscriber.phone.in_(phones)))
        }
        if phones
        else {}
    )
    ids = {s.id for s in by_email.values()} | {s.id for s in by_phone.values()}
    states: dict[tuple[int, str], Subscription] = {}
    if ids:
        for sub in db.session.scalars(
            select(Subscription).where(
                Subscription.subscriber_id.in_(ids), Subscription.audience_id == audience.id
            )
        ):
            states[(sub.subscriber_id, sub.channel)] = sub
    suppressed: set[tuple[str, str]] = set()
    for channel, values in (("email", emails), ("sms", phones)):
        digests = [address_hash(channel, v) for v in values]
        if digests:
            suppressed.update(
                (channel, digest)
                for digest in db.session.scalars(
                    select(Suppression.address_hash).where(
                        Suppression.channel == channel, Suppression.address_hash.in_(digests)
                    )
                )
            )
    return by_email, by_phone, states, suppressed


def _evidence(settings: ImportSettings, mode: str, line: int) -> consent_ledger.Evidence:
    if mode == "active":
        wording_text = (
            f"Imported with consent given through {settings.consent_source} "
            f"on {settings.consent_date.isoformat()}"  # type: ignore[union-attr]
        )
    elif settings.consent_source:
        wording_text = (
            f"Imported (consent through {settings.consent_source} on "
            f"{settings.consent_date.isoformat()}); awaiting the subscriber's confirmation"  # type: ignore[union-attr]
        )
    else:
        wording_text = "Imported from a list; awaiting the subscriber's confirmation"
    return consent_ledger.Evidence(
        source="import",
        wording=wording_text,
        actor_id=settings.actor_id,
        note=f"{settings.filename} line {line}",
    )


def _send_confirmations(
    pending: list[tuple[_Row, Subscription]],
    result: ImportResult,
    problems: dict[int, list[str]],
) -> None:
    """Ask each new pending subscription to confirm; texts outside the person's legal
    hours are queued for their next window (counted, not reported as problems)."""
    for row, sub in pending:
        outcome = confirmations.request_confirmation(sub)
        if outcome == confirmations.SENT:
            result.confirmations_sent += 1
        elif outcome == confirmations.DEFERRED:
            result.confirmations_deferred += 1
        elif outcome == confirmations.NOT_SENT:
            result.confirmations_not_sent += 1
            what = "confirmation email" if sub.channel == "email" else "confirmation text"
            problems.setdefault(row.line, []).append(f"{what} could not be sent")


def _process_chunk(
    chunk: list[tuple[int, dict[str, str]]],
    settings: ImportSettings,
    audience: Audience,
    mode: str,
    seen: dict[tuple[str, str], int],
    result: ImportResult,
    report: csv.DictWriter | None,
) -> None:
    rows = [_parse(line, record, settings, audience) for line, record in chunk]
    # Duplicates inside the file: the first occurrence wins.
    for row in rows:
        for channel, address in (("email", row.email), ("sms", row.phone)):
            if not address or channel not in row.channels:
                continue
            first = seen.get((channel, address))
            if first is not None:
                row.channels.remove(channel)
                label = "email address" if channel == "email" else "phone number"
                row.problems.append(f"duplicate: same {label} as line {first}")
            else:
                seen[(channel, address)] = row.line
    by_email, by_phone, states, suppressed = _prefetch(rows, audience)
    pending: list[tuple[_Row, int, str]] = []  # (row, subscriber id, channel)
    fresh: list[tuple[_Row, signups.Signup, consent_ledger.Evidence]] = []
    outcome: dict[int, bool] = {}
    for row in rows:
        existing = (by_email.get(row.email) if row.email else None) or (
            by_phone.get(row.phone) if row.phone else None
        )
        for channel in list(row.channels):
            address = row.email if channel == "email" else row.phone
            label = "email address" if channel == "email" else "phone number"
            owner = (by_email if channel == "email" else by_phone).get(address)
            if (channel, address_hash(channel, address)) in suppressed:
                row.channels.remove(channel)
                row.problems.append(f"{label} is on the suppression list; not imported")
                continue
            if existing is not None and owner is not None and owner.id != existing.id:
                row.channels.remove(channel)
                row.problems.append(f"{label} belongs to another subscriber; not imported")
                continue
            if existing is not None and owner is None:
                current = existing.email if channel == "email" else existing.phone
                if current and current != address:
                    row.channels.remove(channel)
                    row.problems.append(
                        f"this person already has a different {label} on file; not imported"
                    )
                    continue
            sub = states.get((existing.id, channel)) if existing is not None else None
            if sub is not None and sub.state in WITHDRAWN:
                row.channels.remove(channel)
                row.problems.append(
                    f"{'email' if channel == 'email' else 'texts'}: the person withdrew consent "
                    f"({sub.state}); only they can opt back in"
                )
                continue
            if sub is not None and sub.state == "active":
                row.channels.remove(channel)
                result.tally("already", channel)
                outcome[row.line] = True
        if not row.channels:
            continue
        signup = signups.Signup(
            audience=audience,
            email=row.email if "email" in row.channels else None,
            phone=row.phone if "sms" in row.channels else None,
            first_name=row.first_name,
            timezone=row.timezone or audience.default_timezone,
            channels=tuple(row.channels),
            language=row.language,
        )
        evidence = _evidence(settings, mode, row.line)
        if existing is None:
            fresh.append((row, signup, evidence))
            continue
        subscriber, waiting = signups.sign_up(
            signup, dict.fromkeys(row.channels, evidence), confirmed=mode == "active"
        )
        if subscriber.email:
            by_email[subscriber.email] = subscriber
        if subscriber.phone:
            by_phone[subscriber.phone] = subscriber
        waiting_channels = {sub.channel for sub in waiting}
        for channel in row.channels:
            if channel in waiting_channels:
                result.tally("pending", channel)
                pending.append((row, subscriber.id, channel))
            else:
                result.tally("active", channel)
        outcome[row.line] = True
    if fresh:
        # People not on file yet: set-based inserts (the common case in a large import).
        created = signups.sign_up_new(
            [signup for _, signup, _ in fresh],
            [evidence for _, _, evidence in fresh],
            confirmed=mode == "active",
        )
        for (row, _, _), (subscriber_id, _) in zip(fresh, created, strict=True):
            outcome[row.line] = True
            if mode == "active":
                for channel in row.channels:
                    result.tally("active", channel)
                continue
            for channel in row.channels:
                result.tally("pending", channel)
                pending.append((row, subscriber_id, channel))
    db.session.commit()
    problems: dict[int, list[str]] = {}
    if pending:
        subs = {
            (sub.subscriber_id, sub.channel): sub
            for sub in db.session.scalars(
                select(Subscription).where(
                    Subscription.audience_id == audience.id,
                    in_values(Subscription.subscriber_id, {sid for _, sid, _ in pending}),
                )
            )
        }
        _send_confirmations(
            [(row, subs[(sid, channel)]) for row, sid, channel in pending], result, problems
        )
        db.session.commit()
    for row in rows:
        result.rows += 1
        reasons = row.problems + problems.get(row.line, [])
        if not outcome.get(row.line):
            result.rejected += 1
            status = "rejected"
        elif reasons:
            result.partial += 1
            status = "partly imported"
        else:
            continue
        if report is not None:
            report.writerow(
                {
                    "line": row.line,
                    "status": status,
                    "reason": "; ".join(reasons),
                    "email": row.raw_email,
                    "phone": row.raw_phone,
                    "first_name": row.raw_name,
                }
            )


def run_import(
    path: Path,
    settings: ImportSettings,
    *,
    report: IO[str] | None = None,
    progress: Callable[[ImportResult], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Import a CSV file in one streaming pass; commits every ``batch_size`` rows.

    Rows that were rejected or only partly imported are written to ``report`` (CSV with
    ``REPORT_FIELDS``). ``progress`` is called after each chunk with the running counts.
    """
    audience = db.session.get(Audience, settings.audience_id)
    if audience is None:
        raise ImportProblem("that audience no longer exists")
    mode = import_mode(audience, settings.consent_source, settings.consent_date)
    result = ImportResult(mode=mode, bytes_total=path.stat().st_size)
    writer = None
    if report is not None:
        writer = SafeDictWriter(report, fieldnames=REPORT_FIELDS)
        writer.writeheader()
    seen: dict[tuple[str, str], int] = {}
    with path.open("rb") as handle:
        for chunk in chunks(csv_rows(handle, settings), batch_size):
            _process_chunk(chunk, settings, audience, mode, seen, result, writer)
            result.bytes_read = min(handle.tell(), result.bytes_total)
            if progress is not None:
                progress(result)
    result.bytes_read = result.bytes_total
    staff_audit.audit(
        settings.actor_id,
        "subscribers.import",
        "audience",
        audience.id,
        f"{settings.filename}: {result.rows} rows, {result.active} subscribed, "
        f"{result.pending} pending, {result.already} already, {result.rejected} rejected",
    )
    db.session.commit()
    log.info(
        "import into audience %s: %d rows, %d active, %d pending, %d rejected",
        audience.slug,
        result.rows,
        result.active,
        result.pending,
        result.rejected,
    )
    return result
