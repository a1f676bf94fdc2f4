"""costops report, costops reprice: read the books, and price again what had no price."""

from __future__ import annotations

import time

import click
from click.core import ParameterSource

from costops.cli.options import config_option, db_option, engine_option
from costops.cli.reading import open_ledger, reader, tags_of, when_of
from costops.ledger.query import Filters, check_dimension


@click.command("report")
@db_option
@click.option("--since", help="Start: a duration back from now (7d, 12h, 30m, 2w) or a UTC date/time (2026-11-01).")
@click.option("--until", help="End, exclusive; a bare date (2026-11-30) includes that whole day.")
@click.option("--tenant", help="Only this tenant.")
@click.option("--project", help="Only this project.")
@click.option("--model", help="Only this model (the name sent upstream).")
@click.option("--provider", help="Only this provider family (openai, anthropic, gemini).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only calls with this tag (repeatable).")
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="DIM",
    help="An extra breakdown (repeatable): team, user, key, deployment, endpoint, status, tag:<name>...",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON; money as exact decimal strings.")
@engine_option
def report_command(
    db: str,
    since: str | None,
    until: str | None,
    tenant: str | None,
    project: str | None,
    model: str | None,
    provider: str | None,
    tags: tuple[str, ...],
    by: tuple[str, ...],
    as_json: bool,
    engine_url: str | None,
) -> None:
    """Spend, tokens and errors by model, provider, tenant, project, day and tag.

    The report runs on the analytics engine (DuckDB in memory by default, reading the ledger
    through its scanner); --engine ledger asks the ledger database itself."""
    from costops.analysis.report import build_report, default_dims, render_json, render_table

    for dim in by:
        try:
            check_dimension(dim)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--by") from None
    now = time.time()
    filters = Filters(
        since=when_of(since, "--since", now=now),
        until=when_of(until, "--until", now=now, end_of_day=True),
        tenant=tenant,
        project=project,
        model=model,
        provider=provider,
        tags=tags_of(tags),
    )
    with reader(db, engine_url) as source:
        result = build_report(source, filters, default_dims(source, filters, by))
    click.echo(render_json(result) if as_json else render_table(result).rstrip("\n"))


@click.command("reprice")
@db_option
@config_option
@click.option(
    "--unpriced-only/--all",
    default=True,
    show_default=True,
    help="Re-price only the records that had no price, or every record (after a price change).",
)
def reprice_command(db: str, config_path: str | None, unpriced_only: bool) -> None:
    """Price recorded calls again from their token counts, with the current prices and config."""
    from costops.analysis.report import reprice
    from costops.config import ConfigError, load_config
    from costops.money import from_nanos, usd_str

    ctx = click.get_current_context()
    # --db given (or COSTOPS_DB set) wins; otherwise the config file's ledger.db, then the default
    explicit = ctx.get_parameter_source("db") in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    try:
        config = load_config(config_path, db=db if explicit else None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    store = open_ledger(config.ledger.db, must_exist=True)
    try:
        result = reprice(store, config, unpriced_only=unpriced_only)
        totals = store.totals(Filters())
    finally:
        store.close()
    click.echo(f"Re-priced {result.examined:,} record(s): {result.changed:,} changed.")
    click.echo(
        f"Total cost now ${usd_str(from_nanos(totals['cost_nanos']))} "
        f"(list ${usd_str(from_nanos(totals['list_cost_nanos']))}) over {totals['requests']:,} request(s)."
    )
    if result.still_unpriced:
        names = ", ".join(f"{m or '(none)'} ({n})" for m, n in sorted(result.still_unpriced.items()))
        click.echo(f"Still without a price: {names}. Add them under `prices:` in the config and run `costops reprice` again.")
    if result.no_usage:
        from costops.analysis.report import NO_USAGE_HINT

        names = ", ".join(f"{m or '(none)'} ({n})" for m, n in sorted(result.no_usage.items()))
        click.echo(f"No usage reported by the provider: {names}. Left unpriced, not free (no tokens to price); {NO_USAGE_HINT}.")


COMMANDS = [report_command, reprice_command]
