"""Validate a campaign file: YAML, schema, audience, templates and preflight, each
problem with its line."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from yaml.nodes import ScalarNode

from outreach.campaigns.files.parse import (
    FILE_KEYS,
    LANGUAGE_KEYS,
    find_audience,
    find_campaign,
    parse_document,
    transient,
)
from outreach.campaigns.files.problems import (
    WARNING_PREFIX,
    CampaignFileError,
    Problem,
    sorted_problems,
)
from outreach.campaigns.files.yaml_lines import Map
from outreach.campaigns.preflight import check as preflight
from outreach.campaigns.preflight import findings
from outreach.extensions import db
from outreach.models import Audience, Campaign
from outreach.rendering import templates


@dataclass
class _Result:
    """Everything ``examine`` found: blocking file problems, preflight findings, warnings."""

    data: Map | None = None
    audience: Audience | None = None
    campaign: Campaign | None = None
    file_problems: list[Problem] = field(default_factory=list)
    preflight_errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def all(self) -> list[Problem]:
        return sorted_problems([*self.file_problems, *self.preflight_errors, *self.warnings])


def _value_line(step: Map, key: str, template_line: int | None) -> int | None:
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


def _copy_problems(copy: Map, channel: str, where: str) -> list[Problem]:
    """Template problems of one copy (a step, or its mapping for a language), by file line."""
    problems = []
    keys = findings.TEMPLATE_FIELDS.get(channel, ())
    for key in (*keys, "markdown") if channel == "email" else keys:
        source = copy.get(key)
        if not isinstance(source, str) or not source:
            continue
        for problem in templates.check_template(source):
            match = re.match(r"^line (\d+): (.*)$", problem, re.DOTALL)
            lineno, message = (int(match.group(1)), match.group(2)) if match else (None, problem)
            problems.append(Problem(_value_line(copy, key, lineno), f"{where} {key}: {message}"))
    return problems


def _template_problems(data: Map) -> list[Problem]:
    problems = []
    for index, step in enumerate(data["steps"]):
        problems += _copy_problems(step, step["channel"], f"step {index + 1}")
        for language in LANGUAGE_KEYS:
            if isinstance(step.get(language), Map):
                where = f"step {index + 1} {language}"
                problems += _copy_problems(step[language], step["channel"], where)
    return problems


def _step_line(step: Map, key: str | None) -> int | None:
    """File line of a step's key; ``es.body`` is the ``body`` line of the step's ``es:``."""
    if not key:
        return step.line
    language, _, inner = key.partition(".")
    copy = step.get(language)
    if inner and language in LANGUAGE_KEYS and isinstance(copy, Map):
        return copy.key_lines.get(_written(copy, inner), step.key_lines.get(language, step.line))
    return step.key_lines.get(_written(step, key), step.line)


def _written(copy: Map, key: str) -> str:
    """The file key a finding on ``key`` points at: a Markdown body's ``html`` findings
    point at its ``markdown``."""
    return "markdown" if key == "html" and "markdown" in copy else key


def _finding_problem(data: Map, finding: findings.Finding) -> Problem:
    key = FILE_KEYS.get(finding.field or "", finding.field)
    if finding.step is not None:
        steps = data["steps"]
        step = steps[finding.step - 1] if 0 < finding.step <= len(steps) else None
        line = None
        if isinstance(step, Map):
            line = _step_line(step, key)
        shown = key.replace(".", " ") if key else key
        where = f"step {finding.step} {shown}" if shown else f"step {finding.step}"
        message = f"{where}: {finding.message}"
    else:
        line = data.key_lines.get(key) if key else None
        message = finding.message
    if finding.level == "warning":
        message = WARNING_PREFIX + message
    return Problem(line, message)


def examine(text: str) -> _Result:
    """Check a file completely without writing anything."""
    result = _Result()
    try:
        data = parse_document(text)
    except CampaignFileError as exc:
        result.file_problems = exc.problems
        return result
    result.data = data
    audience = find_audience(data["audience"])
    if audience is None:
        known = list(db.session.scalars(select(Audience.slug).order_by(Audience.slug)))
        hint = difflib.get_close_matches(data["audience"], known, n=1)
        more = f"; did you mean '{hint[0]}'?" if hint else ""
        result.file_problems.append(
            Problem(data.key_lines.get("audience"), f"unknown audience '{data['audience']}'{more}")
        )
    result.audience = audience
    result.file_problems += _template_problems(data)
    campaign = transient(data, audience)
    result.campaign = campaign
    for finding in preflight.check_campaign(campaign, templates=False):
        if audience is None and finding.field == "audience":
            continue  # already reported as an unknown audience
        problem = _finding_problem(data, finding)
        (result.preflight_errors if finding.level == "error" else result.warnings).append(problem)
    existing = find_campaign(data["name"])
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
        return examine(text).all()
    except RecursionError:
        return [Problem(None, "the file is nested too deeply")]
    except Exception as exc:  # noqa: BLE001 - validation reports, never raises
        return [Problem(None, f"could not check the file: {type(exc).__name__}: {exc}")]
