"""costops router train | choose | eval: the learned router, from outcome files.

    costops router train --data F.jsonl [--data G.jsonl] --out DIR [--models a,b] [--prices P.yaml]
    costops router choose --router DIR --data F.jsonl --threshold T     # {"id": ..., "model": ...} per row
    costops router eval --router DIR --data F.jsonl (--threshold T | --sweep) [--json]

Outcome rows: ``{"id", "prompt", "outcomes": {model: score in [0, 1] or null}, "cost_usd":
{model: USD}}``; ``choose`` needs only ``id`` and ``prompt``. The gateway's routing policy loads
the same directory (``costops.routing.Router.load``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from costops.errors import CostopsError


def _fail(exc: CostopsError) -> click.ClickException:
    return click.ClickException(exc.message)


@click.group("router")
def router_group() -> None:
    """The learned router: train it from outcome files, apply it, measure its cost-quality curve."""


@router_group.command("train")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="Outcome JSONL (repeat for several files).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Router directory to write.")
@click.option("--models", default=None, help="Comma-separated models it may choose (default: every model in the data).")
@click.option("--prices", "prices_path", default=None, type=click.Path(dir_okay=False),
              help="YAML/JSON {model: {input, output}} in USD/MTok (or {like, provider}): prices for models the "
                   "catalog does not know, or your own.")
@click.option("--output-tokens", default=None, type=click.IntRange(min=0),
              help="Assumed output tokens per call, to price models the rows carry no cost_usd for [256].")
@click.option("--rule", type=click.Choice(["utility", "threshold"]), default="utility", show_default=True,
              help="utility: max P(good) - λ·cost, λ=(1-T)/T; threshold: cheapest model with P(good) >= T.")
def train_cmd(data: tuple[str, ...], out: str, models: str | None, prices_path: str | None,
              output_tokens: int | None, rule: str) -> None:
    """Train a router from outcome files and write it to DIR."""
    from costops.routing import read_outcomes, train
    from costops.routing.costs import DEFAULT_OUTPUT_TOKENS, read_price_file

    started = time.perf_counter()
    wanted = [m.strip() for m in models.split(",") if m.strip()] if models else None
    try:
        rows = read_outcomes(data)
        prices = read_price_file(prices_path) if prices_path else None
        router = train(rows, models=wanted, rule=rule, prices=prices, sources=list(data),
                       output_tokens=DEFAULT_OUTPUT_TOKENS if output_tokens is None else output_tokens)
        router.save(out)
    except CostopsError as exc:
        raise _fail(exc) from None
    t = router.meta["training"]
    click.echo(f"trained on {t['rows']} rows ({t['rows_without_outcomes']} without outcomes skipped), "
               f"{len(router.models)} models, in {time.perf_counter() - started:.1f} s; wrote {out}")
    click.echo(f"strongest in the data: {router.strongest}; rule: {router.rule}; "
               f"output assumed {router.costs.output_tokens} tokens per call where no cost_usd")
    for e in router.costs.entries:
        rates = f"${e.input_usd_per_mtok}/${e.output_usd_per_mtok} per MTok" if e.input_usd_per_mtok else "per call"
        score = t["per_model"][e.model]["mean_score"]
        click.echo(f"  {e.model}: mean score {score:.3f}, {rates}, {e.source}")


@router_group.command("choose")
@click.option("--router", "router_dir", required=True, type=click.Path(file_okay=False), help="Router directory.")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False), help="JSONL rows with id and prompt.")
@click.option("--threshold", required=True, type=click.FloatRange(0.0, 1.0), help="The knob, 0 (cheapest) to 1 (best).")
def choose_cmd(router_dir: str, data: str, threshold: float) -> None:
    """Print {"id": ..., "model": ...} for each row of a prompt file."""
    from costops.routing import Router
    from costops.routing.outcomes import iter_outcomes

    try:
        router = Router.load(router_dir)
        out = sys.stdout
        for row in iter_outcomes(data):
            out.write(json.dumps({"id": row.id, "model": router.choose(row.prompt, threshold).model}) + "\n")
    except CostopsError as exc:
        raise _fail(exc) from None


@router_group.command("eval")
@click.option("--router", "router_dir", required=True, type=click.Path(file_okay=False), help="Router directory.")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False), help="Outcome JSONL (or prompts only).")
@click.option("--threshold", default=None, type=click.FloatRange(0.0, 1.0), help="One threshold.")
@click.option("--sweep", is_flag=True, help="Thresholds across the whole curve.")
@click.option("--json", "as_json", is_flag=True, help='{"points": [...], "baselines": {...}}')
def eval_cmd(router_dir: str, data: str, threshold: float | None, sweep: bool, as_json: bool) -> None:
    """Quality, cost and mix per threshold, against always-strongest, always-cheapest, random and oracle."""
    from costops.routing import Router, read_outcomes
    from costops.routing.evaluate import evaluate

    if (threshold is None) == (not sweep):
        raise click.UsageError("give exactly one of --threshold T or --sweep")
    try:
        router = Router.load(router_dir)
        rows = read_outcomes(data)
    except CostopsError as exc:
        raise _fail(exc) from None
    thresholds = router.sweep_thresholds() if threshold is None else [threshold]
    result = evaluate(router, rows, thresholds)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(_render(result))


def _render(result: dict[str, Any]) -> str:
    from costops.analysis.report import table

    base = result["baselines"]
    strong = base.get("always_strongest")
    lines = [f"{result['rows']} rows, {result['scored_rows']} with outcomes; rule {result['rule']}"]

    def mix(m: dict[str, float]) -> str:
        top = list(m.items())[:3]
        rest = sum(list(m.values())[3:])
        return ", ".join(f"{k} {v:.0%}" for k, v in top) + (f", others {rest:.0%}" if rest > 0 else "")

    def rel(value: float | None, ref: float | None) -> str:
        return f"{value / ref:.1%}" if value is not None and ref else "-"

    if not strong:
        rows = [[f"{p['threshold']:.4f}", mix(p["mix"])] for p in result["points"]]
        return "\n".join([*lines, table(["threshold", "mix"], rows)])
    rows = []
    for p, r in zip(result["points"], base["random"], strict=True):
        rows.append([f"{p['threshold']:.4f}", f"{p['quality']:.4f}", rel(p["quality"], strong["quality"]),
                     f"{p['cost_usd']:.4f}", rel(p["cost_usd"], strong["cost_usd"]),
                     f"{r['quality']:.4f}", mix(p["mix"])])
    lines.append(table(["threshold", "quality", "% strongest", "cost_usd", "% strongest", "random@cost", "mix"], rows))
    lines.append("baselines:")
    for name in ("always_strongest", "always_cheapest", "oracle"):
        b = base[name]
        who = f" ({b['model']})" if "model" in b else ""
        lines.append(f"  {name}{who}: quality {b['quality']:.4f} ({rel(b['quality'], strong['quality'])}), "
                     f"cost ${b['cost_usd']:.4f} ({rel(b['cost_usd'], strong['cost_usd'])})")
    return "\n".join(lines)


COMMANDS = [router_group]
