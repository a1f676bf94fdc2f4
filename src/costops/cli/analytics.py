"""costops spend, costops chargeback: the analytics engine's questions from the terminal."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

import click

from costops.cli.options import db_option, engine_option
from costops.cli.reading import reader, tags_of, when_of
from costops.ledger.query import Filters


def period_filters(since: str | None, until: str | None, tenant: str | None, project: str | None,
                   tags: tuple[str, ...], *, now: float) -> Filters:
    return Filters(since=when_of(since, "--since", now=now), until=when_of(until, "--until", now=now, end_of_day=True),
                   tenant=tenant, project=project, tags=tags_of(tags))


def _period_options(f: Any) -> Any:
    for option in reversed([
        click.option("--since", help="Start: 7d, 12h, 2w back from now, or a UTC date/time (2026-11-01)."),
        click.option("--until", help="End, exclusive; a bare date includes that whole day."),
        click.option("--tenant", help="Only this tenant."),
        click.option("--project", help="Only this project."),
        click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only calls with this tag (repeatable)."),
    ]):
        f = option(f)
    return f


@click.command("spend")
@db_option
@engine_option
@_period_options
@click.option("--by", "dim", default="model", show_default=True,
              help="Dimension: model, provider, deployment, tenant, team, project, user, key, cache, route, policy, arm, tag:<name>...")
@click.option("--view", type=click.Choice(["by", "series", "trend", "forecast", "anomalies", "unit"]), default="by",
              show_default=True,
              help="by: totals per value; series: per day stacked by --by; trend: the last 7 days against the 7 before, "
              "biggest movers first; forecast: the next days with an interval; "
              "anomalies: days far above each value's own baseline; unit: cost per request, user, good outcome.")
@click.option("--bucket", type=click.Choice(["hour", "day", "week", "month"]), default="day", show_default=True)
@click.option("--top", type=click.IntRange(1), default=10, show_default=True)
@click.option("--good-score", type=float, default=0.5, show_default=True, help="unit: a feedback score counted as a good outcome.")
@click.option("--json", "as_json", is_flag=True, help="JSON; money as exact decimal strings.")
def spend_command(db: str, engine_url: str | None, since: str | None, until: str | None, tenant: str | None,
                  project: str | None, tags: tuple[str, ...], dim: str, view: str, bucket: str, top: int,
                  good_score: float, as_json: bool) -> None:
    """Where the money goes: by any dimension, over time, forecast, anomalies, unit economics."""
    from costops.analysis import spend
    from costops.analysis.sql import check_dimension

    try:
        check_dimension(dim)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--by") from None
    now = time.time()
    filters = period_filters(since, until, tenant, project, tags, now=now)
    with reader(db, engine_url) as r:
        if view == "by":
            out = spend.by(r, dim, filters, top=top)
        elif view == "series":
            out = spend.series(r, filters, stack=dim, bucket=bucket, top=top)
        elif view == "trend":
            out = spend.trend(r, dim, filters, now=now, top=top)
        elif view == "forecast":
            out = spend.forecast(r, filters, now=now)
        elif view == "anomalies":
            out = spend.anomalies(r, dim, filters, now=now)
        else:
            out = spend.unit_economics(r, dim, filters, good_score=good_score)
    click.echo(json.dumps(out, indent=2) if as_json else _text(view, out))


def _text(view: str, out: dict[str, Any]) -> str:
    from costops.analysis.report import money, table

    if view == "by":
        rows = [[str(r["value"]), f"{r['requests']:,}", money(r["cost_usd"]), "-" if r["share"] is None else f"{r['share'] * 100:.1f}%"]
                for r in out["rows"]]
        return table((out["dimension"], "requests", "cost", "share"), rows) + f"\ntotal {money(out['total_cost_usd'])}"
    if view == "series":
        names = [str(s["name"]) for s in out["series"]]
        rows = [[b, *(money(s["cost_usd"][i]) for s in out["series"])] for i, b in enumerate(out["buckets"])]
        return table((out["bucket"], *names), rows)
    if view == "trend":
        rows = [[str(r["value"]), money(r["previous_usd"]), money(r["cost_usd"]),
                 r["change_usd"] if r["change_usd"].startswith("-") else "+" + r["change_usd"],
                 "new" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%"] for r in out["rows"]]
        return table((out["dimension"], f"previous {out['days']} d", f"last {out['days']} d", "change $", "change"), rows)
    if view == "forecast":
        rows = [[f["day"], money(f["cost_usd"]), money(f["low_usd"]), money(f["high_usd"])] for f in out["forecast"]]
        month = out.get("month") or {}
        tail = f"\n{month.get('month')}: spent {money(month.get('spent_usd') or '0')}, projected {money(month.get('projected_usd') or '0')}" if month else ""
        return table(("day", "expected", f"low ({int(out['level'] * 100)}%)", "high"), rows) + tail
    if view == "anomalies":
        if not out["anomalies"]:
            return f"no {out['dimension']} spent far above its own baseline in the last 7 days"
        rows = [[str(a["value"]), a["day"], money(a["cost_usd"]), money(a["baseline_usd"]), money(a["excess_usd"])] for a in out["anomalies"]]
        return table((out["dimension"], "day", "spent", "baseline", "excess"), rows)
    rows = [[str(r.get("value", "all")), f"{r['requests']:,}", money(r["cost_usd"]), _m(r["cost_per_request_usd"]),
             _m(r["cost_per_user_usd"]), _m(r["cost_per_good_outcome_usd"]),
             "-" if r["token_efficiency"] is None else f"{r['token_efficiency'] * 100:.1f}%"] for r in out["rows"]]
    return table((out["dimension"] or "all", "requests", "cost", "per request", "per user", "per good outcome", "token efficiency"), rows)


def _m(usd: str | None) -> str:
    from costops.analysis.report import money

    return "-" if usd is None else money(Decimal(usd))


@click.command("chargeback")
@db_option
@engine_option
@_period_options
@click.option("--by", type=click.Choice(["tenant", "team", "project"]), default="tenant", show_default=True)
@click.option("--allocate", type=click.Choice(["proportional", "fixed"]), default="proportional", show_default=True,
              help="How shared costs are split: in proportion to direct spend, or by --share.")
@click.option("--share", "shares", multiple=True, metavar="OWNER=WEIGHT", help="A fixed share of the shared costs (repeatable).")
@click.option("--markup", "markups", multiple=True, metavar="OWNER=RATE", help="0.10 adds 10 %, -0.05 takes 5 % off (repeatable).")
@click.option("--shared-cost", "shared_costs", multiple=True, metavar="NAME=USD",
              help="A cost the ledger does not hold, shared out too (the cache's servers...; repeatable).")
@click.option("--unowned", multiple=True, metavar="VALUE",
              help="Owner values that mean 'nobody' (default: none, empty and 'default', the tenant of keys without one).")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True)
@click.option("--showback", is_flag=True, help="No markups: what each owner consumed, not what it is billed.")
def chargeback_command(db: str, engine_url: str | None, since: str | None, until: str | None, tenant: str | None,
                       project: str | None, tags: tuple[str, ...], by: str, allocate: str, shares: tuple[str, ...],
                       markups: tuple[str, ...], shared_costs: tuple[str, ...], unowned: tuple[str, ...], fmt: str,
                       showback: bool) -> None:
    """Statements per tenant, team or project for a period; the totals reconcile with the ledger."""
    from costops.analysis import chargeback as cb

    parsed = {}
    for name, pairs, what in (("shares", shares, "--share"), ("markups", markups, "--markup"),
                              ("shared_costs", shared_costs, "--shared-cost")):
        try:
            parsed[name] = cb.parse_pairs(pairs, what)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=what) from None
    try:
        policy = cb.Policy(by=by, allocate=allocate, unowned=tuple(unowned) or cb.UNOWNED, **parsed)
        if showback:
            policy = replace(policy, markups={})
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    filters = period_filters(since, until, tenant, project, tags, now=time.time())
    with reader(db, engine_url) as r:
        out = cb.statements(r, filters, policy)
    render = {"md": cb.render_markdown, "csv": cb.render_csv, "json": cb.render_json}[fmt]
    click.echo(render(out).rstrip("\n"))


COMMANDS = [spend_command, chargeback_command]
