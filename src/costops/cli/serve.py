"""costops serve: the gateway on one port."""

from __future__ import annotations

import click

from costops.cli.options import config_option


@click.command()
@config_option
@click.option("--db", envvar="COSTOPS_DB", default=None, help="Ledger URL (env COSTOPS_DB); default sqlite:///costops.db.")
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1; others need virtual keys).")
@click.option("--port", type=int, default=None, help="Port (default 4000, env COSTOPS_PORT).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config_path: str | None, db: str | None, host: str | None, port: int | None, log_level: str) -> None:
    """Run the OpenAI- and Anthropic-compatible gateway.

    Providers come from OPENAI_API_KEY / OPENAI_BASE_URL, ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL and
    GEMINI_API_KEY / GEMINI_BASE_URL; --config adds deployments, aliases, virtual keys and prices.
    """
    import secrets
    from dataclasses import replace

    from costops.config import ConfigError, load_config
    from costops.gateway.app import create_app
    from costops.ledger.store import _mask
    from costops.serving import ServingServer, fit_fd_limit, uvicorn_config

    try:
        config = load_config(config_path, db=db, host=host, port=port)
        config.check_bind()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # mutating admin calls need a key even on loopback: without server.admin_key, a token for this start
    token = secrets.token_urlsafe(24) if config.server.loopback and not config.server.admin_key else None
    wanted = config.server.max_connections
    cap = fit_fd_limit(wanted)
    config = replace(config, server=replace(config.server, admin_token=token, max_connections=cap))
    click.echo(
        f"costops gateway on http://{config.server.host}:{config.server.port}  ledger={_mask(config.ledger.db)}  "
        f"deployments={', '.join(d.name for d in config.deployments)}  "
        f"keys={f'{len(config.keys)} virtual keys' if config.keys else 'none (loopback only)'}\n"
        f"dashboard: http://{config.server.host}:{config.server.port}/dashboard"
        + ("  (admin key: open /dashboard?key=<server.admin_key> once)" if config.server.admin_key else ""),
        err=True,
    )
    if token is not None:
        click.echo(f"admin token for this start (POST/PUT/PATCH/DELETE /admin/*): {token}\n"
                   f"  e.g. COSTOPS_ADMIN_KEY={token} costops cache invalidate --pattern '*'; "
                   "set server.admin_key for a lasting one", err=True)
    if cap < wanted:
        click.echo(f"warning: the open-file limit allows {cap} connections, not {wanted}: server.max_connections is {cap}; "
                   "raise the hard limit (ulimit -Hn) to serve more", err=True)
    server = ServingServer(
        uvicorn_config(create_app(config), config.server.host, config.server.port, log_level=log_level)
    )
    server.run()


COMMANDS = [serve]
