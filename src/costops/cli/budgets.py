"""costops budgets: each budget's spent, reserved, limit, forecast and reset time.

By default it asks the running gateway (``GET /admin/budgets/status``), which knows what is held
by requests in flight; with ``--db`` (and the ``--config`` that defines the budgets) it computes
spend and forecasts from the ledger alone, for a gateway that is not running.
"""

from __future__ import annotations

import json
from typing import Any

import click

from costops.cli.options import config_option


def _from_gateway(url: str, admin_key: str | None) -> list[dict[str, Any]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{url.rstrip('/')}/admin/budgets/status")
    if admin_key:
        request.add_header("authorization", f"Bearer {admin_key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())["budgets"]
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        if exc.code == 401:
            raise click.ClickException(f"{url}: the admin key was refused; pass --admin-key or set COSTOPS_ADMIN_KEY") from None
        if exc.code == 404:
            raise click.ClickException(f"{url}: no budgets there; add a 'budgets:' section to the gateway's config") from None
        raise click.ClickException(f"{url}: HTTP {exc.code}: {detail}") from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot reach the gateway at {url} ({exc}); start it with `costops serve`, pass --url, "
            "or read the ledger directly with --db and --config"
        ) from None


def _from_ledger(config_path: str | None, db: str) -> list[dict[str, Any]]:
    import asyncio
    import time

    from costops.config import ConfigError, load_config
    from costops.control import monitor
    from costops.control.budgets import BudgetsStage
    from costops.control.reservations import MemoryState

    try:
        config = load_config(config_path, db=db)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if "budgets" not in config.sections:
        raise click.ClickException("--db needs the --config file that defines the budgets (its 'budgets:' section)")
    stage = BudgetsStage(config, time.time, state=MemoryState())

    async def compute() -> list[dict[str, Any]]:
        try:
            await monitor.refresh(stage, initial=True)
            return monitor.public(await monitor.status(stage))
        finally:
            if stage._store is not None:
                stage._store.close()

    return asyncio.run(compute())


def render(rows: list[dict[str, Any]]) -> str:
    from costops.analysis.report import money, table

    lines = []
    for r in rows:
        used = f"{r['pct']:.1f}%" if r["active"] else "-"
        lines.append([
            r["name"], r["scope_text"], r["window"], money(r["spent_usd"]), money(r["reserved_usd"]),
            money(r["limit_usd"]), used, money(r["forecast_usd"]), r["resets_at"] or "not in force",
        ])
    return table(["budget", "scope", "window", "spent", "reserved", "limit", "used", "forecast", "resets"], lines)


@click.command()
@click.option("--url", envvar="COSTOPS_URL", default="http://127.0.0.1:4000", show_default=True,
              help="The running gateway (env COSTOPS_URL).")
@click.option("--admin-key", envvar="COSTOPS_ADMIN_KEY", default=None, help="server.admin_key (env COSTOPS_ADMIN_KEY).")
@click.option("--db", default=None, help="Compute from this ledger instead of asking a gateway (needs --config).")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def budgets(url: str, admin_key: str | None, db: str | None, config_path: str | None, as_json: bool) -> None:
    """Show every budget: spent, reserved (held by requests in flight), limit, forecast, reset time."""
    rows = _from_ledger(config_path, db) if db else _from_gateway(url, admin_key)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("no budgets defined")
    else:
        click.echo(render(rows))


COMMANDS = [budgets]
