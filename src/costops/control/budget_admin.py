"""The budgets admin API (behind ``server.admin_key``; the gateway checks it before these run).

    GET    /admin/budgets                  every budget: its definition and its status
    GET    /admin/budgets/status           status only: spent, reserved, limit, forecast, reset
    POST   /admin/budgets                  create; the body is one budget as in the config file
    PUT    /admin/budgets?name=N           replace (or create) budget N
    PATCH  /admin/budgets?name=N           change some fields of budget N, e.g. {"limit_usd": 500}
    DELETE /admin/budgets?name=N           remove budget N (a config-file budget returns at restart,
                                           unless definitions are shared through Redis)

The gateway routes exact paths, so the budget's name travels in the query (or the body's
``name``). Definitions are kept in the budget state: in Redis every replica picks them up within
``budgets.check_interval_s``; in memory they last until the process restarts (lasting budgets
belong in the config file).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson

from costops.config import ConfigError
from costops.control import monitor
from costops.control.budget_spec import parse_budget
from costops.control.budgets_view import BudgetsView
from costops.errors import BadRequest, CostopsError, NotFound
from costops.gateway.http import Receive, Scope, Send, read_body, respond
from costops.pipeline.admin import Param, admin_doc

MAX_BODY = 64 * 1024

_TEXT = {"type": ["string", "number"]}
BUDGET_FIELDS = {
    "name": {"type": "string", "minLength": 1, "pattern": "^[^ /{}:]+$"},
    "limit_usd": {"type": ["number", "string"], "description": "USD per window, zero or more"},
    "scope": {"description": "'global' or e.g. {tenant: acme} or {tag: {feature: search}}", "oneOf": [
        {"const": "global"},
        {"type": "object", "additionalProperties": False, "properties": {
            **{k: _TEXT for k in ("tenant", "team", "project", "key", "user", "model", "provider", "deployment")},
            "tag": {"type": "object", "additionalProperties": _TEXT},
        }},
    ]},
    "window": {"enum": ["daily", "weekly", "monthly", "rolling", "fixed"]},
    "timezone": {"type": "string", "description": "IANA time zone, e.g. Europe/Berlin"},
    "days": {"type": "integer", "minimum": 1, "description": "window: rolling only"},
    "start": {"type": ["string", "number"], "description": "window: fixed only; ISO date or Unix time"},
    "end": {"type": ["string", "number"], "description": "window: fixed only; after start"},
    "thresholds": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 100}},
    "downgrade": {"description": "'default', or a map of model to cheaper model",
                  "oneOf": [{"type": "boolean"}, {"const": "default"}, {"type": "object", "additionalProperties": {"type": "string"}}]},
    "downgrade_at": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    "hard": {"type": "boolean"},
    "pace": {"oneOf": [{"type": "boolean"}, {"type": "object", "additionalProperties": False,
                                             "properties": {"burst_pct": {"type": "number", "minimum": 0, "maximum": 100}}}]},
}
"""One budget as the config file writes it (``budget_spec.parse_budget`` has the last word)."""
BUDGET_SCHEMA = {"type": "object", "required": ["name", "limit_usd"], "properties": BUDGET_FIELDS,
                 "additionalProperties": False}
CHANGE_SCHEMA = {"type": "object", "properties": BUDGET_FIELDS, "additionalProperties": False}
ROW_SCHEMA = {
    "type": "object",
    "required": ["name", "scope", "window", "limit_usd", "hard", "active", "spent_usd", "reserved_usd"],
    "properties": {
        "name": {"type": "string"}, "scope": {"type": "object"}, "scope_text": {"type": "string"},
        "window": {"type": "string"}, "limit_usd": {"type": "string"}, "hard": {"type": "boolean"},
        "active": {"type": "boolean"}, "spent_usd": {"type": "string"}, "reserved_usd": {"type": "string"},
        "forecast_usd": {"type": "string"}, "pct": {"type": "number"}, "resets_at": {"type": ["string", "null"]},
        "definition": {"type": "object"},
    },
}
"""A budget's status, as GET /admin/budgets/status lists it."""
NAME = Param("name", "The budget's name (or \"name\" in the body)")


class Conflict(CostopsError):
    status = 409
    type = "invalid_request_error"
    code = "budget_exists"


def admin_routes(stage: BudgetsView) -> dict[tuple[str, str], Any]:
    async def body_of(scope: Scope, receive: Receive) -> dict[str, Any]:
        raw = await read_body(scope, receive, MAX_BODY)
        try:
            data = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object describing one budget")
        return data

    def name_of(scope: Scope, data: dict[str, Any]) -> str:
        query = parse_qs(scope.get("query_string", b"").decode())
        name = (query.get("name") or [None])[0] or data.get("name")
        if not name:
            raise BadRequest("name the budget: ?name=<budget> (or \"name\" in the body)")
        return str(name)

    async def save(data: dict[str, Any], *, status: int, send: Send) -> None:
        try:
            budget = parse_budget(data, stage.settings, "budget", source="admin")
        except ConfigError as exc:
            raise BadRequest(str(exc)) from None
        await stage.state.define(budget.name, orjson.dumps(data))
        await monitor.load_definitions(stage)
        rows = monitor.public(await monitor.status(stage))
        await respond(send, status, orjson.dumps(next(r for r in rows if r["name"] == budget.name)))

    @admin_doc("Every budget: its definition and its status", response={
        "type": "object", "required": ["budgets"], "properties": {"budgets": {"type": "array", "items": ROW_SCHEMA}}})
    async def list_budgets(scope: Scope, receive: Receive, send: Send) -> None:
        rows = monitor.public(await monitor.status(stage))
        for row in rows:
            row["definition"] = dict(stage.budgets[row["name"]].raw)
        await respond(send, 200, orjson.dumps({"budgets": rows}))

    @admin_doc("Budget status: spent, reserved, limit, forecast, reset; the last alerts", response={
        "type": "object", "required": ["now", "budgets", "alerts"], "properties": {
            "now": {"type": "number"}, "budgets": {"type": "array", "items": ROW_SCHEMA},
            "alerts": {"type": "array", "items": {"type": "object"}}}})
    async def status(scope: Scope, receive: Receive, send: Send) -> None:
        rows = monitor.public(await monitor.status(stage))
        await respond(send, 200, orjson.dumps({"now": stage.clock(), "budgets": rows,
                                               "alerts": [a.payload() for a in stage.alerts.sent[-20:]]}))

    @admin_doc("Create a budget", request=BUDGET_SCHEMA, response=ROW_SCHEMA, status=201, errors=(400, 409, 413))
    async def create(scope: Scope, receive: Receive, send: Send) -> None:
        data = await body_of(scope, receive)
        if data.get("name") in stage.budgets:
            raise Conflict(f"budget {data['name']!r} exists; change it with PUT or PATCH /admin/budgets?name={data['name']}")
        await save(data, status=201, send=send)

    @admin_doc("Replace (or create) a budget", request=CHANGE_SCHEMA, response=ROW_SCHEMA, query=(NAME,),
               errors=(400, 413))
    async def replace(scope: Scope, receive: Receive, send: Send) -> None:
        data = await body_of(scope, receive)
        data["name"] = name_of(scope, data)
        await save(data, status=200, send=send)

    @admin_doc("Change some fields of a budget", request=CHANGE_SCHEMA, response=ROW_SCHEMA, query=(NAME,),
               errors=(400, 404, 413))
    async def patch(scope: Scope, receive: Receive, send: Send) -> None:
        data = await body_of(scope, receive)
        name = name_of(scope, data)
        if name not in stage.budgets:
            raise NotFound(f"no budget named {name!r}; create it with POST /admin/budgets")
        merged = {**stage.budgets[name].raw, **data, "name": name}
        await save(merged, status=200, send=send)

    @admin_doc("Remove a budget", query=(Param("name", "The budget's name", required=True),), errors=(400, 404),
               response={"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "string"}}})
    async def delete(scope: Scope, receive: Receive, send: Send) -> None:
        name = name_of(scope, {})
        if name not in stage.budgets:
            raise NotFound(f"no budget named {name!r}")
        await stage.state.define(name, b"null")
        await monitor.load_definitions(stage)
        await respond(send, 200, orjson.dumps({"deleted": name}))

    return {
        ("GET", "/admin/budgets"): list_budgets,
        ("GET", "/admin/budgets/status"): status,
        ("POST", "/admin/budgets"): create,
        ("PUT", "/admin/budgets"): replace,
        ("PATCH", "/admin/budgets"): patch,
        ("DELETE", "/admin/budgets"): delete,
    }
