"""costops experiments: per experiment or bandit and arm, cost, latency, errors and quality."""

from __future__ import annotations

import json
import time

import click

from costops.cli.options import db_option
from costops.cli.reading import open_ledger, tags_of, when_of
from costops.ledger.query import Filters


@click.command("experiments")
@db_option
@click.option("--policy", help="Only this experiment or bandit (its name under routing.policies).")
@click.option("--since", help="Start: a duration back from now (7d, 12h) or a UTC date/time (2026-11-01).")
@click.option("--until", help="End, exclusive; a bare date includes that whole day.")
@click.option("--tenant", help="Only this tenant.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only calls with this tag (repeatable).")
@click.option("--by-task", is_flag=True, help="One row per task type and arm (what a bandit learns per task).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON: (mean, low, high) triples; money as exact strings.")
def experiments_command(db: str, policy: str | None, since: str | None, until: str | None, tenant: str | None,
                        tags: tuple[str, ...], by_task: bool, as_json: bool) -> None:
    """Each arm's requests, errors, spend, cost and latency per request, and quality (feedback
    scores and automatic checks), with 95 % confidence intervals and the difference from the
    control arm."""
    from costops.analysis.experiments import build, render

    now = time.time()
    filters = Filters(since=when_of(since, "--since", now=now), until=when_of(until, "--until", now=now, end_of_day=True),
                      tenant=tenant, tags=tags_of(tags))
    store = open_ledger(db, must_exist=True)
    try:
        rows = store.arms(filters, policy)
    finally:
        store.close()
    report = build(rows, by_task=by_task)
    if policy is not None and not report:
        raise click.ClickException(f"policy {policy!r} has served no request in this ledger (with these filters)")
    click.echo(json.dumps(report, indent=2) if as_json else render(report))


COMMANDS = [experiments_command]
