"""costops report, costops reprice: read the books, and price again what had no price."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import click
from click.core import ParameterSource

from costops.cli.options import config_option, db_option, engine_option
from costops.ledger.query import Filters, check_dimension
from costops.ledger.store import LedgerStore, open_store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")


def parse_when(text: str, *, now: float, end_of_day: bool = False) -> float:
    """``7d`` / ``12h`` / ``30m`` / ``2w`` back from ``now``, a UTC date (``2026-11-01``: its
    midnight, or the next midnight with ``end_of_day``), or an ISO date-time (naive means UTC)."""
    text = text.strip()
    m = _AGO.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return (start + timedelta(days=1) if end_of_day else start).timestamp()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: use a duration back from now (7d, 12h, 30m, 2w), a date (2026-11-01) "
            "or a date-time (2026-11-01T12:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _when(text: str | None, option: str, *, now: float, end_of_day: bool = False) -> float | None:
    if not text:
        return None
    try:
        return parse_when(text, now=now, end_of_day=end_of_day)
    except click.BadParameter as exc:
        exc.param_hint = option
        raise


def _tags(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: write tags as KEY=VALUE, e.g. --tag feature=search", param_hint="--tag")
        out[key] = value
    return out


def open_ledger(url: str, *, must_exist: bool) -> LedgerStore:
    """Open and migrate the ledger, turning every way that fails into a message, not a traceback."""
    try:
        store = open_store(url, must_exist=must_exist)
    except FileNotFoundError as exc:
        raise click.ClickException(
            f"{exc}: nothing has been recorded there yet. Record calls with `costops serve` "
            "(or try `costops demo`), or point --db / COSTOPS_DB at your ledger."
        ) from None
    except ValueError as exc:
        raise click.ClickException(f"--db: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "sqlite3")):
            raise click.ClickException(f"cannot open the ledger database: {exc}") from None
        raise
    try:
        store.migrate()
    except Exception as exc:
        store.close()
        raise click.ClickException(f"cannot prepare the ledger tables: {exc}") from None
    return store


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
    from costops.cli.analytics import reader

    for dim in by:
        try:
            check_dimension(dim)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--by") from None
    now = time.time()
    filters = Filters(
        since=_when(since, "--since", now=now),
        until=_when(until, "--until", now=now, end_of_day=True),
        tenant=tenant,
        project=project,
        model=model,
        provider=provider,
        tags=_tags(tags),
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
