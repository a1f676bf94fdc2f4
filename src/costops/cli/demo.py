"""costops demo: the main job on embedded defaults, no keys, no network."""

from __future__ import annotations

import click


@click.command()
@click.option("--requests", "n", type=click.IntRange(1), default=4000, show_default=True,
              help="Workload size (each of the five policies replays it: 4,000 keeps `make demo` near two minutes).")
@click.option("--db", default="sqlite:///costops-demo.db", show_default=True,
              help="Ledger for the demo (a SQLite demo file is started afresh each run).")
@click.option("--seed", type=int, default=7, show_default=True, help="Workload and simulator seed.")
@click.option("--concurrency", type=click.IntRange(1, 512), default=16, show_default=True)
@click.option("--latency-scale", type=float, default=0.0, show_default=True,
              help="Simulated provider latency (1.0 = realistic; 0 = as fast as possible).")
@click.option("--workload", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Replay your own JSONL workload instead of the bundled one.")
@click.option("--export-workload", type=click.Path(dir_okay=False), default=None,
              help="Write the bundled workload as JSONL and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def demo(n: int, db: str, seed: int, concurrency: int, latency_scale: float, workload: str | None,
         export_workload: str | None, as_json: bool) -> None:
    """Replay a realistic workload through the gateway against the provider simulator, then report.

    Runs entirely in this process: the simulator stands in for OpenAI, Anthropic and Gemini, the
    gateway records every call in a SQLite ledger, and the report shows who spent what.
    """
    import json
    from pathlib import Path

    from costops.analysis.report import render_table
    from costops.demo.run import render_comparison, routing_targets, run_demo
    from costops.demo.workload import WorkItem, generate

    if workload:
        with open(workload, "rb") as f:
            items = [WorkItem.from_json(line) for line in f if line.strip()]
    else:
        items = list(generate(n, seed))
    if export_workload:
        Path(export_workload).write_bytes(b"\n".join(i.to_json() for i in items) + b"\n")
        click.echo(f"wrote {len(items)} requests to {export_workload}")
        return
    if db == "sqlite:///costops-demo.db":
        for suffix in ("", "-wal", "-shm"):
            Path("costops-demo.db" + suffix).unlink(missing_ok=True)
    click.echo(f"costops demo: {len(items):,} requests from {len({i.tenant for i in items})} tenants, "
               f"{len({i.body['model'] for i in items})} models -> gateway -> provider simulator; ledger {db}", err=True)
    runs = run_demo(items, db=db, concurrency=concurrency, latency_scale=latency_scale, seed=seed)
    if as_json:
        click.echo(json.dumps({run.policy.name: run.report for run in runs}, indent=2))
        return
    baseline = runs[0]
    click.echo(f"\n== {baseline.policy.name}: where the money goes ==")
    click.echo(render_table(baseline.report))
    click.echo("\n== policies compared (same requests) ==")
    click.echo(render_comparison(runs))
    click.echo("\nQuality is the mean score (0-100) the simulator's grades give the answers the clients got "
               "(the gateway never sees the hidden difficulty; the routed policy learns from those scores "
               "sent to POST /v1/feedback).")
    for line in routing_targets(runs):
        click.echo(line)
    click.echo(f"\nThe ledger is in {db}. Every run is tagged policy=<name>: for instance\n"
               f"  costops report --db {db} --tag policy={runs[-1].policy.name} --by tag:feature\n"
               f"  costops experiments --db {db} --by-task     (what the bandits learned, per feature and arm)\n"
               "--json prints every policy's full report.")
    click.echo(f"\nDashboard: http://127.0.0.1:4100/dashboard once this serves it for the demo's ledger:\n"
               f"  costops dashboard --db {db}   (costops serve has it at /dashboard too)")


COMMANDS = [demo]
