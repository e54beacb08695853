"""A whole campaign as one YAML file: parse, validate, load (create/replace a draft), export.

File shape (see ``campaign_file.schema.json`` next to this module)::

    name: National Migraine and Headache Awareness Month 2027
    audience: migraine-awareness
    anchor: {date: 2027-06-01}        # or: {"on": confirmation}
    steps:
      - day: 0                        # calendar: days after the anchor date
        at: "10:00"                   # local time of each recipient
        channel: email
        subject: "..."
        html: |
          ...
      - after: 90m                    # confirmation-anchored: 0, 90m, 3h, 2d
        channel: sms
        body: "..."

PyYAML reads YAML 1.1, where a bare ``on`` key is ``True`` and an unquoted ``10:00`` is
the base-60 number 600: the loader reads both as written. Every problem carries the file
line of the offending step or field.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from sqlalchemy import select
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode

from outreach import campaigns, preflight, rendering
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Audience, Campaign, Step

__all__ = [
    "MAX_AFTER_MINUTES",
    "MAX_FILE_CHARS",
    "SCHEMA_PATH",
    "WARNING_PREFIX",
    "CampaignFileError",
    "Problem",
    "dump",
    "export",
    "format_after",
    "load",
    "load_path",
    "parse",
    "parse_after",
    "schema",
    "validate",
]

SCHEMA_PATH = Path(__file__).with_name("campaign_file.schema.json")
#: Files longer than this (characters) are refused without parsing.
MAX_FILE_CHARS = 1_000_000
#: The longest delay after confirmation a step may have: one year.
MAX_AFTER_MINUTES = 366 * 24 * 60
#: Warnings are problems whose message starts with this.
WARNING_PREFIX = "warning: "

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"

#: Model field (as preflight names it) -> key in the file.
_FILE_KEYS = {
    "send_time": "at",
    "day_offset": "day",
    "after_minutes": "after",
    "include_late_joiners": "late_joiners",
    "anchor_date": "anchor",
    "anchor": "anchor",
    "organisation_name": "audience",
    "postal_address": "audience",
}
_STEP_FIELDS = ("subject", "preheader", "html", "text", "body")


@dataclass(frozen=True)
class Problem:
    """One problem in a campaign file: file line (1-based, None if unknown) and message."""

    line: int | None
    message: str

    @property
    def is_warning(self) -> bool:
        """Warnings do not stop a load (preflight warnings, for example)."""
        return self.message.startswith(WARNING_PREFIX)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class CampaignFileError(ValueError):
    """A campaign file that cannot be parsed or loaded; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem] | str, line: int | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(line, problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid campaign file")


# --------------------------------------------------------------------------- YAML with lines


class _Map(dict):
    """A mapping that remembers its line and the line and node of each key's value."""

    line: int | None = None
    key_lines: dict[Any, int]
    value_nodes: dict[Any, Node]


class _Seq(list):
    """A sequence that remembers its line and each item's line."""

    line: int | None = None
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader recording lines; ``HH:MM`` stays text (not YAML 1.1 base-60 numbers)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[Problem] = []


def _construct_map(loader: _Loader, node: MappingNode) -> Iterator[_Map]:
    data = _Map()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    data.value_nodes = {}
    yield data
    seen: set[tuple[str, str]] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
            ident = (key_node.tag, key_node.value)
            if ident in seen:
                loader.duplicates.append(
                    Problem(key_node.start_mark.line + 1, f"duplicate key '{key_node.value}'")
                )
            seen.add(ident)
    data.update(loader.construct_mapping(node))  # flattens merge keys (<<) in place
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        data.key_lines[key] = key_node.start_mark.line + 1
        data.value_nodes[key] = value_node


def _construct_seq(loader: _Loader, node: Node) -> Iterator[_Seq]:
    data = _Seq()
    data.line = node.start_mark.line + 1
    data.item_lines = [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


def _construct_int(loader: _Loader, node: ScalarNode) -> int | str:
    if ":" in str(node.value):
        return str(loader.construct_scalar(node))
    return SafeConstructor.construct_yaml_int(loader, node)


def _construct_float(loader: _Loader, node: ScalarNode) -> float | str:
    if ":" in str(node.value):
        return str(loader.construct_scalar(node))
    return SafeConstructor.construct_yaml_float(loader, node)


def _construct_timestamp(loader: _Loader, node: ScalarNode) -> date | datetime:
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise ConstructorError(None, None, f"not a valid date: {exc}", node.start_mark) from None


_Loader.add_constructor(_MAP, _construct_map)
_Loader.add_constructor(_SEQ, _construct_seq)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _read_yaml(text: str) -> tuple[Any, list[Problem]]:
    """Parse YAML; returns the data and problems (duplicate keys), or raises CampaignFileError."""
    if not isinstance(text, str):
        raise CampaignFileError("a campaign file must be text")
    if len(text) > MAX_FILE_CHARS:
        raise CampaignFileError(f"the file is longer than {MAX_FILE_CHARS:,} characters")
    loader = None
    try:
        loader = _Loader(text)
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise CampaignFileError(
            f"YAML: {what or 'syntax error'}", (mark.line + 1) if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise CampaignFileError(f"YAML: {exc}") from None
    except RecursionError:
        raise CampaignFileError("YAML: the file is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, loader.duplicates


# --------------------------------------------------------------------------- schema


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The campaign file JSON Schema (draft 2020-12)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping (key: value lines)",
}
_PATTERN_WORDS = {
    "at": 'must be a time like "10:00" (24-hour)',
    "after": "must be minutes, or a number with m, h or d (0, 90m, 3h, 2d)",
    "date": "must be a date like 2027-06-01",
}


def _where(path: list[Any]) -> tuple[str, Any]:
    """Human location ("step 2 at", "anchor") and the last key of a schema error path."""
    words = []
    last: Any = None
    items = list(path)
    i = 0
    while i < len(items):
        part = items[i]
        if part == "steps" and i + 1 < len(items) and isinstance(items[i + 1], int):
            words.append(f"step {items[i + 1] + 1}")
            i += 2
            continue
        words.append(str(part))
        last = part
        i += 1
    return " ".join(words), last


def _line_at(data: Any, path: list[Any]) -> int | None:
    """File line of the deepest element of ``path`` that has one."""
    line = getattr(data, "line", None)
    node = data
    for part in path:
        if isinstance(node, _Map) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, _Seq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def _schema_problems(data: Any, error: ValidationError) -> list[Problem]:
    path = list(error.absolute_path)
    where, key = _where(path)
    prefix = f"{where}: " if where else ""
    line = _line_at(data, path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        out = []
        for extra in error.instance:
            if extra in allowed:
                continue
            hint = difflib.get_close_matches(str(extra), allowed, n=1)
            more = f"; did you mean '{hint[0]}'?" if hint else f" (allowed: {', '.join(allowed)})"
            out.append(
                Problem(_line_at(data, [*path, extra]), f"{prefix}unknown key '{extra}'{more}")
            )
        return out
    if error.validator == "required":
        match = re.match(r"^'(.+)' is a required property$", error.message)
        name = match.group(1) if match else str(error.validator_value)
        return [Problem(line, f"{prefix}missing '{name}'")]
    if error.validator == "not" and isinstance(error.validator_value, dict):
        banned = error.validator_value.get("required") or ["?"]
        return [Problem(_line_at(data, [*path, banned[0]]), f"{prefix}{_not_here(banned[0])}")]
    if error.validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        words = " or ".join(_TYPE_WORDS.get(n, n) for n in names)
        return [Problem(line, f"{prefix}must be {words}")]
    if error.validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return [Problem(line, f"{prefix}must be one of: {choices}")]
    if error.validator == "const":
        return [Problem(line, f"{prefix}must be '{error.validator_value}'")]
    if error.validator == "pattern":
        return [Problem(line, f"{prefix}{_PATTERN_WORDS.get(key, error.message)}")]
    if error.validator in ("minProperties", "maxProperties") and key == "anchor":
        return [Problem(line, 'anchor: write either {date: 2027-06-01} or {"on": confirmation}')]
    if error.validator == "minItems" and key == "steps":
        return [Problem(line, "steps: a campaign needs at least one step")]
    return [Problem(line, f"{prefix}{error.message}")]


def _not_here(key: Any) -> str:
    if key in ("day", "at"):
        return (
            f"'{key}' is for calendar campaigns (anchor date); steps of a campaign anchored "
            "on confirmation use 'after'"
        )
    if key == "after":
        return (
            "'after' is for campaigns anchored on confirmation; calendar steps use 'day' and 'at'"
        )
    if key == "body":
        return "an email step has no 'body' (use 'html' and, optionally, 'text')"
    return f"an SMS step has no '{key}' (use 'body')"


def parse_after(value: int | str) -> int:
    """A confirmation delay in minutes: ``0``, ``"0"``, ``"90m"``, ``"3h"``, ``"2d"``.

    A bare number is minutes. Raises ValueError for anything else or more than a year.
    """
    if isinstance(value, bool):
        raise ValueError("after must be minutes, or a number with m, h or d")
    if isinstance(value, int | float):
        if value != int(value) or value < 0:
            raise ValueError("after must be a whole number of minutes, 0 or more")
        minutes = int(value)
    else:
        match = re.fullmatch(r"\s*([0-9]+)\s*([mhd]?)\s*", str(value))
        if not match:
            raise ValueError("after must be minutes, or a number with m, h or d (90m, 3h, 2d)")
        minutes = int(match.group(1)) * {"": 1, "m": 1, "h": 60, "d": 1440}[match.group(2)]
    if minutes > MAX_AFTER_MINUTES:
        raise ValueError("after is longer than a year")
    return minutes


def format_after(minutes: int) -> int | str:
    """The shortest file form of a delay: ``0``, ``"2d"``, ``"3h"`` or ``"90m"``."""
    if minutes == 0:
        return 0
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _normalise_keys(data: Any) -> None:
    """YAML 1.1 reads a bare ``on`` as True: give the anchor its key back; dates to text."""
    if not isinstance(data, _Map):
        return
    anchor = data.get("anchor")
    if isinstance(anchor, _Map):
        if True in anchor and "on" not in anchor:
            value = anchor.pop(True)
            anchor["on"] = value
            anchor.key_lines["on"] = anchor.key_lines.pop(True, anchor.line)
            anchor.value_nodes["on"] = anchor.value_nodes.pop(True, None)
        when = anchor.get("date")
        if isinstance(when, date) and not isinstance(when, datetime):
            anchor["date"] = when.isoformat()


def _parse(text: str) -> _Map:
    """YAML + schema + value checks; returns the data, normalised in place.

    Raises CampaignFileError listing every problem found.
    """
    data, duplicates = _read_yaml(text)
    if data is None:
        raise CampaignFileError("the file is empty", 1)
    if not isinstance(data, _Map):
        raise CampaignFileError(
            "a campaign file is a mapping with name, audience, anchor and steps",
            getattr(data, "line", 1),
        )
    _normalise_keys(data)
    problems = list(duplicates)
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for problem in _schema_problems(data, error):
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise CampaignFileError(_sorted(problems))

    anchor = data["anchor"]
    if "date" in anchor:
        try:
            anchor["date"] = date.fromisoformat(anchor["date"])
        except ValueError:
            problems.append(Problem(data.key_lines["anchor"], "anchor: not a valid date"))
    for index, step in enumerate(data["steps"]):
        if "at" in step:
            step["at"] = campaigns.parse_hhmm(step["at"]).strftime("%H:%M")
        if "day" in step:
            step["day"] = int(step["day"])
        if "after" in step:
            try:
                step["after"] = parse_after(step["after"])
            except ValueError as exc:
                problems.append(Problem(step.key_lines.get("after"), f"step {index + 1}: {exc}"))
    if problems:
        raise CampaignFileError(_sorted(problems))
    return data


def parse(text: str) -> dict:
    """Parse and check the structure of a campaign file (no database access).

    Returns the file's data, normalised: ``anchor`` is ``{"date": datetime.date}`` or
    ``{"on": "confirmation"}``; steps have ``at`` as ``"HH:MM"`` and ``after`` in minutes.
    Raises CampaignFileError with file line numbers for YAML and schema problems.
    """
    return _parse(text)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.line or 0)


# --------------------------------------------------------------------------- building


def _build_steps(data: dict, calendar: bool) -> list[Step]:
    at = clock_now()
    steps = []
    for position, item in enumerate(data["steps"]):
        channel = item["channel"]
        email = channel == "email"
        steps.append(
            Step(
                position=position,
                channel=channel,
                day_offset=item.get("day", 0) if calendar else 0,
                send_time=item.get("at", "10:00") if calendar else "10:00",
                after_minutes=0 if calendar else item.get("after", 0),
                include_late_joiners=bool(item.get("late_joiners", False)),
                subject=item.get("subject", "") if email else "",
                preheader=item.get("preheader", "") if email else "",
                html=item.get("html", "") if email else "",
                text=item.get("text") if email else None,
                body=item.get("body", "") if not email else "",
                paused_reason=None,
                updated_at=at,
            )
        )
    return steps


def _anchor(data: dict) -> tuple[str, date | None]:
    anchor = data["anchor"]
    return ("date", anchor["date"]) if "date" in anchor else ("confirmation", None)


def _transient(data: dict, audience: Audience | None) -> Campaign:
    """An unsaved Campaign for the file (never added to the session)."""
    kind, anchor_date = _anchor(data)
    campaign = Campaign(
        name=data["name"], status="draft", anchor_kind=kind, anchor_date=anchor_date
    )
    campaign.audience = audience
    campaign.steps = _build_steps(data, kind == "date")
    return campaign


def _find_audience(slug: str) -> Audience | None:
    return db.session.scalar(select(Audience).where(Audience.slug == slug))


def _find_campaign(name: str) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.name == name))


# --------------------------------------------------------------------------- checking


@dataclass
class _Result:
    """Everything ``_examine`` found: blocking file problems, preflight findings, warnings."""

    data: _Map | None = None
    audience: Audience | None = None
    campaign: Campaign | None = None
    file_problems: list[Problem] = field(default_factory=list)
    preflight_errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def all(self) -> list[Problem]:
        return _sorted([*self.file_problems, *self.preflight_errors, *self.warnings])


def _value_line(step: _Map, key: str, template_line: int | None) -> int | None:
    """File line of line ``template_line`` of a step's template value."""
    node = step.value_nodes.get(key)
    if node is None:
        return step.key_lines.get(key, step.line)
    start = node.start_mark.line + 1
    if not template_line:
        return start
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        return start + template_line  # content starts on the line after the indicator
    return start + template_line - 1


def _template_problems(data: _Map) -> list[Problem]:
    problems = []
    for index, step in enumerate(data["steps"]):
        for key in preflight.TEMPLATE_FIELDS.get(step["channel"], ()):
            source = step.get(key)
            if not isinstance(source, str) or not source:
                continue
            for problem in rendering.check_template(source):
                match = re.match(r"^line (\d+): (.*)$", problem, re.DOTALL)
                lineno, message = (
                    (int(match.group(1)), match.group(2)) if match else (None, problem)
                )
                problems.append(
                    Problem(_value_line(step, key, lineno), f"step {index + 1} {key}: {message}")
                )
    return problems


def _finding_problem(data: _Map, finding: preflight.Finding) -> Problem:
    key = _FILE_KEYS.get(finding.field or "", finding.field)
    if finding.step is not None:
        steps = data["steps"]
        step = steps[finding.step - 1] if 0 < finding.step <= len(steps) else None
        line = None
        if isinstance(step, _Map):
            line = step.key_lines.get(key, step.line) if key else step.line
        where = f"step {finding.step} {key}" if key else f"step {finding.step}"
        message = f"{where}: {finding.message}"
    else:
        line = data.key_lines.get(key) if key else None
        message = finding.message
    if finding.level == "warning":
        message = WARNING_PREFIX + message
    return Problem(line, message)


def _examine(text: str) -> _Result:
    """Check a file completely without writing anything."""
    result = _Result()
    try:
        data = _parse(text)
    except CampaignFileError as exc:
        result.file_problems = exc.problems
        return result
    result.data = data
    audience = _find_audience(data["audience"])
    if audience is None:
        known = list(db.session.scalars(select(Audience.slug).order_by(Audience.slug)))
        hint = difflib.get_close_matches(data["audience"], known, n=1)
        more = f"; did you mean '{hint[0]}'?" if hint else ""
        result.file_problems.append(
            Problem(data.key_lines.get("audience"), f"unknown audience '{data['audience']}'{more}")
        )
    result.audience = audience
    result.file_problems += _template_problems(data)
    campaign = _transient(data, audience)
    result.campaign = campaign
    for finding in preflight.check_campaign(campaign, templates=False):
        if audience is None and finding.field == "audience":
            continue  # already reported as an unknown audience
        problem = _finding_problem(data, finding)
        (result.preflight_errors if finding.level == "error" else result.warnings).append(problem)
    existing = _find_campaign(data["name"])
    if existing is not None and existing.status != "draft":
        result.warnings.append(
            Problem(
                data.key_lines.get("name"),
                f"{WARNING_PREFIX}campaign '{existing.name}' is already {existing.status}; "
                "loading this file will be refused",
            )
        )
    return result


def validate(text: str) -> list[Problem]:
    """Every problem in a campaign file, by file line; ``[]`` when clean. Writes nothing.

    YAML and schema errors, an unknown audience, template problems, and preflight errors
    and warnings (warnings start with ``"warning: "``). Needs an app context for the
    audience lookup. Never raises for bad input.
    """
    try:
        return _examine(text).all()
    except RecursionError:
        return [Problem(None, "the file is nested too deeply")]
    except Exception as exc:  # noqa: BLE001 - validation reports, never raises
        return [Problem(None, f"could not check the file: {type(exc).__name__}: {exc}")]


# --------------------------------------------------------------------------- loading


def load(text: str, *, schedule: bool = False) -> Campaign:
    """Create the campaign as a draft, or replace the steps of the draft with the same name.

    Refuses (CampaignFileError, nothing changed) on file problems, on an unknown audience or
    template errors, when the campaign exists and is not a draft, and with ``schedule=True``
    when preflight finds errors. Flushes; the caller commits.
    """
    result = _examine(text)
    if result.file_problems:
        raise CampaignFileError(_sorted(result.file_problems))
    data, audience = result.data, result.audience
    assert data is not None and audience is not None and result.campaign is not None
    existing = _find_campaign(data["name"])
    if existing is not None and existing.status != "draft":
        raise CampaignFileError(
            f"campaign '{existing.name}' is already {existing.status}; only a draft can be "
            "replaced from a file: export a copy and load it under a new name",
            data.key_lines.get("name"),
        )
    if schedule and result.preflight_errors:
        raise CampaignFileError(
            [Problem(None, "not scheduled: preflight found errors"), *result.preflight_errors]
        )
    if existing is None:
        campaign = result.campaign
        campaign.created_at = campaign.updated_at = clock_now()
        db.session.add(campaign)
    else:
        campaign = existing
        kind, anchor_date = _anchor(data)
        campaign.audience = audience
        campaign.anchor_kind = kind
        campaign.anchor_date = anchor_date
        campaign.paused_reason = None
        campaign.updated_at = clock_now()
        campaign.steps.clear()
        db.session.flush()  # delete the old steps before inserting positions again
        campaign.steps.extend(_build_steps(data, kind == "date"))
    db.session.flush()
    if schedule:
        campaigns.schedule(campaign)
    return campaign


def load_path(path: Path, *, schedule: bool = False) -> Campaign:
    """``load`` the campaign file at ``path`` (UTF-8)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CampaignFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return load(text, schedule=schedule)


# --------------------------------------------------------------------------- export


class _Quoted(str):
    """A string always written in double quotes."""

    __slots__ = ()


class _Flow(dict):
    """A mapping written on one line: ``{date: 2027-06-01}``."""


class _Dumper(yaml.SafeDumper):
    """Block style, indented lists, literal blocks for multi-line text, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def analyze_scalar(self, scalar: str) -> Any:
        # Tabs are fine inside literal blocks; PyYAML only refuses them out of caution.
        if "\n" in scalar:
            analysis = super().analyze_scalar(scalar.replace("\t", " "))
            analysis.scalar = scalar  # the emitter writes analysis.scalar: keep the tabs
            return analysis
        return super().analyze_scalar(scalar)


def _represent_str(dumper: _Dumper, value: str) -> Node:
    if any(ch in value for ch in "\x85\u2028\u2029\t"):
        # Tabs: a literal block cannot always keep them (a leading tab may be read as
        # indentation), so such text is written double-quoted, which is exact.
        # YAML 1.1 line breaks, too: written raw, a reader would turn them into "\n" or " ".
        return dumper.represent_scalar(_STR, value, style='"')
    if "\n" in value:
        return dumper.represent_scalar(_STR, value, style="|")
    return dumper.represent_scalar(_STR, value)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Quoted, lambda d, v: d.represent_scalar(_STR, str(v), style='"'))
_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping(_MAP, v, flow_style=True))


def _clean(value: str) -> str:
    """Newlines as ``\\n``; multi-line text without trailing spaces (literal blocks need it)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" in value:
        value = "\n".join(line.rstrip(" \t") for line in value.split("\n"))
    return value


def _document(campaign: Campaign) -> dict[str, Any]:
    calendar = campaign.anchor_kind != "confirmation"
    anchor = (
        _Flow(date=campaign.anchor_date) if calendar else _Flow({_Quoted("on"): "confirmation"})
    )
    steps = []
    for step in sorted(campaign.steps, key=lambda s: s.position or 0):
        item: dict[str, Any] = {}
        if calendar:
            item["day"] = step.day_offset or 0
            item["at"] = _Quoted(step.send_time or "10:00")
        else:
            item["after"] = format_after(step.after_minutes or 0)
        item["channel"] = step.channel
        if step.channel == "sms":
            item["body"] = _clean(step.body or "")
        else:
            item["subject"] = _clean(step.subject or "")
            if step.preheader:
                item["preheader"] = _clean(step.preheader)
            item["html"] = _clean(step.html or "")
            if step.text is not None:
                item["text"] = _clean(step.text)
        if step.include_late_joiners:
            item["late_joiners"] = True
        steps.append(item)
    return {
        "name": campaign.name,
        "audience": campaign.audience.slug if campaign.audience is not None else "",
        "anchor": anchor,
        "steps": steps,
    }


def dump(document: dict[str, Any]) -> str:
    """YAML text for a campaign document (as built by ``export``); deterministic."""
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
        indent=2,
    )


def export(campaign: Campaign) -> str:
    """The campaign as one YAML file; ``export(load(export(c)))`` is byte-identical."""
    return dump(_document(campaign))
