"""costops router train | choose | eval: the learned router, from outcome files.

    costops router train --data F.jsonl [--data G.jsonl] --out DIR [--models a,b] [--prices P.yaml]
    costops router choose --router DIR --data F.jsonl --threshold T     # {"id": ..., "model": ...} per row
    costops router eval --router DIR --data F.jsonl (--threshold T | --sweep) [--json]
    costops router catalog [--config F] [--model M ...] [--json]        # what routing knows of each target

Outcome rows: ``{"id", "prompt", "outcomes": {model: score in [0, 1] or null}, "cost_usd":
{model: USD}}``; ``choose`` needs only ``id`` and ``prompt``. Every command takes ``--data``
repeated, and reads every file whole before it prints anything, so a bad line N stops it with
nothing half-written; a person's mistake exits 2 with one line that names the file and line.
The gateway's routing policy loads the same directory (``costops.routing.Router.load``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from costops.cli.options import config_option
from costops.errors import CostopsError


class _InputError(click.ClickException):
    """Exit 2, as click's own usage errors do: the input is at fault, not costops."""

    exit_code = 2


def _fail(exc: CostopsError) -> click.ClickException:
    return _InputError(exc.message)


def _read(paths: tuple[str, ...]) -> list[Any]:
    """Every row of every file; an empty file is a mistake (a wrong path, an export that failed)."""
    from costops.routing import read_outcomes
    from costops.routing.errors import OutcomeDataError

    rows = []
    for path in paths:
        got = read_outcomes(path)
        if not got:
            raise OutcomeDataError(f"{path}: no rows (the file is empty); each line is one JSON row with 'id' and 'prompt'")
        rows += got
    return rows


def _knob(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """FloatRange lets NaN through (every comparison with it is false)."""
    if value is not None and value != value:
        raise click.BadParameter("nan is not a number from 0 to 1", ctx, param)
    return value


_data = click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
                     help="Outcome JSONL (repeat for several files).")


@click.group("router")
def router_group() -> None:
    """The learned router: train it from outcome files, apply it, measure its cost-quality curve."""


@router_group.command("train")
@_data
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
    from costops.routing import train
    from costops.routing.costs import DEFAULT_OUTPUT_TOKENS, read_price_file

    started = time.perf_counter()
    wanted = [m.strip() for m in models.split(",") if m.strip()] if models is not None else None
    if wanted == []:
        raise click.UsageError(f"--models names no model ({models!r}): give them comma-separated, e.g. gpt-4o,gpt-4o-mini")
    try:
        rows = _read(data)
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
        seen = t["per_model"][e.model]
        click.echo(f"  {e.model}: mean score {seen['mean_score']:.3f} on {seen['rows']} rows, {rates}, {e.source}")


@router_group.command("choose")
@click.option("--router", "router_dir", required=True, type=click.Path(file_okay=False), help="Router directory.")
@_data
@click.option("--threshold", required=True, type=click.FloatRange(0.0, 1.0), callback=_knob, help="The knob, 0 (cheapest) to 1 (best).")
def choose_cmd(router_dir: str, data: tuple[str, ...], threshold: float) -> None:
    """Print {"id": ..., "model": ...} for each row of a prompt file (rows need only id and prompt)."""
    from costops.routing import Router

    try:
        router = Router.load(router_dir)
        rows = _read(data)
    except CostopsError as exc:
        raise _fail(exc) from None
    out = sys.stdout
    for row in rows:
        out.write(json.dumps({"id": row.id, "model": router.choose(row.prompt, threshold).model}) + "\n")


@router_group.command("eval")
@click.option("--router", "router_dir", required=True, type=click.Path(file_okay=False), help="Router directory.")
@_data
@click.option("--threshold", default=None, type=click.FloatRange(0.0, 1.0), callback=_knob, help="One threshold.")
@click.option("--sweep", is_flag=True, help="Thresholds across the whole curve.")
@click.option("--json", "as_json", is_flag=True, help='{"points": [...], "baselines": {...}}')
def eval_cmd(router_dir: str, data: tuple[str, ...], threshold: float | None, sweep: bool, as_json: bool) -> None:
    """Quality, cost and mix per threshold, against always-strongest, always-cheapest, random and oracle
    (rows with prompts only: the mix per threshold)."""
    from costops.routing import Router
    from costops.routing.evaluate import evaluate

    if (threshold is None) == (not sweep):
        raise click.UsageError("give exactly one of --threshold T or --sweep")
    try:
        router = Router.load(router_dir)
        rows = _read(data)
    except CostopsError as exc:
        raise _fail(exc) from None
    thresholds = router.sweep_thresholds() if threshold is None else [threshold]
    result = evaluate(router, rows, thresholds)
    if as_json:  # the shape exactly; the row counts are in the text form
        click.echo(json.dumps({"points": result["points"], "baselines": result["baselines"]}))
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


@router_group.command("catalog")
@config_option
@click.option("--model", "models", multiple=True,
              help="A model, alias or deployment/model to show (repeat); default: every model the config names.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per target.")
def catalog_cmd(config_path: str | None, models: tuple[str, ...], as_json: bool) -> None:
    """The capability catalog: each deployment serving a model, its effective price, tier and
    capabilities (models.dev data and routing.models overrides), as routing would see them now."""
    from costops.analysis.report import table
    from costops.config import ConfigError, load_config
    from costops.pricing import PriceCatalog
    from costops.pricing.quote import Pricer
    from costops.routing.catalog import Catalog, describe

    try:
        config = load_config(config_path)
        catalog = Catalog(config, Pricer(PriceCatalog(config.prices)), config.sections.get("routing") or {})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    names = list(models) or configured_models(config)
    if not names:
        raise click.ClickException("the config names no models: pass --model gpt-4o-mini (repeat for more)")
    now = time.time()
    entries = []
    for name in names:
        try:
            entries += [describe(t) for t in catalog.targets(name, now)]
        except CostopsError as exc:
            raise _fail(exc) from None
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry))
        return

    def flag(value: Any) -> str:
        return "?" if value is None else "yes" if value is True else "no" if value is False else f"{value:,}"

    rows = [[e["name"], f"{e['deployment']}/{e['model']}", e["tier"] or "-", e["usd_per_mtok_blended"] or "unpriced",
             flag(e["context_window"]), flag(e["max_output"]), flag(e["tools"]), flag(e["vision"]),
             flag(e["json_schema"]), flag(e["reasoning"]), e["source"]] for e in entries]
    click.echo(table(["name", "target", "tier", "USD/MTok 3:1", "context", "max out", "tools", "images", "schema",
                      "reasoning", "source"], rows))


def configured_models(config: Any) -> list[str]:
    """Every model name the config spells out: deployments' exact names, aliases, policies' models."""
    from costops.routing.catalog import is_builtin

    names: list[str] = []
    for d in config.deployments:
        if not is_builtin(d):
            names += [m for m in d.models if not any(c in m for c in "*?[")]
    names += list(config.aliases)
    for spec in ((config.sections.get("routing") or {}).get("policies") or {}).values():
        if isinstance(spec, dict):
            names += [m for m in (spec.get("models") or []) if isinstance(m, str)]
            names += [spec["model"]] if isinstance(spec.get("model"), str) else []
    return list(dict.fromkeys(names))


COMMANDS = [router_group]
