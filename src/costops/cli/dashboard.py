"""costops dashboard: the web dashboard over a ledger, without a running gateway."""

from __future__ import annotations

import os

import click

from costops.cli.options import config_option, db_option, engine_option

SYNC_EVERY_S = 5.0


@click.command("dashboard")
@db_option
@engine_option
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; any but loopback needs --admin-key.")
@click.option("--port", type=int, default=4100, show_default=True)
@click.option("--admin-key", envvar="COSTOPS_ADMIN_KEY", default=None, help="Key the dashboard asks for (env COSTOPS_ADMIN_KEY).")
def dashboard_command(db: str, engine_url: str | None, config_path: str | None, host: str, port: int, admin_key: str | None) -> None:
    """Serve the dashboard for the ledger at --db (budgets from --config); Ctrl-C stops it."""
    import uvicorn

    from costops.analysis.engine import open_engine
    from costops.cli.reading import open_ledger
    from costops.config import ConfigError, ServerConfig, load_config
    from costops.web.app import Dashboard

    server = ServerConfig(host=host, port=port, admin_key=admin_key)
    if not server.loopback and not admin_key:
        raise click.UsageError(f"--host {host} is reachable from other machines: set --admin-key (or COSTOPS_ADMIN_KEY)")
    budgets: list = []
    if config_path:
        try:
            config = load_config(config_path, db=db)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        raw = config.sections.get("budgets")
        if raw:
            from costops.control.budget_spec import parse_budgets

            budgets = list(parse_budgets(raw).budgets)
    open_ledger(db, must_exist=True).close()  # a wrong --db is a message now, not on the first page
    try:
        engine = open_engine(None if engine_url == "ledger" else engine_url, db, min_sync_interval_s=SYNC_EVERY_S)
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(f"--engine: {exc}") from None

    def reader():  # type: ignore[no-untyped-def]
        engine.sync()
        return engine

    app = Dashboard(server, reader, budgets=lambda: budgets)
    url = f"http://{host}:{port}/dashboard" + ("" if not admin_key else "?key=…")
    click.echo(f"costops dashboard on {url}  ledger={db}  engine={engine.name}  (Ctrl-C stops it)", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level=os.environ.get("COSTOPS_LOG_LEVEL", "warning"))
    finally:
        engine.close()


COMMANDS = [dashboard_command]
