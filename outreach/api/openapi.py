"""The OpenAPI 3.1 document of API v1, built from data; request bodies are validated against
the same schemas (``request_schema``), so the document and the API cannot drift apart."""

from __future__ import annotations

import copy
from typing import Any

from outreach.consent.evidence import LEDGER_FIELDS
from outreach.models.campaigns import CAMPAIGN_STATES
from outreach.models.consent import CONSENT_ACTIONS, CONSENT_SOURCES
from outreach.models.contacts import CHANNELS, SUBSCRIPTION_STATES
from outreach.models.outbox import MESSAGE_STATES
from outreach.results.reports import STATE_ORDER

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_INT_ID = 2_147_483_647
MAX_BIG_ID = 9_223_372_036_854_775_807
PUBLIC_ID_PATTERN = "^[0-9a-f]{32}$"
CURSOR_PATTERN = "^[0-9]{1,18}$"
CONFIRMATION_OUTCOMES = ("sent", "not_sent", "not_needed", "outside_hours")

PROBLEM_TYPE = "application/problem+json"


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "next_cursor": _nullable(
                "string",
                pattern=CURSOR_PATTERN,
                description="Pass as `cursor` for the next page; null on the last page.",
            ),
        },
    }


DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = _nullable("string", format="date-time")
COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An error (RFC 9457 problem details).",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "object",
                "description": "Field name -> what is wrong with it.",
                "additionalProperties": {"type": "string"},
            },
        },
    },
    "Audience": {
        "type": "object",
        "required": [
            "slug",
            "name",
            "channels",
            "double_opt_in",
            "api_single_opt_in",
            "default_timezone",
            "organisation_name",
            "created_at",
        ],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "channels": {"type": "array", "items": {"enum": list(CHANNELS)}},
            "double_opt_in": {"type": "boolean"},
            "api_single_opt_in": {
                "type": "boolean",
                "description": "Subscribers created with consent evidence become active at once.",
            },
            "default_timezone": {"type": "string"},
            "organisation_name": {"type": "string"},
            "created_at": DATE_TIME,
        },
    },
    "AudiencePage": _page("Audience"),
    "Subscription": {
        "type": "object",
        "required": ["audience", "channel", "state", "requested_at", "confirmed_at"],
        "properties": {
            "audience": {"type": "string"},
            "channel": {"enum": list(CHANNELS)},
            "state": {"enum": list(SUBSCRIPTION_STATES)},
            "requested_at": DATE_TIME,
            "confirmed_at": NULLABLE_DATE_TIME,
        },
    },
    "Subscriber": {
        "type": "object",
        "required": [
            "id",
            "email",
            "phone",
            "first_name",
            "timezone",
            "created_at",
            "erased_at",
            "subscriptions",
        ],
        "properties": {
            "id": {"type": "string", "pattern": PUBLIC_ID_PATTERN},
            "email": _nullable("string"),
            "phone": _nullable("string"),
            "first_name": {"type": "string"},
            "timezone": {"type": "string"},
            "created_at": DATE_TIME,
            "erased_at": NULLABLE_DATE_TIME,
            "subscriptions": {"type": "array", "items": _ref("Subscription")},
        },
    },
    "SubscriberPage": _page("Subscriber"),
    "ConsentEvidence": {
        "type": "object",
        "description": (
            "Proof that the person agreed: the exact wording they were shown and when they "
            "agreed; where, from which address and browser when known."
        ),
        "additionalProperties": False,
        "required": ["wording", "given_at"],
        "properties": {
            "wording": {"type": "string", "minLength": 1, "maxLength": 2000},
            "given_at": {
                "type": "string",
                "format": "date-time",
                "description": "When consent was given (RFC 3339); not in the future.",
            },
            "form_url": {"type": "string", "maxLength": 500},
            "ip_address": {"type": "string", "maxLength": 64},
            "user_agent": {"type": "string", "maxLength": 500},
            "reference": {
                "type": "string",
                "maxLength": 128,
                "description": "Your system's id for this consent record.",
            },
        },
    },
    "SubscriberCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["audience"],
        "anyOf": [{"required": ["email"]}, {"required": ["phone"]}],
        "properties": {
            "audience": {"type": "string", "minLength": 1, "maxLength": 80},
            "email": {"type": "string", "format": "email", "minLength": 1, "maxLength": 320},
            "phone": {
                "type": "string",
                "minLength": 1,
                "maxLength": 32,
                "description": "A mobile number, E.164 or US national format.",
                "examples": ["+19175550142", "(917) 555-0142"],
            },
            "first_name": {"type": "string", "maxLength": 100},
            "timezone": {
                "type": "string",
                "maxLength": 64,
                "description": "IANA zone; default: from the phone number, else the audience's.",
            },
            "channels": {
                "type": "array",
                "items": {"enum": list(CHANNELS)},
                "minItems": 1,
                "maxItems": 2,
                "uniqueItems": True,
                "description": "Default: every channel the audience offers with a contact given.",
            },
            "consent": _ref("ConsentEvidence"),
        },
    },
    "SubscriberCreated": {
        "type": "object",
        "required": ["subscriber", "created", "confirmations"],
        "properties": {
            "subscriber": _ref("Subscriber"),
            "created": {"type": "boolean"},
            "confirmations": {
                "type": "object",
                "description": (
                    "Per requested channel: whether a confirmation message went out. "
                    "'not_needed': active already; 'outside_hours': a text would fall outside "
                    "08:00-21:00 where the person lives (POST again later to send it); "
                    "'not_sent': the address is suppressed or the provider refused."
                ),
                "additionalProperties": {"enum": list(CONFIRMATION_OUTCOMES)},
            },
        },
    },
    "LedgerRow": {
        "type": "object",
        "required": list(LEDGER_FIELDS),
        "properties": {
            "id": {"type": "integer"},
            "time": DATE_TIME,
            "audience": _nullable("string"),
            "channel": {"enum": list(CHANNELS)},
            "action": {"type": "string", "description": ", ".join(CONSENT_ACTIONS)},
            "source": {"type": "string", "description": ", ".join(CONSENT_SOURCES)},
            "resulting_state": {"type": "string"},
            "wording": _nullable("string"),
            "form_url": _nullable("string"),
            "ip_address": _nullable("string"),
            "user_agent": _nullable("string"),
            "provider_ref": _nullable("string"),
            "actor": _nullable("string"),
            "note": _nullable("string"),
        },
    },
    "ConsentHistory": {
        "type": "object",
        "required": ["subscriber", "subscriptions", "ledger", "derived_states", "generated_at"],
        "properties": {
            "subscriber": {"type": "object"},
            "subscriptions": {"type": "array", "items": {"type": "object"}},
            "ledger": {"type": "array", "items": _ref("LedgerRow")},
            "derived_states": {"type": "array", "items": {"type": "object"}},
            "generated_at": DATE_TIME,
        },
    },
    "Step": {
        "type": "object",
        "required": ["id", "number", "channel", "title"],
        "properties": {
            "id": {"type": "integer"},
            "number": {"type": "integer", "minimum": 1},
            "channel": {"enum": list(CHANNELS)},
            "title": {"type": "string"},
        },
    },
    "Campaign": {
        "type": "object",
        "required": [
            "id",
            "name",
            "status",
            "audience",
            "anchor_kind",
            "anchor_date",
            "paused_reason",
            "started_at",
            "finished_at",
            "created_at",
            "steps",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "status": {"enum": list(CAMPAIGN_STATES)},
            "audience": {"type": "string"},
            "anchor_kind": {"type": "string"},
            "anchor_date": _nullable("string", format="date"),
            "paused_reason": _nullable("string"),
            "started_at": NULLABLE_DATE_TIME,
            "finished_at": NULLABLE_DATE_TIME,
            "created_at": DATE_TIME,
            "steps": {"type": "array", "items": _ref("Step")},
        },
    },
    "CampaignPage": _page("Campaign"),
    "StepStats": {
        "type": "object",
        "required": [
            "step_id",
            "number",
            "channel",
            "title",
            "total",
            "states",
            "skipped_by_reason",
            "cancelled_by_reason",
            "opt_outs",
            "complaints",
            "complaint_rate",
        ],
        "properties": {
            "step_id": {"type": "integer"},
            "number": {"type": "integer"},
            "channel": {"enum": list(CHANNELS)},
            "title": {"type": "string"},
            "total": {"type": "integer", "minimum": 0},
            "states": {
                "type": "object",
                "required": list(STATE_ORDER),
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
            "skipped_by_reason": COUNTS,
            "cancelled_by_reason": COUNTS,
            "opt_outs": {"type": "integer", "minimum": 0},
            "complaints": {"type": "integer", "minimum": 0},
            "complaint_rate": _nullable("number", minimum=0),
        },
    },
    "CampaignStats": {
        "type": "object",
        "description": "The numbers of the staff results dashboard, same definitions.",
        "required": [
            "campaign_id",
            "name",
            "status",
            "paused_reason",
            "generated_at",
            "opt_out_window_days",
            "steps",
            "totals",
            "series",
        ],
        "properties": {
            "campaign_id": {"type": "integer"},
            "name": {"type": "string"},
            "status": {"enum": list(CAMPAIGN_STATES)},
            "paused_reason": _nullable("string"),
            "generated_at": DATE_TIME,
            "opt_out_window_days": {"type": "integer"},
            "steps": {"type": "array", "items": _ref("StepStats")},
            "totals": {"type": "object", "additionalProperties": _ref("StepStats")},
            "series": {
                "type": "object",
                "required": ["unit", "buckets"],
                "properties": {
                    "unit": {"enum": ["hour", "day"]},
                    "buckets": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["start", "sent", "delivered"],
                            "properties": {
                                "start": DATE_TIME,
                                "sent": {"type": "integer", "minimum": 0},
                                "delivered": {"type": "integer", "minimum": 0},
                            },
                        },
                    },
                },
            },
        },
    },
    "PauseRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 300}},
    },
    "Message": {
        "type": "object",
        "required": [
            "id",
            "campaign_id",
            "step_id",
            "subscriber",
            "channel",
            "state",
            "skip_reason",
            "due_at",
            "sent_at",
            "delivered_at",
            "opened_at",
            "clicked_at",
            "attempts",
            "error_code",
            "provider_id",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "campaign_id": {"type": "integer"},
            "step_id": {"type": "integer"},
            "subscriber": {"type": "string", "pattern": PUBLIC_ID_PATTERN},
            "channel": {"enum": list(CHANNELS)},
            "state": {"enum": list(MESSAGE_STATES)},
            "skip_reason": _nullable("string"),
            "due_at": DATE_TIME,
            "sent_at": NULLABLE_DATE_TIME,
            "delivered_at": NULLABLE_DATE_TIME,
            "opened_at": NULLABLE_DATE_TIME,
            "clicked_at": NULLABLE_DATE_TIME,
            "attempts": {"type": "integer", "minimum": 0},
            "error_code": _nullable("string"),
            "provider_id": _nullable("string"),
            "created_at": DATE_TIME,
            "updated_at": DATE_TIME,
        },
    },
    "MessagePage": _page("Message"),
}

PARAMETERS: dict[str, Any] = {
    "limit": {
        "name": "limit",
        "in": "query",
        "description": f"Items per page (default {DEFAULT_LIMIT}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "description": "The `next_cursor` of the previous page.",
        "schema": {"type": "string", "pattern": CURSOR_PATTERN},
    },
    "campaign_id": {
        "name": "campaign_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT_ID},
    },
    "subscriber_id": {
        "name": "subscriber_id",
        "in": "path",
        "required": True,
        "description": "The subscriber's public id.",
        "schema": {"type": "string", "pattern": PUBLIC_ID_PATTERN},
    },
    "slug": {
        "name": "slug",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,79}$"},
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_TYPE: {"schema": _ref("Problem")}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _problem("The request is malformed (bad query parameter or JSON)."),
    "Unauthorized": _problem("No valid bearer token."),
    "NotFound": _problem("No such resource."),
    "Conflict": _problem("Not possible in the resource's current state."),
    "Unprocessable": _problem("The body is well-formed but a field is invalid."),
    "UnsupportedMediaType": _problem("The body must be application/json."),
    "TooManyRequests": _problem("Rate limit reached for this token; see Retry-After."),
}


def _ok(description: str, schema: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": _ref(schema)}},
        }
    }


def _errors(*names: str) -> dict[str, Any]:
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "NotFound": "404",
        "Conflict": "409",
        "UnsupportedMediaType": "415",
        "Unprocessable": "422",
        "TooManyRequests": "429",
    }
    chosen = ("Unauthorized", "TooManyRequests", *names)
    return {codes[n]: {"$ref": f"#/components/responses/{n}"} for n in chosen}


def _params(*names: str) -> list[dict[str, str]]:
    return [{"$ref": f"#/components/parameters/{n}"} for n in names]


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


SUBSCRIBER_EXAMPLES = {
    "with_evidence": {
        "summary": "Consent given on the clinic's intake form (single opt-in where allowed)",
        "value": {
            "audience": "migraine-awareness",
            "email": "ann.reader@example.org",
            "phone": "+19175550142",
            "first_name": "Ann",
            "timezone": "America/New_York",
            "channels": ["email", "sms"],
            "consent": {
                "wording": "Yes, email and text me Migraine Awareness news from NeuroMedici.",
                "given_at": "2027-05-30T14:00:00Z",
                "form_url": "https://clinic.example/intake",
                "ip_address": "203.0.113.7",
                "user_agent": "Mozilla/5.0",
                "reference": "crm-48213",
            },
        },
    },
    "double_opt_in": {
        "summary": "No evidence: the person gets a confirmation email",
        "value": {"audience": "migraine-awareness", "email": "ben@example.org"},
    },
}

PATHS: dict[str, Any] = {
    "/audiences": {
        "get": {
            "operationId": "listAudiences",
            "tags": ["audiences"],
            "summary": "List audiences",
            "parameters": _params("limit", "cursor"),
            "responses": {**_ok("A page of audiences.", "AudiencePage"), **_errors("BadRequest")},
        }
    },
    "/audiences/{slug}": {
        "get": {
            "operationId": "getAudience",
            "tags": ["audiences"],
            "summary": "One audience",
            "parameters": _params("slug"),
            "responses": {**_ok("The audience.", "Audience"), **_errors("NotFound")},
        }
    },
    "/subscribers": {
        "get": {
            "operationId": "listSubscribers",
            "tags": ["subscribers"],
            "summary": "List subscribers, or look one up by email or phone",
            "parameters": [
                _query(
                    "email",
                    {"type": "string", "maxLength": 320},
                    "Exact email address (normalised before the lookup).",
                ),
                _query(
                    "phone",
                    {"type": "string", "maxLength": 32},
                    "Mobile number, E.164 or US national format.",
                ),
                *_params("limit", "cursor"),
            ],
            "responses": {
                **_ok("A page of subscribers.", "SubscriberPage"),
                **_errors("BadRequest"),
            },
        },
        "post": {
            "operationId": "createSubscriber",
            "tags": ["subscribers"],
            "summary": "Add a subscriber with consent evidence",
            "description": (
                "Single opt-in (active at once) only when the audience allows it for the API "
                "and `consent` evidence is supplied; otherwise the subscription is pending and "
                "the person gets a confirmation message (email link, or a text asking for "
                "YES). A withdrawn or suppressed contact is never re-activated here: it "
                "always needs the person's own confirmation. Posting again for a pending "
                "subscription sends the confirmation again."
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": _ref("SubscriberCreate"),
                        "examples": SUBSCRIBER_EXAMPLES,
                    }
                },
            },
            "responses": {
                **_ok("The subscriber was already on file.", "SubscriberCreated"),
                **_ok("A new subscriber.", "SubscriberCreated", "201"),
                **_errors("BadRequest", "Conflict", "UnsupportedMediaType", "Unprocessable"),
            },
        },
    },
    "/subscribers/{subscriber_id}": {
        "get": {
            "operationId": "getSubscriber",
            "tags": ["subscribers"],
            "summary": "One subscriber",
            "parameters": _params("subscriber_id"),
            "responses": {**_ok("The subscriber.", "Subscriber"), **_errors("NotFound")},
        }
    },
    "/subscribers/{subscriber_id}/consent": {
        "get": {
            "operationId": "getConsentHistory",
            "tags": ["subscribers"],
            "summary": "Consent history: every ledger row with its evidence (JSON)",
            "parameters": _params("subscriber_id"),
            "responses": {
                **_ok("The consent evidence.", "ConsentHistory"),
                **_errors("NotFound"),
            },
        }
    },
    "/subscribers/{subscriber_id}/consent.csv": {
        "get": {
            "operationId": "getConsentHistoryCsv",
            "tags": ["subscribers"],
            "summary": "Consent history as CSV, one row per consent change",
            "parameters": _params("subscriber_id"),
            "responses": {
                "200": {
                    "description": "The consent evidence.",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                **_errors("NotFound"),
            },
        }
    },
    "/campaigns": {
        "get": {
            "operationId": "listCampaigns",
            "tags": ["campaigns"],
            "summary": "List campaigns",
            "parameters": [
                _query("status", {"enum": list(CAMPAIGN_STATES)}, "Only campaigns in this state."),
                *_params("limit", "cursor"),
            ],
            "responses": {**_ok("A page of campaigns.", "CampaignPage"), **_errors("BadRequest")},
        }
    },
    "/campaigns/{campaign_id}": {
        "get": {
            "operationId": "getCampaign",
            "tags": ["campaigns"],
            "summary": "One campaign",
            "parameters": _params("campaign_id"),
            "responses": {**_ok("The campaign.", "Campaign"), **_errors("NotFound")},
        }
    },
    "/campaigns/{campaign_id}/stats": {
        "get": {
            "operationId": "getCampaignStats",
            "tags": ["campaigns"],
            "summary": "Results: counts by step and state, opt-outs, complaints, sends over time",
            "parameters": _params("campaign_id"),
            "responses": {**_ok("The results.", "CampaignStats"), **_errors("NotFound")},
        }
    },
    "/campaigns/{campaign_id}/pause": {
        "post": {
            "operationId": "pauseCampaign",
            "tags": ["campaigns"],
            "summary": "Pause a scheduled or running campaign (queued messages wait)",
            "parameters": _params("campaign_id"),
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("PauseRequest")}},
            },
            "responses": {
                **_ok("The paused campaign.", "Campaign"),
                **_errors(
                    "BadRequest", "NotFound", "Conflict", "UnsupportedMediaType", "Unprocessable"
                ),
            },
        }
    },
    "/campaigns/{campaign_id}/resume": {
        "post": {
            "operationId": "resumeCampaign",
            "tags": ["campaigns"],
            "summary": "Resume a paused campaign",
            "parameters": _params("campaign_id"),
            "responses": {
                **_ok("The resumed campaign.", "Campaign"),
                **_errors("NotFound", "Conflict"),
            },
        }
    },
    "/messages": {
        "get": {
            "operationId": "listMessages",
            "tags": ["messages"],
            "summary": "Outbox messages, filtered by subscriber, campaign and state",
            "parameters": [
                _query(
                    "subscriber",
                    {"type": "string", "pattern": PUBLIC_ID_PATTERN},
                    "A subscriber's public id.",
                ),
                _query(
                    "campaign",
                    {"type": "integer", "minimum": 1, "maximum": MAX_INT_ID},
                    "A campaign id.",
                ),
                _query("state", {"enum": list(MESSAGE_STATES)}, "An outbox state."),
                *_params("limit", "cursor"),
            ],
            "responses": {**_ok("A page of messages.", "MessagePage"), **_errors("BadRequest")},
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "tags": ["meta"],
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}

DESCRIPTION = """\
The Outreach JSON API: audiences, subscribers with consent evidence, campaigns and their
results, and outbox messages.

* **Authentication**: `Authorization: Bearer <token>`. Tokens are created with
  `flask outreach create-api-token --name NAME` or at `/admin/api-tokens`; only a hash is
  stored.
* **Pagination**: lists return `{"items": [...], "next_cursor": "..."}`; pass
  `cursor=<next_cursor>` for the next page (`limit` 1-200, default 50). Items are ordered
  by id, so pages are stable while rows are added.
* **Errors**: `application/problem+json` (RFC 9457) with `title`, `status`, `detail` and,
  for invalid fields, `errors` (field -> message).
* **Rate limits**: per token (default 120 requests per minute); a `429` says when to retry
  (`Retry-After`, `X-RateLimit-*` headers).
"""


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh copy)."""
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {"title": "Outreach API", "version": "1.0.0", "description": DESCRIPTION},
            "servers": [{"url": "/api/v1"}],
            "security": [{"bearerAuth": []}],
            "tags": [
                {"name": "audiences"},
                {"name": "subscribers"},
                {"name": "campaigns"},
                {"name": "messages"},
                {"name": "meta"},
            ],
            "paths": PATHS,
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
                },
                "schemas": SCHEMAS,
                "parameters": PARAMETERS,
                "responses": RESPONSES,
            },
        }
    )


def request_schema(name: str) -> dict[str, Any]:
    """A request-body schema, self-contained (with ``$defs``) for jsonschema validation."""
    schema = copy.deepcopy(SCHEMAS[name])
    schema["$defs"] = {k: copy.deepcopy(v) for k, v in SCHEMAS.items() if k != name}
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
