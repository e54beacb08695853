"""API plumbing: problem responses, bearer-token auth, the per-token rate-limit key,
query-parameter parsing, JSON body validation and cursor pagination."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import jsonschema
from flask import Response, current_app, jsonify, request
from flask_limiter.util import get_remote_address
from sqlalchemy import Select

from outreach.api.openapi import (
    CURSOR_PATTERN,
    DEFAULT_LIMIT,
    MAX_INT_ID,
    MAX_LIMIT,
    PROBLEM_TYPE,
    request_schema,
)
from outreach.extensions import db
from outreach.models import ApiToken
from outreach.staff import api_tokens as staff_tokens

#: Requests per token (Flask-Limiter syntax); ``OUTREACH_API_RATE_LIMIT`` in app.config.
DEFAULT_RATE_LIMIT = "120 per minute"
#: Where the authenticated token lives for the rest of one request.
_TOKEN_KEY = "outreach.api_token"  # noqa: S105 - an environ key, not a secret
_CURSOR = re.compile(CURSOR_PATTERN)


class ApiError(Exception):
    """An error the API answers with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        errors: dict[str, str] | None = None,
        kind: str = "about:blank",
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.kind = kind


def problem(
    status: int,
    title: str,
    detail: str = "",
    errors: dict[str, str] | None = None,
    kind: str = "about:blank",
) -> Response:
    """An application/problem+json response (RFC 9457)."""
    body: dict[str, Any] = {"type": kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="outreach"'
    return response


def api_error_response(exc: ApiError) -> Response:
    """The problem response for an ApiError."""
    return problem(exc.status, exc.title, exc.detail, exc.errors, exc.kind)


# --------------------------------------------------------------------------- auth


def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return token


def rate_limit_key() -> str:
    """Flask-Limiter key: the presented token's hash (so each token has its own budget)."""
    token = _bearer()
    if token is None:
        return "ip:" + (get_remote_address() or "unknown")
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def rate_limit_value() -> str:
    """The per-token limit, from ``OUTREACH_API_RATE_LIMIT`` (default 120 per minute)."""
    return str(current_app.config.get("OUTREACH_API_RATE_LIMIT") or DEFAULT_RATE_LIMIT)


def current_token() -> ApiToken:
    """The token that authenticated this request."""
    return request.environ[_TOKEN_KEY]


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require ``Authorization: Bearer <token>``; answers 401 otherwise."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _bearer()
        row = staff_tokens.token_owner(token) if token else None
        if row is None:
            db.session.rollback()
            return problem(401, "Unauthorized", "A valid bearer token is required.")
        db.session.commit()  # last_used_at
        request.environ[_TOKEN_KEY] = row
        return view(*args, **kwargs)

    return wrapper


def actor_note() -> str:
    """How the ledger and the audit log name an API caller (no secret in it)."""
    token = current_token()
    return f"API token {token.name!r} ({token.prefix}...)"


# --------------------------------------------------------------------------- query


def only_args(*names: str) -> None:
    """Refuse query parameters other than ``names`` (a typo should not silently widen a list)."""
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        raise ApiError(
            400,
            "Bad Request",
            f"Unknown query parameter(s); this address takes {', '.join(names) or 'none'}.",
            {name[:50] or "(empty)": "unknown parameter" for name in unknown[:10]},
        )


def _text_arg(name: str, max_length: int) -> str | None:
    values = request.args.getlist(name)
    if not values:
        return None
    value = values[0]
    if len(values) > 1 or len(value) > max_length or any(ord(c) < 32 for c in value):
        raise ApiError(400, "Bad Request", f"{name} is not valid.", {name: "not valid"})
    return value


def text_arg(name: str, max_length: int) -> str | None:
    """An optional query string without control characters, at most ``max_length`` long."""
    return _text_arg(name, max_length)


def int_arg(name: str, minimum: int = 1, maximum: int = MAX_INT_ID) -> int | None:
    """An optional integer query parameter inside [minimum, maximum]."""
    raw = _text_arg(name, 20)
    if raw is None:
        return None
    if not re.fullmatch(r"-?[0-9]{1,19}", raw) or not minimum <= int(raw) <= maximum:
        raise ApiError(
            400,
            "Bad Request",
            f"{name} must be a whole number from {minimum} to {maximum}.",
            {name: f"a whole number from {minimum} to {maximum}"},
        )
    return int(raw)


def choice_arg(name: str, choices: Sequence[str]) -> str | None:
    """An optional query parameter from a fixed list."""
    raw = _text_arg(name, 40)
    if raw is not None and raw not in choices:
        raise ApiError(
            400, "Bad Request", f"{name} must be one of {', '.join(choices)}.", {name: "unknown"}
        )
    return raw


def page(
    query: Select,
    id_column: Any,
    serialise: Callable[[list[Any]], list[dict]],
    extra_args: Sequence[str] = (),
    max_id: int = MAX_INT_ID,
) -> Response:
    """Run ``query`` as one page ordered by ``id_column`` (``limit`` and ``cursor`` args).

    ``serialise`` turns the page's rows into JSON objects (all at once, so it can look up
    related rows in one query); ``extra_args`` are the list's filters (others are refused).
    """
    only_args(*extra_args, "limit", "cursor")
    limit = int_arg("limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    cursor = _text_arg("cursor", 18)
    if cursor is not None:
        if not _CURSOR.fullmatch(cursor):
            raise ApiError(400, "Bad Request", "cursor is not valid.", {"cursor": "not valid"})
        if int(cursor) >= max_id:  # past the last possible id (and the column's range)
            return jsonify(items=[], next_cursor=None)
        query = query.where(id_column > int(cursor))
    rows = db.session.scalars(query.order_by(id_column).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = str(rows[-1].id) if more and rows else None
    return jsonify(items=serialise(list(rows)), next_cursor=next_cursor)


# --------------------------------------------------------------------------- body


@functools.cache
def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(request_schema(schema_name))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def json_body(schema_name: str, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object, validated against a schema of the OpenAPI document."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ApiError(400, "Bad Request", "A JSON body is required.")
        return {}
    if request.mimetype != "application/json":
        raise ApiError(415, "Unsupported Media Type", "Send the body as application/json.")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "Bad Request", "The body is not valid JSON.")
    if _has_nul(body):
        raise ApiError(422, "Unprocessable Content", "Text must not contain NUL characters.")
    errors = {}
    for error in _validator(schema_name).iter_errors(body):
        where = ".".join(str(p) for p in error.absolute_path) or "body"
        errors.setdefault(where, error.message[:200])
    if errors:
        raise ApiError(
            422,
            "Unprocessable Content",
            "The body does not match the schema.",
            errors,
            kind="urn:outreach:problem:validation",
        )
    return body
