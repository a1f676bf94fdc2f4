"""The learned router on the shared outcome files: cost-quality curves against the baselines,
the decision latency and the training time (issue 9, "Must show").

For each file: a seeded split into test (20 %) and train; a dev split (20 % of train) is carved
from train for tuning, and the test split is used once, at the end. On dev, each candidate
setting (regularization, and the decision rule) is scored by the mean quality it reaches at
5/10/20/30/40 % of the strongest model's cost, and two thresholds are read off the best one's
dev curve: T95, the cheapest reaching 96 % of the strongest's dev quality (a one-point margin
for the 95 % target), and T100, the cheapest reaching 100 %. The router is then retrained on all
of train with that setting and measured on test: its curve, the baselines, and the test result
at T95 and T100 as % of the strongest model's quality and cost.

Then: ``Router.choose`` p50 latency per request on one core (featurization included), and the
wall time of ``costops router train`` on 10,000 rows of the file with the most models.

    .venv/bin/python bench/routing_eval.py                        # all three files
    .venv/bin/python bench/routing_eval.py --files train_alpaca_eval.jsonl --no-timing
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core: what the gateway's policy gets
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from costops.analysis.report import table  # noqa: E402
from costops.routing import Router, read_outcomes, train  # noqa: E402
from costops.routing.classifier import Hyper  # noqa: E402
from costops.routing.evaluate import curve, outcome_arrays  # noqa: E402
from costops.routing.features import Featurizer  # noqa: E402
from costops.routing.learned import sweep_thresholds  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "routing"
FILES = ("train_mmlu_pro.jsonl", "train_routellm.jsonl", "train_alpaca_eval.jsonl")
GRID = (
    Hyper(l2_dense=1000.0, l2_sparse=30.0),
    Hyper(l2_dense=100.0, l2_sparse=3.0),
    Hyper(l2_dense=30.0, l2_sparse=0.3),
)
RULES = ("utility", "threshold")
BUDGETS = (0.05, 0.10, 0.20, 0.30, 0.40)


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(0.2 * n)
    test, rest = order[:n_test], order[n_test:]
    n_dev = int(0.2 * len(rest))
    return rest[n_dev:], rest[:n_dev], test  # fit, dev, test


def measure(router: Router, feats: Any, rows: list, idx: np.ndarray, rule: str) -> dict[str, Any]:
    f = feats.take(idx)
    P = router.heads.predict(f)
    Y, C = outcome_arrays(router.models, [rows[i] for i in idx], router.costs.matrix(f.tokens))
    return curve(router.models, P, C, Y, sweep_thresholds(rule), rule=rule, cost_scale=router.cost_scale)


def relative(result: dict[str, Any]) -> list[tuple[float, float, float]]:
    s = result["baselines"]["always_strongest"]
    return [(p["threshold"], p["quality"] / s["quality"], p["cost_usd"] / s["cost_usd"]) for p in result["points"]]


def quality_at(points: list[tuple[float, float, float]], budget: float) -> float:
    """Best quality with cost <= budget (the curve's upper envelope, no interpolation)."""
    within = [q for _, q, c in points if c <= budget + 1e-12]
    return max(within) if within else 0.0


def cheapest_reaching(points: list[tuple[float, float, float]], share: float) -> tuple[float, float, float] | None:
    ok = [p for p in points if p[1] >= share]
    return min(ok, key=lambda p: p[2]) if ok else None


def at_threshold(result: dict[str, Any], t: float) -> tuple[float, float, dict[str, float]]:
    s = result["baselines"]["always_strongest"]
    p = next(p for p in result["points"] if p["threshold"] == t)
    return p["quality"] / s["quality"], p["cost_usd"] / s["cost_usd"], p["mix"]


def one_file(path: Path, seed: int, featurizer: Featurizer, log: Any) -> dict[str, Any]:
    rows = read_outcomes(path)
    started = time.perf_counter()
    feats = featurizer.many([r.prompt for r in rows])
    featurize_s = time.perf_counter() - started
    fit_idx, dev_idx, test_idx = split(len(rows), seed)
    log(f"\n== {path.name}: {len(rows)} rows; split seed {seed}: fit {len(fit_idx)} / dev {len(dev_idx)} / "
        f"test {len(test_idx)} (featurized in {featurize_s:.1f} s)")

    # 1. tune on dev (the test split is not looked at)
    tried = []
    for hyper in GRID:
        t0 = time.perf_counter()
        router = train([rows[i] for i in fit_idx], features=feats.take(fit_idx), featurizer=featurizer, hyper=hyper)
        fit_s = time.perf_counter() - t0
        for rule in RULES:
            pts = relative(measure(router, feats, rows, dev_idx, rule))
            score = float(np.mean([quality_at(pts, b) for b in BUDGETS]))
            tried.append((score, rule, hyper, pts))
            log(f"  dev  l2_dense={hyper.l2_dense:g} l2_sparse={hyper.l2_sparse:g} rule={rule:9s}: mean quality at "
                f"{'/'.join(f'{b:.0%}' for b in BUDGETS)} cost = {score:.2%} of strongest  (fit {fit_s:.0f} s)")
    score, rule, hyper, dev_pts = max(tried, key=lambda t: t[0])
    t95, t100 = cheapest_reaching(dev_pts, 0.96), cheapest_reaching(dev_pts, 1.0)
    log(f"  chosen on dev: l2_dense={hyper.l2_dense:g} l2_sparse={hyper.l2_sparse:g} rule={rule}; "
        f"T95={t95[0] if t95 else '-'} (dev {t95[1]:.1%} quality at {t95[2]:.1%} cost)" if t95 else "  T95: none on dev")

    # 2. retrain on all of train, measure once on test
    train_idx = np.concatenate([fit_idx, dev_idx])
    t0 = time.perf_counter()
    router = train([rows[i] for i in train_idx], features=feats.take(train_idx), featurizer=featurizer,
                   hyper=hyper, rule=rule, sources=[path.name])
    train_s = time.perf_counter() - t0
    result = measure(router, feats, rows, test_idx, rule)
    prices = [[e.model, e.input_usd_per_mtok or "-", e.output_usd_per_mtok or "-", e.source] for e in router.costs.entries]
    log(f"  prices, USD per million tokens (output assumed {router.costs.output_tokens} tokens per call):")
    log("    " + table(["model", "input", "output", "source"], prices).replace("\n", "\n    "))
    s, cheap, oracle = (result["baselines"][k] for k in ("always_strongest", "always_cheapest", "oracle"))
    log(f"  test curve (trained on fit+dev in {train_s:.0f} s), strongest = {s['model']}:")
    body = []
    for p, r in zip(result["points"], result["baselines"]["random"], strict=True):
        top = ", ".join(f"{m} {v:.0%}" for m, v in list(p["mix"].items())[:3])
        body.append([f"{p['threshold']:.4f}", f"{p['quality']:.4f}", f"{p['quality'] / s['quality']:.1%}",
                     f"{p['cost_usd']:.4f}", f"{p['cost_usd'] / s['cost_usd']:.1%}", f"{r['quality'] / s['quality']:.1%}", top])
    log("    " + table(["T", "quality", "q %", "cost $", "cost %", "random q %", "mix (top 3)"], body).replace("\n", "\n    "))
    for name, b in (("always-strongest", s), ("always-cheapest", cheap), ("oracle", oracle)):
        who = f" {b['model']}" if "model" in b else ""
        log(f"    {name}{who}: quality {b['quality']:.4f} ({b['quality'] / s['quality']:.1%}), "
            f"cost ${b['cost_usd']:.4f} ({b['cost_usd'] / s['cost_usd']:.1%})")
    summary: dict[str, Any] = {"file": path.name, "rows": len(rows), "strongest": s["model"], "rule": rule,
                               "hyper": {"l2_dense": hyper.l2_dense, "l2_sparse": hyper.l2_sparse}}
    for label, pick, target in (("T95", t95, "target >= 95 % quality at <= 40 % cost"),
                                ("T100", t100, "aim: 100 % quality at <= 20 % cost")):
        if pick is None:
            log(f"  {label}: no dev threshold reached it")
            continue
        q, c, mix = at_threshold(result, pick[0])
        met = (q >= 0.95 and c <= 0.40) if label == "T95" else (q >= 1.0 and c <= 0.20)
        top = ", ".join(f"{m} {v:.0%}" for m, v in list(mix.items())[:3])
        log(f"  TEST at {label} = {pick[0]} (chosen on dev): quality {q:.1%} of {s['model']}'s, cost {c:.1%} of its "
            f"cost [{target}: {'met' if met else 'missed'}]; mix {top}")
        summary[label] = {"threshold": pick[0], "quality_pct": round(100 * q, 1), "cost_pct": round(100 * c, 1), "met": met}
    best95 = cheapest_reaching(relative(result), 0.95)
    summary["test_q_at_40pct"] = round(100 * quality_at(relative(result), 0.40), 1)
    log(f"  (for reference, not a tuned number: on the test curve the best quality at <= 40 % cost is "
        f"{summary['test_q_at_40pct']}%; 95 % is first reached at {best95[2]:.1%} cost)" if best95 else "")
    summary["router"] = router
    summary["feats"] = feats.take(test_idx)
    summary["prompts"] = [rows[i].prompt for i in test_idx]
    return summary


def latency(router: Router, prompts: list[str], log: Any) -> float:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass
    for p in prompts[:50]:
        router.choose(p, 0.9)
    times = []
    for p in prompts:
        t0 = time.perf_counter()
        router.choose(p, 0.9)
        times.append(time.perf_counter() - t0)
    p50, p99 = statistics.median(times) * 1e3, float(np.percentile(times, 99)) * 1e3
    log(f"\n== decision latency, Router.choose (featurize + predict + decide), one core, {len(router.models)} "
        f"candidate models, {len(prompts)} test prompts: p50 {p50:.3f} ms, p99 {p99:.3f} ms (target p50 <= 2 ms)")
    return p50


def train_time(path: Path, log: Any, n: int = 10_000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.jsonl"
        with path.open() as src, sample.open("w") as dst:
            for i, line in enumerate(src):
                if i >= n:
                    break
                dst.write(line)
        cmd = [sys.executable, "-c", "from costops.cli import main; main()", "router", "train", "--data", str(sample), "--out", str(Path(tmp) / "r")]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode:
            raise SystemExit(done.stderr)
    log(f"== `costops router train` on {n} rows of {path.name}: {wall:.1f} s wall, whole command "
        f"(target <= 120 s); load average then {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--files", nargs="*", default=list(FILES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-timing", action="store_true", help="skip the latency and training-time runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args()

    def log(line: str) -> None:
        print(line, flush=True)

    featurizer = Featurizer()
    log(f"routing_eval: files in {args.data_dir}; seed {args.seed}; load average {os.getloadavg()[0]:.1f}")
    summaries = [one_file(args.data_dir / name, args.seed, featurizer, log) for name in args.files]
    log("\n== summary (test split; thresholds chosen on dev)")
    rows = []
    for s in summaries:
        for label in ("T95", "T100"):
            if label in s:
                r = s[label]
                rows.append([s["file"], label, str(r["threshold"]), f"{r['quality_pct']}%", f"{r['cost_pct']}%",
                             "met" if r["met"] else "missed"])
    log(table(["file", "point", "T", "quality % strongest", "cost % strongest", "target"], rows))
    timing: dict[str, float] = {}
    if not args.no_timing:
        widest = max(summaries, key=lambda s: len(s["router"].models))
        timing["p50_ms"] = latency(widest["router"], widest["prompts"][:2000], log)
        timing["train_10k_s"] = train_time(args.data_dir / widest["file"], log)
    if args.json:
        keep = [{k: v for k, v in s.items() if k not in ("router", "feats", "prompts")} for s in summaries]
        args.json.write_text(json.dumps({"files": keep, "timing": timing}, indent=2) + "\n")


if __name__ == "__main__":
    main()
