"""The OpenAPI 3.1 document matches the API: a schemathesis run (every check, positive and
negative data) against the real app and database finds no failures."""

from __future__ import annotations

import time
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis.internal.conjecture import utils as cu
from flask import Flask
from schemathesis.checks import ALL_CHECKS
from schemathesis.runner import events

from outreach.api.openapi import document
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.results.support import set_states

MAX_EXAMPLES = 25


def _many_more(self: Any) -> bool:
    """``many.more()`` as hypothesis-jsonschema 0.23 expects it, on top of the iterator API.

    Hypothesis >= 6.1xx replaced ``many.more()`` with ``with many(...) as e: for _ in e:``;
    hypothesis-jsonschema (used by schemathesis 3.x to generate objects) still calls
    ``more()``. This drives the new iterator one step per call and closes it at the end,
    which is exactly the old protocol. Test-only; drop it when hypothesis-jsonschema
    catches up.
    """
    iterator = self.__dict__.get("_outreach_iterator")
    if iterator is None:
        self.__enter__()
        iterator = self._outreach_iterator = iter(self)
    try:
        next(iterator)
    except StopIteration:
        self.__exit__(None, None, None)
        return False
    return True


if not hasattr(cu.many, "more"):
    cu.many.more = _many_more


class IsolatedWsgi:
    """The app as WSGI, each request in its own app context (a fresh session, like production)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.app.app_context():
            return list(self.app(environ, start_response))


def _seed(clock: Any) -> None:
    audience = make_audience(single_opt_in_for_imports=True)
    make_audience(slug="double-only", name="Double opt-in only", channels="email")
    for n in range(3):
        make_subscriber(audience, email=f"p{n}@example.org", phone=f"+1917555014{n}")
    campaign = make_campaign(audience, [{"channel": "email"}, {"channel": "sms"}])
    from outreach import outbox

    outbox.materialise_due(clock.current.replace(year=2027, month=6, day=2))
    set_states(campaign.steps[0].id, {"delivered": 2, "skipped": 1}, clock.current)


def test_the_document_is_openapi_3_1_and_lists_every_api_route(client):
    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200 and doc.mimetype == "application/json"
    body = doc.get_json()
    assert body["openapi"].startswith("3.1") and body == document()
    documented = {
        ("/api/v1" + path.replace("{", "<").replace("}", ">"), method.upper())
        for path, ops in body["paths"].items()
        for method in ops
    }
    routed = set()
    for rule in client.application.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = rule.rule.replace("<int:", "<")
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented


def test_schemathesis_finds_no_failures(app, token, clock):
    _seed(clock)
    schemathesis.experimental.OPEN_API_3_1.enable()
    schema = schemathesis.from_wsgi(
        "/api/v1/openapi.json",
        IsolatedWsgi(app),
        data_generation_methods=[
            schemathesis.DataGenerationMethod.positive,
            schemathesis.DataGenerationMethod.negative,
        ],
        validate_schema=True,
    )
    runner = schemathesis.runner.from_schema(
        schema,
        checks=ALL_CHECKS,
        headers={"Authorization": f"Bearer {token}"},
        hypothesis_settings=hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        ),
    )
    started = time.monotonic()
    problems: list[str] = []
    executed = 0
    for event in runner.execute():
        if isinstance(event, events.AfterExecution):
            executed += 1
            result = event.result
            print(event.verbose_name, event.status, len(result.checks), result.is_skipped, result.skip_reason, [e.title for e in result.errors])
            for check in result.checks:
                if check.value.name != "success":
                    problems.append(
                        f"{event.verbose_name} [{check.name}] {check.message or ''} "
                        f"-> {check.response.status_code if check.response else '-'} "
                        f"{check.example.method} {check.example.url} "
                        f"body={str(check.example.body)[:200]}"
                    )
            problems += [f"{event.verbose_name} error: {e.exception}" for e in result.errors]
        elif isinstance(event, events.InternalError):
            pytest.fail(f"schemathesis internal error: {event.exception_with_traceback}")
    assert executed >= 14, executed
    unique = sorted(set(problems))
    assert not unique, "\n".join(unique[:30])
    assert time.monotonic() - started < 120
