"""The campaign file's JSON Schema, and its errors in plain words with line numbers."""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from outreach.campaigns.files.problems import Problem
from outreach.campaigns.files.yaml_lines import Map, Seq

SCHEMA_PATH = Path(__file__).with_name("campaign_file.schema.json")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The campaign file JSON Schema (draft 2020-12)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
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
        if isinstance(node, Map) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, Seq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def schema_problems(data: Any, error: ValidationError) -> list[Problem]:
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
    if error.validator == "minLength" and error.validator_value == 1:
        return [Problem(line, f"{prefix}must not be empty")]
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
        return "an email step has no 'body' (use 'markdown' or 'html' and, optionally, 'text')"
    return f"an SMS step has no '{key}' (use 'body')"
