"""Options shared by several commands, declared once so they read the same everywhere."""

from __future__ import annotations

import click

from costops.config import DEFAULT_DB

db_option = click.option(
    "--db",
    envvar="COSTOPS_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="Ledger URL: sqlite:///path.db or postgresql://user@host/dbname (env COSTOPS_DB).",
)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML or TOML config: deployments, aliases, virtual keys, price overrides.",
)
engine_option = click.option(
    "--engine",
    "engine_url",
    envvar="COSTOPS_ANALYTICS",
    default=None,
    help="Analytics engine: duckdb:// (default, in memory), duckdb:///path.duckdb (kept, synced incrementally), "
    "clickhouse://user:pw@host:8123/db, or 'ledger' to query the ledger database itself (env COSTOPS_ANALYTICS).",
)
