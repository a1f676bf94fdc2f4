"""costops export focus: the ledger as FinOps FOCUS 1.2 rows, for FinOps tools."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable

import click

from costops.cli.options import db_option, engine_option
from costops.cli.reading import open_ledger, reader, when_of
from costops.ledger.query import Filters


@click.group("export")
def export_group() -> None:
    """Write the ledger in formats other tools read."""


@export_group.command("focus")
@db_option
@click.option("--since", default="30d", show_default=True,
              help="Start: a duration back from now (30d, 12h, 2w) or a UTC date/time (2026-11-01).")
@click.option("--until", help="End, exclusive; a bare date (2026-11-30) includes that whole day.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--granularity", type=click.Choice(["call", "hour"]), default="call", show_default=True,
              help="One row per call and token kind, or summed per hour, provider, deployment, model, tenant, tags and kind.")
@click.option("--out", "-o", "out", default="-", show_default=True,
              help="File to write; '-' is standard output (CSV only).")
@engine_option
@click.option("--billing-account-id", default="costops", show_default=True, help="FOCUS BillingAccountId.")
@click.option("--billing-account-name", default="costops gateway", show_default=True, help="FOCUS BillingAccountName.")
def focus_command(db: str, since: str, until: str | None, fmt: str, granularity: str, out: str, engine_url: str | None,
                  billing_account_id: str, billing_account_name: str) -> None:
    """FinOps FOCUS 1.2 cost and usage rows (BilledCost, EffectiveCost, ListCost, ConsumedQuantity,
    ChargePeriodStart...): exact decimal dollars, one row per call and token kind or per hour.
    Hourly rows are summed by the analytics engine (--engine; 'ledger': read every call here)."""
    from costops.analysis.focus import Account, charges, engine_charges, focus_row, hourly_sql

    if fmt == "parquet" and out == "-":
        raise click.BadParameter("Parquet is written to a file: give --out PATH.parquet", param_hint="--out")
    now = time.time()
    filters = Filters(since=when_of(since, "--since", now=now), until=when_of(until, "--until", now=now, end_of_day=True))
    account = Account(billing_account_id, billing_account_name)
    if granularity == "hour" and engine_url != "ledger":
        with reader(db, engine_url) as engine:
            summed = engine_charges(engine.select(lambda d: hourly_sql(filters, d)))
        n = _write((focus_row(c, account) for c in summed), fmt, out)
    else:
        store = open_ledger(db, must_exist=True)
        try:
            n = _write((focus_row(c, account) for c in charges(store.iter_records(filters), hourly=granularity == "hour")),
                       fmt, out)
        finally:
            store.close()
    if out != "-":
        click.echo(f"Wrote {n:,} FOCUS 1.2 row(s) to {out}.", err=True)


def _write(rows: Iterable[dict[str, object]], fmt: str, out: str) -> int:
    from costops.analysis.focus import write_csv, write_parquet

    if fmt == "parquet":
        try:
            return write_parquet(out, rows)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
    if out == "-":
        return write_csv(sys.stdout, rows)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        return write_csv(fh, rows)


COMMANDS = [export_group]
