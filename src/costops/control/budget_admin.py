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

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from costops.config import ConfigError
from costops.control.budget_spec import parse_budget
from costops.errors import BadRequest, CostopsError, NotFound
from costops.gateway.http import Receive, Scope, Send, read_body, respond

if TYPE_CHECKING:
    from costops.control.budgets import BudgetsStage

MAX_BODY = 64 * 1024


class Conflict(CostopsError):
    status = 409
    type = "invalid_request_error"
    code = "budget_exists"


def admin_routes(stage: BudgetsStage) -> dict[tuple[str, str], Any]:
    from costops.control import monitor

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

    async def list_budgets(scope: Scope, receive: Receive, send: Send) -> None:
        rows = monitor.public(await monitor.status(stage))
        for row in rows:
            row["definition"] = dict(stage.budgets[row["name"]].raw)
        await respond(send, 200, orjson.dumps({"budgets": rows}))

    async def status(scope: Scope, receive: Receive, send: Send) -> None:
        rows = monitor.public(await monitor.status(stage))
        await respond(send, 200, orjson.dumps({"now": stage.clock(), "budgets": rows,
                                               "alerts": [a.payload() for a in stage.alerts.sent[-20:]]}))

    async def create(scope: Scope, receive: Receive, send: Send) -> None:
        data = await body_of(scope, receive)
        if data.get("name") in stage.budgets:
            raise Conflict(f"budget {data['name']!r} exists; change it with PUT or PATCH /admin/budgets?name={data['name']}")
        await save(data, status=201, send=send)

    async def replace(scope: Scope, receive: Receive, send: Send) -> None:
        data = await body_of(scope, receive)
        data["name"] = name_of(scope, data)
        await save(data, status=200, send=send)

    async def patch(scope: Scope, receive: Receive, send: Send) -> None:
        data = await body_of(scope, receive)
        name = name_of(scope, data)
        if name not in stage.budgets:
            raise NotFound(f"no budget named {name!r}; create it with POST /admin/budgets")
        merged = {**stage.budgets[name].raw, **data, "name": name}
        await save(merged, status=200, send=send)

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
