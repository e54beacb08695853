"""CSV import of subscribers: one streaming pass, column mapping, normalisation, de-dup.

Rules (COMPLIANCE.md, "Consent is law"):

* A row comes in **active** only when the import names where and when consent was given
  (``consent_source`` and ``consent_date``) *and* the audience allows single opt-in for
  imports (or does not use double opt-in at all). Otherwise it comes in **pending** and
  the person gets a confirmation message (email link, or a "reply YES" text sent only
  inside the recipient's legal SMS window).
* Suppressed addresses are never imported, and a subscription the person withdrew
  (unsubscribed, bounced, complained) is never re-activated by an import: only they can
  opt back in.
* Consent changes go through ``outreach.consent`` (``sign_up``), so every one has a ledger
  row with the import's evidence (file, line, source, date, staff member).

The file is read once, in chunks of ``batch_size`` rows, each chunk committed before the
next is read; memory holds one chunk plus the set of addresses already seen in the file
(for "duplicate of line N").
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from flask import Flask
from sqlalchemy import select

from outreach import consent, dispatch, staff, tokens, windows, wording
from outreach.clock import now as clock_now
from outreach.contacts import (
    InvalidContact,
    address_hash,
    clean_name,
    normalise_email,
    normalise_phone,
)
from outreach.extensions import db
from outreach.models import Audience, Subscriber, Subscription, Suppression

log = logging.getLogger(__name__)

#: Rows per transaction.
BATCH_SIZE = 500
#: Columns of the rejected-rows report.
REPORT_FIELDS = ("line", "status", "reason", "email", "phone", "first_name")
#: Subscription states an import must leave alone: the person withdrew consent.
WITHDRAWN = ("unsubscribed", "bounced", "complained")
#: How long finished import jobs (and their reports) are kept.
JOB_RETENTION = timedelta(days=7)
#: A running job that has not written progress for this long has stopped.
STALE_AFTER = timedelta(minutes=10)

_HEADER_GUESSES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "email address", "e-mail address", "mail", "email_address"),
    "phone": (
        "phone",
        "mobile",
        "cell",
        "phone number",
        "mobile number",
        "cell phone",
        "phone_number",
        "mobile_number",
        "sms",
        "telephone",
    ),
    "first_name": ("first_name", "first name", "firstname", "given name", "name", "first"),
    "timezone": ("timezone", "time zone", "time_zone", "tz"),
}


class ImportProblem(ValueError):
    """Bad import settings or an unreadable file; the message is shown to staff."""


@dataclass(frozen=True)
class ColumnMapping:
    """Which CSV column holds which field (None: not in the file)."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class CsvInfo:
    """What a first look at a file found."""

    encoding: str
    delimiter: str
    header: list[str]
    sample: list[list[str]]


@dataclass(frozen=True)
class ImportSettings:
    """Everything one import needs besides the file."""

    audience_id: int
    mapping: ColumnMapping
    channels: tuple[str, ...]
    consent_source: str | None = None
    consent_date: date | None = None
    actor_id: int | None = None
    filename: str = "import.csv"
    region: str = "US"
    encoding: str = "utf-8-sig"
    delimiter: str = ","


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
    bytes_read: int = 0
    bytes_total: int = 0

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
    problems: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- settings


def import_mode(audience: Audience, consent_source: str | None, consent_date: date | None) -> str:
    """``"active"`` when rows may come in confirmed, else ``"pending"`` (double opt-in)."""
    allowed = audience.single_opt_in_for_imports or not audience.double_opt_in
    return "active" if (consent_source and consent_date and allowed) else "pending"


def mode_explanation(
    audience: Audience, consent_source: str | None, consent_date: date | None
) -> str:
    """One sentence telling staff what will happen to the rows."""
    if import_mode(audience, consent_source, consent_date) == "active":
        return (
            "Rows come in subscribed (single opt-in with evidence): the consent source and "
            "date are recorded in each person's consent ledger."
        )
    if consent_source and consent_date:
        return (
            f"'{audience.name}' requires double opt-in for imports, so rows come in pending "
            "and each person gets a confirmation message; only those who confirm are sent to."
        )
    return (
        "Without a consent source and date, rows come in pending and each person gets a "
        "confirmation message; only those who confirm are sent to."
    )


def parse_consent_date(raw: str | None, today: date) -> date | None:
    """``YYYY-MM-DD`` -> date (None for empty); raises ImportProblem if invalid or future."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ImportProblem(f"consent date {raw!r} is not a date like 2026-03-31") from None
    if value > today:
        raise ImportProblem("the consent date is in the future")
    return value


def build_settings(
    audience: Audience,
    info: CsvInfo,
    mapping: ColumnMapping,
    channels: Iterable[str],
    *,
    consent_source: str | None,
    consent_date: str | date | None,
    actor_id: int | None,
    filename: str,
    region: str = "US",
) -> ImportSettings:
    """Check a mapping against a file and an audience; raises ImportProblem with the reason."""
    header = set(info.header)
    for name, column in asdict(mapping).items():
        if column and column not in header:
            raise ImportProblem(f"the file has no column {column!r} (for {name})")
    chosen = tuple(c for c in ("email", "sms") if c in set(channels))
    if not chosen:
        raise ImportProblem("choose at least one channel to import consent for")
    for channel in chosen:
        if channel not in audience.channel_list:
            raise ImportProblem(f"the audience '{audience.slug}' does not offer {channel}")
    if "email" in chosen and not mapping.email:
        raise ImportProblem("choose the column that holds email addresses")
    if "sms" in chosen and not mapping.phone:
        raise ImportProblem("choose the column that holds mobile numbers")
    source = " ".join((consent_source or "").split())[:200] or None
    when = (
        consent_date
        if isinstance(consent_date, date)
        else parse_consent_date(consent_date, clock_now().date())
    )
    if isinstance(when, date) and when > clock_now().date():
        raise ImportProblem("the consent date is in the future")
    if bool(source) != bool(when):
        raise ImportProblem(
            "give both the consent source and the consent date, or neither "
            "(then rows come in pending and get a confirmation message)"
        )
    if len(region) != 2 or not region.isalpha():
        raise ImportProblem("the phone region must be a two-letter country code like US")
    return ImportSettings(
        audience_id=audience.id,
        mapping=mapping,
        channels=chosen,
        consent_source=source,
        consent_date=when,
        actor_id=actor_id,
        filename=Path(filename).name[:120] or "import.csv",
        region=region.upper(),
        encoding=info.encoding,
        delimiter=info.delimiter,
    )


# --------------------------------------------------------------------------- reading


def _detect_encoding(path: Path) -> str:
    """utf-8 (with or without BOM) if the whole file decodes, else cp1252 (Excel on Windows)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def inspect_csv(path: Path, sample_rows: int = 5) -> CsvInfo:
    """Encoding, delimiter, header and a few rows of a CSV file; raises ImportProblem."""
    encoding = _detect_encoding(path)
    with path.open(encoding=encoding, newline="", errors="replace") as handle:
        head = handle.read(64 * 1024)
    if not head.strip():
        raise ImportProblem("the file is empty")
    try:
        delimiter = csv.Sniffer().sniff(head.split("\n", 20)[0], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(head), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise ImportProblem("the file has no header row") from None
    if not any(header):
        raise ImportProblem("the first row must name the columns (email, phone, ...)")
    if len(set(header)) != len(header):
        raise ImportProblem("two columns have the same name in the header row")
    sample = []
    for row in reader:
        if len(sample) >= sample_rows:
            break
        if any(cell.strip() for cell in row):
            sample.append(row)
    return CsvInfo(encoding=encoding, delimiter=delimiter, header=header, sample=sample)


def guess_mapping(header: list[str]) -> ColumnMapping:
    """Pick columns by their names (``Email``, ``Mobile number``, ``First name``, ...)."""
    normal = {re.sub(r"[\s_-]+", " ", h.strip().lower()): h for h in header}
    picked: dict[str, str | None] = {}
    for name, guesses in _HEADER_GUESSES.items():
        picked[name] = next(
            (normal[g2] for g in guesses if (g2 := re.sub(r"[\s_-]+", " ", g)) in normal),
            None,
        )
    return ColumnMapping(**picked)


def _rows(handle: IO[bytes], settings: ImportSettings) -> Iterator[tuple[int, dict[str, str]]]:
    text = io.TextIOWrapper(handle, encoding=settings.encoding, errors="replace", newline="")
    try:
        reader = csv.DictReader(text, delimiter=settings.delimiter)
        if reader.fieldnames is None:
            return
        reader.fieldnames = [(name or "").strip() for name in reader.fieldnames]
        for record in reader:
            yield reader.line_num, record
    finally:
        text.detach()  # leave the binary handle open: the caller reads its position


def _chunks(rows: Iterator[tuple[int, dict[str, str]]], size: int) -> Iterator[list]:
    chunk: list = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --------------------------------------------------------------------------- one pass


def _cell(record: dict[str, str], column: str | None) -> str:
    if not column:
        return ""
    value = record.get(column)
    return value.strip() if isinstance(value, str) else ""


def _parse(line: int, record: dict[str, str], settings: ImportSettings, audience: Audience) -> _Row:
    mapping = settings.mapping
    row = _Row(
        line=line,
        raw_email=_cell(record, mapping.email)[:320],
        raw_phone=_cell(record, mapping.phone)[:40],
        raw_name=_cell(record, mapping.first_name)[:100],
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
    tz = _cell(record, mapping.timezone)
    if tz and windows.is_valid_timezone(tz):
        row.timezone = tz
    else:
        derived = windows.timezone_for_phone(row.phone) if row.phone else None
        row.timezone = derived or audience.default_timezone
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


def _evidence(settings: ImportSettings, mode: str, line: int) -> consent.Evidence:
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
    return consent.Evidence(
        source="import",
        wording=wording_text,
        actor_id=settings.actor_id,
        note=f"{settings.filename} line {line}",
    )


def _send_confirmations(
    pending: list[tuple[_Row, Subscriber, str]],
    audience: Audience,
    result: ImportResult,
    problems: dict[int, list[str]],
) -> None:
    at = clock_now()
    for row, subscriber, channel in pending:
        link = tokens.LinkToken(subscriber.public_id, audience.slug, channel)
        if channel == "email":
            url = tokens.public_url(f"/confirm/{tokens.confirm_token(link)}")
            ok = dispatch.send_email_confirmation(subscriber, audience, url)
        else:
            phone = subscriber.phone or ""
            tz = (
                subscriber.timezone
                if windows.is_valid_timezone(subscriber.timezone)
                else (audience.default_timezone)
            )
            if not windows.is_open(at, tz, windows.sms_window_for(phone)):
                result.confirmations_not_sent += 1
                problems.setdefault(row.line, []).append(
                    "confirmation text not sent: it is outside 08:00-21:00 where the person "
                    "lives; import the file again during the day to send it"
                )
                continue
            ok = dispatch.send_sms_text(phone, wording.sms_confirmation(audience))
        if ok:
            result.confirmations_sent += 1
        else:
            result.confirmations_not_sent += 1
            problems.setdefault(row.line, []).append(
                f"{'confirmation email' if channel == 'email' else 'confirmation text'} "
                "could not be sent"
            )


_PHONE_LIKE = re.compile(r"^[+-]?[\d\s().\-/]*$")


def _safe_cell(value: str) -> str:
    """A value from the uploaded file, defused for spreadsheets (no formulas)."""
    if value[:1] in ("=", "@", "\t", "\r") or (
        value[:1] in ("+", "-") and not _PHONE_LIKE.match(value)
    ):
        return "'" + value
    return value


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
    pending: list[tuple[_Row, Subscriber, str]] = []
    fresh: list[tuple[_Row, consent.Signup, consent.Evidence]] = []
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
                result.already += 1
                outcome[row.line] = True
        if not row.channels:
            continue
        signup = consent.Signup(
            audience=audience,
            email=row.email if "email" in row.channels else None,
            phone=row.phone if "sms" in row.channels else None,
            first_name=row.first_name,
            timezone=row.timezone or audience.default_timezone,
            channels=tuple(row.channels),
        )
        evidence = _evidence(settings, mode, row.line)
        if existing is None:
            fresh.append((row, signup, evidence))
            continue
        subscriber, waiting = consent.sign_up(
            signup, dict.fromkeys(row.channels, evidence), confirmed=mode == "active"
        )
        if subscriber.email:
            by_email[subscriber.email] = subscriber
        if subscriber.phone:
            by_phone[subscriber.phone] = subscriber
        waiting_channels = {sub.channel for sub in waiting}
        for channel in row.channels:
            if channel in waiting_channels:
                result.pending += 1
                pending.append((row, subscriber, channel))
            else:
                result.active += 1
        outcome[row.line] = True
    if fresh:
        # People not on file yet: set-based inserts (the common case in a large import).
        created = consent.sign_up_new(
            [signup for _, signup, _ in fresh],
            [evidence for _, _, evidence in fresh],
            confirmed=mode == "active",
        )
        for (row, _, _), (subscriber_id, _) in zip(fresh, created, strict=True):
            outcome[row.line] = True
            if mode == "active":
                result.active += len(row.channels)
                continue
            subscriber = db.session.get(Subscriber, subscriber_id)
            for channel in row.channels:
                result.pending += 1
                pending.append((row, subscriber, channel))
    db.session.commit()
    problems: dict[int, list[str]] = {}
    if pending:
        _send_confirmations(pending, audience, result, problems)
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
                    "email": _safe_cell(row.raw_email),
                    "phone": _safe_cell(row.raw_phone),
                    "first_name": _safe_cell(row.raw_name),
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
        writer = csv.DictWriter(report, fieldnames=REPORT_FIELDS)
        writer.writeheader()
    seen: dict[tuple[str, str], int] = {}
    with path.open("rb") as handle:
        for chunk in _chunks(_rows(handle, settings), batch_size):
            _process_chunk(chunk, settings, audience, mode, seen, result, writer)
            result.bytes_read = min(handle.tell(), result.bytes_total)
            if progress is not None:
                progress(result)
    result.bytes_read = result.bytes_total
    staff.audit(
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


# --------------------------------------------------------------------------- jobs (web)

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobStore:
    """Import jobs on disk (``<instance>/imports/<id>/``): the upload, its state, the report.

    State lives in ``job.json`` (written atomically) so any web process on the machine can
    answer the progress endpoint. The uploaded file is deleted when the import finishes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, job_id: str) -> Path:
        if not _JOB_ID.fullmatch(job_id or ""):
            raise KeyError(job_id)
        return self.root / job_id

    def create(self, upload: IO[bytes], filename: str, actor_id: int | None) -> dict[str, Any]:
        """Store an upload and read its header; raises ImportProblem for unusable files."""
        self.cleanup()
        job_id = secrets.token_hex(16)
        folder = self.root / job_id
        folder.mkdir(parents=True)
        target = folder / "upload.csv"
        with target.open("wb") as out:
            shutil.copyfileobj(upload, out, 1 << 20)
        try:
            info = inspect_csv(target)
        except ImportProblem:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        state = {
            "id": job_id,
            "state": "uploaded",
            "filename": Path(filename or "import.csv").name[:120],
            "actor_id": actor_id,
            "created_at": clock_now().isoformat(),
            "size": target.stat().st_size,
            "info": asdict(info),
            "settings": None,
            "result": None,
            "error": None,
        }
        self.save(state)
        return state

    def load(self, job_id: str) -> dict[str, Any]:
        """A job's state; KeyError if there is none.

        A running job whose state file has not moved for STALE_AFTER was cut off (the
        process stopped): it is reported as failed. Importing the file again is safe.
        """
        path = self._dir(job_id) / "job.json"
        if not path.exists():
            raise KeyError(job_id)
        state = json.loads(path.read_text())
        if state["state"] in ("queued", "running"):
            idle = time.time() - path.stat().st_mtime
            if idle > STALE_AFTER.total_seconds():
                state["state"] = "failed"
                state["error"] = (
                    "the import stopped part-way (the server restarted?); importing the same "
                    "file again is safe: people already imported count as already subscribed"
                )
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Write a job's state atomically."""
        folder = self._dir(state["id"])
        tmp = folder / "job.json.tmp"
        tmp.write_text(json.dumps(state, default=str))
        os.replace(tmp, folder / "job.json")

    def upload_path(self, job_id: str) -> Path:
        """Where the uploaded CSV is kept until the import finishes."""
        return self._dir(job_id) / "upload.csv"

    def report_path(self, job_id: str) -> Path:
        """Where the rejected-rows report is written."""
        return self._dir(job_id) / "rejected.csv"

    def info(self, state: dict[str, Any]) -> CsvInfo:
        """The CsvInfo stored with a job."""
        return CsvInfo(**state["info"])

    def cleanup(self) -> None:
        """Remove jobs older than JOB_RETENTION (their reports hold personal data)."""
        if not self.root.exists():
            return
        cutoff = (clock_now() - JOB_RETENTION).timestamp()
        for folder in self.root.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue


def settings_to_json(settings: ImportSettings) -> dict[str, Any]:
    """ImportSettings as a JSON-able dict."""
    data = asdict(settings)
    data["consent_date"] = settings.consent_date.isoformat() if settings.consent_date else None
    data["channels"] = list(settings.channels)
    return data


def settings_from_json(data: dict[str, Any]) -> ImportSettings:
    """The inverse of settings_to_json."""
    data = dict(data)
    data["mapping"] = ColumnMapping(**data["mapping"])
    data["channels"] = tuple(data["channels"])
    data["consent_date"] = (
        date.fromisoformat(data["consent_date"]) if data["consent_date"] else None
    )
    return ImportSettings(**data)


def run_job(store: JobStore, job_id: str) -> None:
    """Run a mapped job to the end, recording progress and the result in its state file."""
    state = store.load(job_id)
    settings = settings_from_json(state["settings"])
    state["state"] = "running"
    state["started_at"] = clock_now().isoformat()
    store.save(state)

    def progress(result: ImportResult) -> None:
        state["result"] = result.as_dict()
        store.save(state)

    try:
        with store.report_path(job_id).open("w", newline="", encoding="utf-8") as report:
            result = run_import(
                store.upload_path(job_id), settings, report=report, progress=progress
            )
    except Exception as exc:  # noqa: BLE001 - the job must end in a state staff can see
        db.session.rollback()
        log.error("import job %s failed: %s", job_id, type(exc).__name__)
        state["state"] = "failed"
        state["error"] = (
            str(exc) if isinstance(exc, ImportProblem) else "the import stopped unexpectedly"
        )
    else:
        state["state"] = "done"
        state["result"] = result.as_dict()
    state["finished_at"] = clock_now().isoformat()
    store.upload_path(job_id).unlink(missing_ok=True)
    store.save(state)


def start_job(app: Flask, store: JobStore, job_id: str) -> threading.Thread:
    """Run a job in a background thread with its own app context (and database session)."""

    def work() -> None:
        with app.app_context():
            try:
                run_job(store, job_id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"import-{job_id[:8]}", daemon=True)
    thread.start()
    return thread
