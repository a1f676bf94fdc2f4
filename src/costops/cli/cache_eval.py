"""costops cache eval | calibrate: score the semantic cache on labelled prompt pairs, offline.

Both build the semantic cache stage from the config file exactly as ``costops serve`` would
(its embedder, verifier and thresholds) and ask it, pair by pair, whether it would serve the
answer cached for ``a`` to ``b`` (see :mod:`costops.cache.semantic.evaluate` for the file format
and the scores). Nothing is sent anywhere; no gateway needs to run.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import click

from costops.cli.options import config_option

pairs_option = click.option(
    "--pairs", "pairs_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSONL, one pair a line: {\"a\": cached prompt, \"b\": new prompt, \"label\": \"hit\"|\"miss\", \"kind\"?, \"domain\"?}.",
)
route_option = click.option("--route", default=None,
                            help="Use this route's threshold (cache.semantic.routes.NAME) instead of the default one.")


def _stage_and_pairs(config_path: str | None, pairs_path: Path) -> tuple[Any, Any, list[Any]]:
    from costops.cache.semantic.evaluate import parse_pairs
    from costops.cache.semantic.stage import semantic_cache_stage
    from costops.config import ConfigError, load_config

    try:
        config = load_config(config_path)
        stage = semantic_cache_stage(config, time.time)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        pairs = parse_pairs(pairs_path.read_text().splitlines(), str(pairs_path))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    return config, stage, pairs


def _threshold(stage: Any, route: str | None) -> tuple[float, str]:
    cfg = stage.cfg
    if route is None:
        return cfg.threshold, "cache.semantic.threshold"
    if route in cfg.routes and cfg.routes[route].threshold is not None:
        return cfg.routes[route].threshold, f"cache.semantic.routes.{route}"
    return cfg.threshold, f"cache.semantic.threshold (route {route!r} has no threshold of its own)"


def _judged(stage: Any) -> bool:
    """Is the decision the judge's score (verifier: judge, the default), not the cosine alone?"""
    return stage.scorer is not None and stage.cfg.verify


def _accept(stage: Any, route: str | None) -> float | None:
    return stage.accept_score({"route": route} if route else {}) if _judged(stage) else None


@click.command("eval")
@pairs_option
@config_option
@route_option
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Score at this cosine threshold instead of the configured one (a what-if).")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def eval_command(pairs_path: Path, config_path: str | None, route: str | None, threshold: float | None,
                 as_json: bool) -> None:
    """Precision, recall and false-hit rate of the semantic cache on labelled pairs, overall, per kind
    and per domain, with the config's embedder, verifier and threshold."""
    from costops.cache.semantic.evaluate import format_report, report, served_by

    _, stage, pairs = _stage_and_pairs(config_path, pairs_path)
    t, source = (threshold, "--threshold") if threshold is not None else _threshold(stage, route)
    accept = _accept(stage, route)
    r = report(pairs, served_by(stage, pairs, t, accept))
    settings = {"threshold": t, "threshold_from": source, "verify": stage.cfg.verify, "embedder": stage.embedder.name,
                "verifier": stage.cfg.verifier if stage.cfg.verify else None, "accept_score": accept}
    if as_json:
        click.echo(json.dumps({"pairs_file": str(pairs_path), "settings": settings, **r.to_json()}, indent=2))
        return
    judged = f" (judge, accepting scores >= {accept:.4f})" if accept is not None else ""
    heading = (f"semantic cache on {pairs_path}: threshold {t:g} ({source}), verifier "
               f"{'on' if stage.cfg.verify else 'off'}{judged}, embedder {stage.embedder.name}")
    click.echo(format_report(r, heading))


@click.command("calibrate")
@pairs_option
@click.option("--target-precision", type=click.FloatRange(0, 1, min_open=True), required=True,
              help="The precision to reach, e.g. 0.98: at most 2 served answers in 100 wrong.")
@config_option
@route_option
@click.option("--write", is_flag=True,
              help="Write the threshold into the --config file (YAML; the old file is kept as FILE.bak, and comments are not kept).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def calibrate_command(pairs_path: Path, target_precision: float, config_path: str | None, route: str | None,
                      write: bool, as_json: bool) -> None:
    """The lowest threshold at which the semantic cache reaches a precision on labelled pairs (so the
    most recall there): the judge's acceptance score (min_score) when the judge decides, as it does
    by default, else the cosine threshold."""
    from costops.cache.semantic.evaluate import calibrate, count, judge_scores, served_by, threshold_scores

    if write and config_path is None:
        raise click.UsageError("--write needs --config FILE: the file to write the threshold into")
    _, stage, pairs = _stage_and_pairs(config_path, pairs_path)
    judged = _judged(stage)
    gate = _threshold(stage, route)[0]
    result = calibrate(pairs, judge_scores(stage, pairs, gate) if judged else threshold_scores(stage, pairs),
                       target_precision)
    key = "min_score" if judged else "threshold"
    setting = f"cache.semantic.routes.{route}" + (".min_score" if judged else "") if route else f"cache.semantic.{key}"
    if result.threshold is None:
        best = result.scores
        if as_json:
            click.echo(json.dumps({"target_precision": target_precision, "threshold": None, "setting": setting,
                                   "best_threshold": result.best_threshold,
                                   "at_best": best.to_json() if best else None}, indent=2))
        else:
            said = "no pair is ever served" if best is None else (
                f"the best is precision {best.precision:.3f} at threshold {result.best_threshold:.4f} "
                f"(recall {best.recall or 0:.3f})")
            click.echo(f"No threshold in (0, 1] reaches precision {target_precision} on {pairs_path}: {said}. "
                       f"The {'judge scores' if judged else 'verifier accepts'} misses as high as hits; "
                       "a higher threshold cannot separate them.")
        raise SystemExit(1)
    # the figures printed are the stage's own decisions at the chosen threshold
    at = count(pairs, served_by(stage, pairs, gate, result.threshold) if judged
               else served_by(stage, pairs, result.threshold))
    if write:
        assert config_path is not None
        _write_threshold(Path(config_path), route, result.threshold, key)
    if as_json:
        click.echo(json.dumps({"target_precision": target_precision, "threshold": result.threshold, "setting": setting,
                               "written": write, **at.to_json()}, indent=2))
        return
    click.echo(f"threshold {result.threshold:.4f} reaches precision {at.precision or 0:.3f} (target {target_precision}) "
               f"on {pairs_path}: recall {at.recall or 0:.3f}, false-hit rate {at.false_hit_rate or 0:.3f}, "
               f"{at.served:,} of {at.pairs:,} pairs served")
    if write:
        click.echo(f"wrote {setting}: {result.threshold:.4f} into {config_path} (the previous file is {config_path}.bak)")
    else:
        click.echo(f"set {setting}: {result.threshold:.4f} in the config (or run again with --write --config FILE)")


def _write_threshold(path: Path, route: str | None, value: float, key: str = "threshold") -> None:
    """Set the threshold (``threshold`` or the judge's ``min_score``) in a YAML config, keeping the old
    file as ``.bak``; the result must load."""
    import yaml

    from costops.config import ConfigError, load_config

    if path.suffix == ".toml":
        where = (f"[cache.semantic.routes.{route}]\n{key} = {value:.4f}" if route
                 else f"[cache.semantic]\n{key} = {value:.4f}")
        raise click.ClickException(f"--write edits YAML configs only; put this into {path} yourself:\n{where}")
    old = path.read_text() if path.exists() else ""
    raw = yaml.safe_load(old) or {}
    if not isinstance(raw, dict):
        raise click.ClickException(f"{path}: the config is not a mapping; cannot write the threshold into it")
    cache = raw.get("cache")
    if not isinstance(cache, dict):
        cache = raw["cache"] = {}
    semantic = cache.get("semantic")
    if not isinstance(semantic, dict):
        semantic = cache["semantic"] = {}
    value = round(value, 6)
    if route:
        routes = semantic.get("routes")
        if not isinstance(routes, dict):
            routes = semantic["routes"] = {}
        old_route = routes.get(route)
        if key == "threshold" and not isinstance(old_route, dict):
            routes[route] = value
        else:  # a mapping: keep what the route had (a bare number is its cosine threshold)
            settings = dict(old_route) if isinstance(old_route, dict) else (
                {} if old_route is None else {"threshold": old_route})
            settings[key] = value
            routes[route] = settings
    else:
        semantic[key] = value
    if path.exists():
        shutil.copyfile(path, path.with_name(path.name + ".bak"))
    path.write_text(yaml.safe_dump(raw, sort_keys=False, default_flow_style=False))
    try:
        load_config(path)
    except ConfigError as exc:
        path.write_text(old)
        raise click.ClickException(f"{path}: the config would not load with the threshold written ({exc}); left as it was") from None


COMMANDS = [eval_command, calibrate_command]
