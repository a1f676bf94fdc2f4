"""The gateway's own OpenAPI 3.1 document (``GET /openapi.json``), built from what it serves.

It is assembled from the running gateway, never written by hand, so it cannot drift from the
code. Its operations are exactly ``Gateway.route_table()``, the table the dispatcher's 404 / 405
answers are made from, and each is described by the code that serves it:

1. a proxied route (``ROUTES``): its request body as far as the gateway reads it (the rest goes
   to the provider untouched, so ``additionalProperties`` stays open and the provider judges it);
2. an admin route (a stage's ``admin_routes``): the handler declares its body, query and answer
   with :func:`admin_doc`, next to its code;
3. the gateway's own endpoints (health, models, this document): :data:`_OWN` below; ``/metrics``
   (Prometheus text, not JSON): :func:`_metrics`.

A route nothing describes still appears, flagged ``x-costops-undocumented`` (a test fails on
the flag), so a new route cannot go missing from the document.

Errors are documented in the shape the client gets: OpenAI's ``{"error": {...}}`` on the OpenAI
routes and the admin API, Anthropic's ``{"type": "error", "error": {...}}`` on ``/v1/messages``.
The document depends only on the config and the stages, both fixed once the gateway is built,
so its bytes are encoded once per gateway (:func:`document_bytes`).
"""

from __future__ import annotations

from typing import Any

import orjson

from costops.gateway.fields import MAX_CHOICES
from costops.gateway.surface import ROUTES, Served
from costops.pipeline.admin import ATTRIBUTE, AdminDoc, JSONSchema

_CACHE = "_openapi_body"
UNDOCUMENTED = "Undocumented: describe it in costops.gateway.openapi (or with admin_doc)"


def document_bytes(gateway: Served) -> bytes:
    """The encoded document, built on the first request and kept on the gateway."""
    body: bytes | None = getattr(gateway, _CACHE, None)
    if body is None:
        body = orjson.dumps(build_document(gateway))
        setattr(gateway, _CACHE, body)
    return body


def build_document(gateway: Served) -> dict[str, Any]:
    from costops import __version__

    paths: dict[str, dict[str, Any]] = {}
    keyed, admin_secured = bool(gateway.config.keys), bool(gateway.config.server.admin_key)
    for method, path in gateway.route_table():  # the table the dispatcher's 405s are built from
        route = ROUTES.get((method, path))
        if route is not None:
            operation = _proxied(path, *route, keyed)
        elif (method, path) == ("POST", "/v1/feedback"):
            operation = _feedback(keyed)
        elif path == "/metrics":
            server = gateway.config.server
            operation = _metrics(method, admin_secured or bool(server.metrics_key) or not server.loopback)
        elif path == "/dashboard":
            operation = _dashboard(method, admin_secured)
        elif (method, path) in gateway.admin_routes:
            doc = getattr(gateway.admin_routes[method, path], ATTRIBUTE, None)
            # the admin key, when set, guards every call; without it a loopback gateway lets
            # anyone read and asks for the per-start token for changes
            operation = _admin(method, path, doc, admin_secured or method not in ("GET", "HEAD"))
        else:
            operation = _own(method, path)
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "costops gateway",
            "version": __version__,
            "description": (
                "An OpenAI- and Anthropic-compatible gateway that prices, limits and caches LLM calls. "
                "The proxied endpoints are described as far as the gateway reads them; the provider "
                "judges the rest of the body. Every proxied answer carries x-costops-request-id."
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
            "schemas": _SCHEMAS,
        },
    }


# -- the proxied routes ----------------------------------------------------------------------------

_POSITIVE = {"type": "integer", "minimum": 1}
_TAG = "[A-Za-z0-9_.:-]+=[^,]*"
_DIRECTIVE = "(no-cache|no-store|off|force|ttl=[1-9][0-9]{0,6}|namespace=[A-Za-z0-9._-]{1,64})"
_COMMON_FIELDS: dict[str, Any] = {
    "model": {"type": "string", "minLength": 1, "description": "A model or alias the gateway serves (GET /v1/models)."},
    "metadata": {
        "type": "object",
        "description": "String, number and boolean entries become ledger tags; user_id names the end user.",
    },
    "user": {"type": "string", "description": "The end user, recorded in the ledger."},
    "costops_cache": {
        "type": "string",
        "pattern": f"^{_DIRECTIVE}(, ?{_DIRECTIVE})*$",
        "description": "Cache controls like the x-costops-cache header; removed before the provider sees the body.",
    },
}
_MESSAGES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "role": {"type": "string"},
            "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
            "tool_calls": {"type": "array", "items": {"type": "object"}},
        },
    },
    "description": "Read for token estimates, cache keys and translation between the APIs.",
}
_TOOLS = {
    "type": "array",
    "items": {"type": "object"},
    "description": "Read for token estimates, prompt-cache breakpoints and translation between the APIs.",
}
_STREAM_FIELDS: dict[str, Any] = {
    "stream": {"type": "boolean", "description": "true: Server-Sent Events."},
    "stream_options": {
        "type": "object",
        "properties": {"include_usage": {"type": "boolean"}},
        "additionalProperties": True,
    },
}
_BODIES: dict[str, dict[str, Any]] = {
    "chat.completions": {
        **_COMMON_FIELDS,
        **_STREAM_FIELDS,
        "messages": _MESSAGES,
        "tools": _TOOLS,
        "max_tokens": _POSITIVE,
        "max_completion_tokens": _POSITIVE,
        "n": {"type": "integer", "minimum": 1, "maximum": MAX_CHOICES},
    },
    "embeddings": {
        **_COMMON_FIELDS,
        "input": {"description": "A string, an array of strings, or token arrays."},
        "stream": {"type": "boolean", "enum": [False], "description": "Embeddings do not stream."},
    },
    "messages": {
        **_COMMON_FIELDS,
        **_STREAM_FIELDS,
        "messages": _MESSAGES,
        "tools": _TOOLS,
        "max_tokens": _POSITIVE,
        "system": {"description": "A string or an array of text blocks."},
    },
}
_SSE_EVENT = {
    "type": "object",
    "description": "One Server-Sent Event of the stream (as OpenAPI 3.2's itemSchema describes them).",
    "required": ["data"],
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "description": "A JSON chunk in this API's streaming shape; OpenAI's ends with [DONE]."},
    },
}
_HEADERS: tuple[tuple[str, str, JSONSchema], ...] = (
    ("x-costops-tags", "Ledger tags: name=value pairs separated by commas (feature=search,env=prod).",
     {"type": "string", "pattern": f"^{_TAG}(,{_TAG})*$"}),
    ("x-costops-cache", "Cache controls, comma-separated, each at most once: no-cache, no-store, off, force, "
     "ttl=SECONDS, namespace=NAME (a shared namespace of the config).",
     {"type": "string", "pattern": f"^{_DIRECTIVE}(, ?{_DIRECTIVE})*$"}),
    ("x-costops-priority", "Queue priority: high, normal, low or a digit 0-9 (9 first).",
     {"type": "string", "enum": ["high", "normal", "low", *"0123456789"]}),
    ("x-costops-deadline", "Give up queueing at this Unix time (seconds or milliseconds) or after this many seconds.",
     {"type": "string", "pattern": "^[0-9]{1,13}(\\.[0-9]+)?$"}),
)
_ANTHROPIC_HEADERS: tuple[tuple[str, str, JSONSchema], ...] = (
    ("anthropic-version", "Forwarded to Anthropic.", {"type": "string"}),
    ("anthropic-beta", "Forwarded to Anthropic.", {"type": "string"}),
)
_PROXIED_ERRORS = (400, 401, 403, 404, 413, 429, 500, 502, 503, 504)
_ERROR_TEXT = {
    400: "The request is malformed, or a field the gateway reads has the wrong type.",
    401: "Missing or unknown key.",
    403: "The key may not do this.",
    404: "Unknown model or route.",
    405: "Wrong method for this path.",
    409: "It exists already.",
    413: "The request body is over server.max_body_bytes.",
    429: "A budget, rate limit or the provider refused it for now; see retry-after.",
    500: "The gateway failed; the body carries the request id.",
    501: "A feature's optional dependency is not installed; the message names the extra to install.",
    502: "The provider failed or answered something unreadable.",
    503: "The provider is unreachable.",
    504: "The provider timed out.",
}


def _proxied(path: str, api: str, endpoint: str, keyed: bool) -> dict[str, Any]:
    properties = _BODIES[endpoint]
    headers = _HEADERS + (_ANTHROPIC_HEADERS if api == "anthropic" else ())
    ok: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if "stream_options" in properties:
        ok["text/event-stream"] = {"schema": _SSE_EVENT}
    return {
        "operationId": _operation_id("post", path),
        "summary": f"{endpoint} in the {'Anthropic' if api == 'anthropic' else 'OpenAI'} API, through costops",
        "tags": ["proxied"],
        "security": _security(required=keyed),
        "parameters": [{"name": n, "in": "header", "required": False, "description": d, "schema": dict(schema)}
                       for n, d, schema in headers],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {
                "type": "object", "required": ["model"], "properties": properties, "additionalProperties": True,
            }}},
        },
        "responses": {
            "200": {
                "description": "The provider's answer in this API's shape (SSE when stream is true).",
                "headers": {
                    "x-costops-request-id": {"schema": {"type": "string"}},
                    "x-costops-cost-usd": {"schema": {"type": "string"}, "description":
                                           "What the request cost: every attempt of it (a cascade's rejected tries, failed fallbacks)."},
                    "x-costops-attempt-cost-usd": {"schema": {"type": "string"}, "description":
                                                   "What the answering attempt cost, when the request made several."},
                },
                "content": ok,
            },
            **_errors(_PROXIED_ERRORS, "anthropic" if api == "anthropic" else "openai"),
        },
    }


# -- the gateway's own endpoints -------------------------------------------------------------------


_OWN: dict[str, tuple[str, JSONSchema]] = {
    "/health": ("Liveness and the ledger writer's backlog", {"$ref": "#/components/schemas/Health"}),
    "/v1/models": ("The models and aliases the gateway serves", {"$ref": "#/components/schemas/ModelList"}),
    "/models": ("The models and aliases the gateway serves", {"$ref": "#/components/schemas/ModelList"}),
    "/openapi.json": ("This document", {"type": "object", "required": ["openapi", "paths"]}),
}


def _feedback(keyed: bool) -> dict[str, Any]:
    from costops.gateway.feedback import MAX_COMMENT, MAX_ID

    text = {"type": "string", "maxLength": MAX_COMMENT}
    return {
        "operationId": "postV1Feedback",
        "summary": "A score (0 to 1) for an answered call, by its x-costops-request-id; a later score replaces it",
        "tags": ["gateway"],
        "security": _security(required=keyed),
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["request_id", "score"], "additionalProperties": True,
            "properties": {
                "request_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID},
                "score": {"type": "number", "minimum": 0, "maximum": 1},
                "comment": text, "source": text,
            },
        }}}},
        "responses": {
            "200": {"description": "Recorded", "content": {"application/json": {"schema": {
                "type": "object", "required": ["request_id", "score", "recorded"],
                "properties": {"request_id": {"type": "string"}, "score": {"type": "number"}, "recorded": {"type": "boolean"}},
            }}}},
            **_errors((400, 401, 404, 413), "openai", request_id=False),
        },
    }


def _own(method: str, path: str) -> dict[str, Any]:
    summary, schema = _OWN.get(path, (UNDOCUMENTED, {"type": "object"}))
    ok: dict[str, Any] = {"description": summary}
    if method != "HEAD":
        ok["content"] = {"application/json": {"schema": dict(schema)}}
    operation: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": summary,
        "tags": ["gateway"],
        "security": [{}],
        "responses": {"200": ok},
    }
    if path not in _OWN:
        operation["x-costops-undocumented"] = True
    return operation


def _metrics(method: str, secured: bool) -> dict[str, Any]:
    summary = ("Prometheus metrics: requests, tokens by kind, cost (list and effective), latency and time to first "
               "token, cache hits, budgets, refusals, queue depth, the ledger's write lag, upstream errors")
    ok: dict[str, Any] = {"description": "The text exposition format (OpenMetrics when Accept asks for it)"}
    if method != "HEAD":
        ok["content"] = {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"}}}
    return {
        "operationId": _operation_id(method, "/metrics"),
        "summary": summary,
        "description": "Read with server.metrics_key (a token that reads this and nothing else) or the admin key, "
                       "as 'Authorization: Bearer <key>'; open on a loopback gateway with neither.",
        "tags": ["gateway"],
        "security": _security(required=secured),
        "responses": {"200": ok, **_errors((401, 403, 501), "openai", request_id=False)},
    }


def _dashboard(method: str, secured: bool) -> dict[str, Any]:
    """The web dashboard's page (its data comes from ``/dashboard/api/panels``, which it calls)."""
    ok: dict[str, Any] = {"description": "The dashboard page (HTML; a login form when the admin key is missing)"}
    if method != "HEAD":
        ok["content"] = {"text/html": {"schema": {"type": "string"}}}
    return {
        "operationId": _operation_id(method, "/dashboard"),
        "summary": "The web dashboard: spend, budgets, caches, rejections, routing; behind the admin key",
        "tags": ["admin"],
        "security": _security(required=secured),
        "parameters": [{"name": "key", "in": "query", "required": False, "schema": {"type": "string"},
                        "description": "The admin key, checked once and kept in an HttpOnly cookie"}],
        "responses": {"200": ok, "401": {"description": "The admin key is missing or wrong",
                                         "content": {"text/html": {"schema": {"type": "string"}}}},
                      "403": {"description": "A gateway reachable from other machines without server.admin_key",
                              "content": {"text/html": {"schema": {"type": "string"}}}}},
    }


# -- the stages' admin API -------------------------------------------------------------------------


def _admin(method: str, path: str, doc: AdminDoc | None, secured: bool) -> dict[str, Any]:
    if doc is None:
        doc = AdminDoc(UNDOCUMENTED, {"type": "object"})
    operation: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": doc.summary,
        "tags": ["admin"],
        "security": _security(required=secured),
    }
    if doc.summary == UNDOCUMENTED:
        operation["x-costops-undocumented"] = True
    if doc.query:
        operation["parameters"] = [
            {"name": p.name, "in": "query", "required": p.required, "description": p.description, "schema": dict(p.schema)}
            for p in doc.query
        ]
    if doc.request is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": dict(doc.request)}}}
    operation["responses"] = {
        str(doc.status): {"description": doc.summary, "content": {"application/json": {"schema": dict(doc.response)}}},
        **_errors(tuple(sorted({401, 403, *doc.errors, 500})), "openai", request_id=False),
    }
    return operation


# -- shared pieces ---------------------------------------------------------------------------------


def _security(*, required: bool) -> list[dict[str, list[str]]]:
    schemes: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
    return schemes if required else [*schemes, {}]


def _errors(statuses: tuple[int, ...], api: str, *, request_id: bool = True) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{'AnthropicError' if api == 'anthropic' else 'OpenAIError'}"}
    out: dict[str, Any] = {}
    for status in statuses:
        out[str(status)] = {"description": _ERROR_TEXT.get(status, "An error."), "content": {"application/json": {"schema": ref}}}
        if request_id:
            out[str(status)]["headers"] = {"x-costops-request-id": {"schema": {"type": "string"}}}
    return out


def _operation_id(method: str, path: str) -> str:
    words = [w for w in path.replace(".", "/").replace("-", "/").split("/") if w]
    return method.lower() + "".join(w.capitalize() for w in words)


_SCHEMAS: dict[str, Any] = {
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }},
    },
    "AnthropicError": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "ledger"],
        "properties": {
            "status": {"enum": ["ok", "degraded"]},
            "ledger": {"type": "object", "description": "The ledger writer: pending rows, behind or not."},
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "object", "owned_by"],
                "properties": {
                    "id": {"type": "string"},
                    "object": {"const": "model"},
                    "created": {"type": "integer"},
                    "owned_by": {"type": "string", "description": "The deployment that serves it, or costops for an alias."},
                },
            }},
        },
    },
}
