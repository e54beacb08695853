"""The OpenAPI 3.1 document of API v1: data in ``openapi.yaml``, read once. Request bodies
are validated against the same schemas (``request_schema``), so the document and the API
cannot drift apart; ``tests/api/test_openapi.py`` checks its enums against the models."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DOCUMENT_PATH = Path(__file__).with_name("openapi.yaml")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_INT_ID = 2_147_483_647
MAX_BIG_ID = 9_223_372_036_854_775_807
PUBLIC_ID_PATTERN = "^[0-9a-f]{32}$"
CURSOR_PATTERN = "^[0-9]{1,18}$"
CONFIRMATION_OUTCOMES = ("sent", "not_sent", "not_needed", "outside_hours")

PROBLEM_TYPE = "application/problem+json"


@cache
def _loaded() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh copy)."""
    return copy.deepcopy(_loaded())


def request_schema(name: str) -> dict[str, Any]:
    """A request-body schema, self-contained (with ``$defs``) for jsonschema validation."""
    schemas = _loaded()["components"]["schemas"]
    schema = copy.deepcopy(schemas[name])
    schema["$defs"] = {k: copy.deepcopy(v) for k, v in schemas.items() if k != name}
    return _rewrite_refs(schema)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _rewrite_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node
