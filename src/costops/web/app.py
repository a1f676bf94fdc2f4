"""The dashboard over HTTP: ``/dashboard`` (the page), ``/dashboard/assets/*`` (its files, shipped
in the package: no front-end build) and ``/dashboard/api/panels`` (every panel's data as JSON).

Served by the gateway and by ``costops dashboard --db URL`` alone. Access is the admin API's
(:func:`costops.gateway.edge.admin_refusal`): with ``server.admin_key`` every request needs it;
without one a loopback server answers anyone on the machine and any other bind is refused. A
browser cannot send a bearer header when it opens a page, so ``/dashboard?key=...`` checks the
key once, sets it as an ``HttpOnly; SameSite=Strict`` cookie scoped to ``/dashboard`` and
redirects to the bare URL (the key does not stay in the address bar or the history).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson

from costops.config import ServerConfig
from costops.errors import BadRequest, CostopsError, NotFound
from costops.gateway import edge
from costops.gateway.http import header, respond
from costops.gateway.principal import credential
from costops.ledger.query import Filters

COOKIE = "costops_admin"
OPTIONS_TTL_S = 60.0
ASSETS = {
    "dashboard.js": b"text/javascript; charset=utf-8",
    "dashboard.css": b"text/css; charset=utf-8",
    "chart.umd.min.js": b"text/javascript; charset=utf-8",
}
HTML = b"text/html; charset=utf-8"
SECURITY = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                 b"connect-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]

Scope = dict[str, Any]


def _asset(name: str) -> bytes:
    return resources.files("costops.web").joinpath("assets", name).read_bytes()


def _cookie(scope: Scope) -> str | None:
    raw = header(scope, b"cookie") or ""
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None


def filters_from(query: dict[str, list[str]], now: float) -> tuple[Filters, str]:
    """The page's filters: ``since`` / ``until`` (``7d`` back, or a date), tenant, project,
    ``tag=KEY=VALUE`` (repeatable) and ``stack``; a bad value is a 400 naming it."""
    import click

    from costops.cli.reading import parse_when

    def one(name: str) -> str | None:
        values = query.get(name) or []
        return values[-1] if values and values[-1] != "" else None

    try:
        since = parse_when(s, now=now) if (s := one("since")) else None
        until = parse_when(u, now=now, end_of_day=True) if (u := one("until")) else None
    except click.BadParameter as exc:
        raise BadRequest(f"since/until: {exc.message}") from None
    tags = {}
    for pair in query.get("tag", []):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadRequest(f"tag {pair!r}: write KEY=VALUE, e.g. tag=feature=search")
        tags[key] = value
    return Filters(since=since, until=until, tenant=one("tenant"), project=one("project"), tags=tags), one("stack") or "model"


class Dashboard:
    """``reader()`` returns a synced analytics reader (it may sync at most every few seconds);
    ``budgets()`` the budgets to draw."""

    def __init__(self, server: ServerConfig, reader: Callable[[], Any], *, budgets: Callable[[], Sequence[Any]] = tuple,
                 clock: Callable[[], float] = time.time, catalog: Any = None) -> None:
        self.server = server
        self.reader = reader
        self.budgets = budgets
        self.clock = clock
        self.catalog = catalog
        self._lock = asyncio.Lock()
        self._options: tuple[float, Any] | None = None

    def refused(self, scope: Scope) -> CostopsError | None:
        given = credential(header(scope, b"authorization"), header(scope, b"x-api-key"), None) or _cookie(scope)
        return edge.admin_refusal(self.server, "GET", given)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope["path"]
        if scope["method"] not in edge.READ_METHODS:
            error: CostopsError = edge.no_route(scope["method"], path, [("GET", path), ("HEAD", path)])
            await respond(send, error.status, error.render("openai"), edge.error_headers(error))
            return
        query: dict[str, list[str]] = {}
        for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
            query.setdefault(k, []).append(v)
        if path.startswith("/dashboard/assets/"):  # the page's own code and styles: no data, no key needed
            name = path[len("/dashboard/assets/") :]
            if name not in ASSETS:
                error = NotFound(f"no dashboard asset {name!r}")
                await respond(send, error.status, error.render("openai"), edge.error_headers(error))
            else:
                await respond(send, 200, _asset(name), [*SECURITY[1:3], (b"cache-control", b"max-age=300")], ASSETS[name])
            return
        if path in ("/dashboard", "/dashboard/") and "key" in query:
            await self._login(scope, send, query["key"][-1])
            return
        refused = self.refused(scope)
        if refused is not None:
            if path in ("/dashboard", "/dashboard/"):
                await respond(send, refused.status, _login_page(refused.message), SECURITY, HTML)
            else:
                await respond(send, refused.status, refused.render("openai"), edge.error_headers(refused))
            return
        try:
            if path in ("/dashboard", "/dashboard/"):
                await respond(send, 200, _asset("dashboard.html"), SECURITY, HTML)
            elif path == "/dashboard/api/panels":
                await respond(send, 200, await self._panels(query), SECURITY[1:])
            else:
                raise NotFound(f"no dashboard page {path!r}: open /dashboard")
        except CostopsError as error:
            await respond(send, error.status, error.render("openai"), edge.error_headers(error))

    async def _login(self, scope: Scope, send: Any, key: str) -> None:
        refused = edge.admin_refusal(self.server, "GET", key)
        if refused is not None:
            await respond(send, refused.status, _login_page(refused.message), SECURITY, HTML)
            return
        cookie = f"{COOKIE}={quote(key, safe='')}; Path=/dashboard; HttpOnly; SameSite=Strict".encode()
        await respond(send, 303, b"", [*SECURITY, (b"location", b"/dashboard"), (b"set-cookie", cookie)], HTML)

    async def _panels(self, query: dict[str, list[str]]) -> bytes:
        from costops.web.panels import panels

        now = self.clock()
        filters, stack = filters_from(query, now)

        def build() -> bytes:
            reader = self.reader()

            def cached_options() -> Any:  # the filter choices, asked again at most once a minute
                from costops.web.panels import options

                if self._options is None or time.monotonic() - self._options[0] > OPTIONS_TTL_S:
                    self._options = (time.monotonic(), options(reader))
                return self._options[1]

            try:
                data = panels(reader, filters, now=now, stack=stack, budgets=list(self.budgets()), catalog=self.catalog,
                              options_cache=cached_options)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
            return orjson.dumps(data)

        async with self._lock:  # one question at a time: the engine is shared, the machine small
            return await asyncio.to_thread(build)


def _login_page(message: str) -> bytes:
    from html import escape

    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>costops dashboard</title>"
        "<link rel=stylesheet href=/dashboard/assets/dashboard.css></head><body class=login>"
        f"<main><h1>costops dashboard</h1><p class=error>{escape(message)}</p>"
        "<form method=get action=/dashboard><label>Admin key <input type=password name=key autocomplete=off></label>"
        "<button type=submit>Open</button></form></main></body></html>"
    ).encode()
