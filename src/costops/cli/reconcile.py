"""costops reconcile: what the gateway saw against what the provider billed, per day and model."""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from costops.cli.options import db_option, engine_option
from costops.cli.reading import reader, when_of
from costops.ledger.query import Filters

KEY_ENV = {"openai": "OPENAI_ADMIN_KEY", "anthropic": "ANTHROPIC_ADMIN_KEY"}
BASE_ENV = {"openai": "OPENAI_ADMIN_BASE_URL", "anthropic": "ANTHROPIC_ADMIN_BASE_URL"}


def _decimal(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number", param_hint=option) from None
    if not value.is_finite() or value < 0:
        raise click.BadParameter(f"{text!r} must be a number of at least 0", param_hint=option)
    return value


@click.command("reconcile")
@db_option
@engine_option
@click.option("--provider", type=click.Choice(["openai", "anthropic"]), required=True)
@click.option("--since", default="30d", show_default=True, help="Start: 30d, 2w, or a UTC date (2026-11-01).")
@click.option("--until", help="End, exclusive (default now); a bare date includes that whole day.")
@click.option("--admin-key", help="The provider's admin key (env OPENAI_ADMIN_KEY / ANTHROPIC_ADMIN_KEY).")
@click.option("--base-url", help="The provider's API (env OPENAI_ADMIN_BASE_URL / ANTHROPIC_ADMIN_BASE_URL); "
              "e.g. the simulator's URL.")
@click.option("--bill", "bill_file", type=click.Path(dir_okay=False, exists=True),
              help="Read a saved report ({\"usage\": [pages], \"costs\": [pages]}) instead of calling the API.")
@click.option("--save-bill", type=click.Path(dir_okay=False), help="Also write the fetched report to this file.")
@click.option("--deployment", "deployments", multiple=True, metavar="NAME",
              help="Only the ledger's calls through this deployment (repeatable); default: every deployment of the "
              "provider's API family (an OpenAI-compatible deployment of another company counts as openai).")
@click.option("--tolerance-usd", default="0.01", show_default=True, help="Differences up to this many dollars pass.")
@click.option("--tolerance-pct", default="1", show_default=True, help="... or up to this share of the larger side.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per day and model; money as decimal strings.")
def reconcile_command(db: str, engine_url: str | None, provider: str, since: str, until: str | None, admin_key: str | None,
                      base_url: str | None, bill_file: str | None, save_bill: str | None, deployments: tuple[str, ...],
                      tolerance_usd: str,
                      tolerance_pct: str, as_json: bool) -> None:
    """Gateway-observed spend against the provider's own usage and cost reports, per UTC day and
    model; each discrepancy beyond the tolerance is flagged with its likely cause (calls that
    bypassed the gateway, unpriced calls, a price change). Exits 1 when any is found."""
    from costops.billing.bills import BillError, fetch, parse
    from costops.billing.reconcile import Tolerance, billed_sides, observed_sides, reconcile

    tolerance = Tolerance(_decimal(tolerance_usd, "--tolerance-usd"), _decimal(tolerance_pct, "--tolerance-pct"))
    now = time.time()
    start = when_of(since, "--since", now=now)
    end = when_of(until, "--until", now=now, end_of_day=True) or now
    assert start is not None
    try:
        if bill_file:
            pages = json.loads(Path(bill_file).read_text())
        else:
            key = admin_key or os.environ.get(KEY_ENV[provider])
            if not key:
                raise click.UsageError(f"--admin-key (or {KEY_ENV[provider]}) is needed to read the {provider} "
                                       "usage and cost reports; or pass a saved report with --bill FILE")
            pages = fetch(provider, key, start, end, base_url or os.environ.get(BASE_ENV[provider]))
            if save_bill:
                Path(save_bill).write_text(json.dumps(pages, default=str))
        lines = parse(provider, pages)
    except BillError as exc:
        raise click.ClickException(str(exc)) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.ClickException(f"the {provider} report could not be read ({type(exc).__name__}: {exc}); "
                                   "is it the usage and cost API's JSON?") from None
    with reader(db, engine_url) as source:  # at scale the engine's deployment rollup answers this
        rows = source.aggregate(["day", "model", "deployment"], Filters(since=start, until=end, provider=provider))
    if deployments:
        rows = [r for r in rows if r["deployment"] in deployments]
    findings = reconcile(billed_sides(lines), observed_sides(rows), tolerance)
    if as_json:
        for f in findings:
            click.echo(json.dumps({
                "day": f.day, "model": f.model, "ok": f.ok, "cause": f.cause, "explanation": f.explanation,
                "billed_usd": str(f.billed.cost), "observed_usd": str(f.observed.cost), "difference_usd": str(f.difference),
                "billed_tokens": f.billed.tokens, "observed_tokens": f.observed.tokens,
                "billed_requests": f.billed.requests, "observed_requests": f.observed.requests,
                "observed_unpriced": f.observed.unpriced,
            }))
    else:
        click.echo(f"{'day':10s}  {'model':32s} {'billed $':>12s} {'gateway $':>12s} {'diff $':>12s}  verdict")
        for f in findings:
            verdict = "ok" if f.ok else f"DISCREPANCY ({f.cause}): {f.explanation}"
            click.echo(f"{f.day:10s}  {f.model[:32]:32s} {_money(f.billed.cost):>12s} {_money(f.observed.cost):>12s} "
                       f"{_money(f.difference):>12s}  {verdict}")
        bad = sum(not f.ok for f in findings)
        click.echo(f"{len(findings)} day-model pair(s), {bad} discrepanc{'y' if bad == 1 else 'ies'} beyond "
                   f"${tolerance.usd} or {tolerance.pct} %.")
    if any(not f.ok for f in findings):
        raise SystemExit(1)


def _money(value: Decimal) -> str:
    return f"{value:.6f}"


COMMANDS = [reconcile_command]
