"""The semantic cache on its evaluation set's test split (issue 11): precision, recall and
false-hit rate at the default settings, per kind, per domain, short against long prompts; then
the cosine threshold sweep, and the threshold calibrated on dev for a target precision, applied
to test.

The decisions are the cache stage's own (:meth:`SemanticCacheStage.choose`, as in ``costops cache
eval``), with the embedder, verifier and threshold of ``--config`` (default: none, the defaults).
The set is ``bench/data/semantic_pairs/`` (``make_semantic_pairs.py``); its test split is for
reported figures only: nothing is tuned on it here (the calibrated threshold comes from dev).

    .venv/bin/python bench/semantic_eval.py                        # test split, default settings
    .venv/bin/python bench/semantic_eval.py --pairs bench/data/semantic_pairs/dev.jsonl --explain 40
    .venv/bin/python bench/semantic_eval.py --config my-gateway.yaml --target-precision 0.95
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from costops.cache.semantic.evaluate import (
    calibrate,
    count,
    format_report,
    parse_pairs,
    report,
    served_by,
    threshold_scores,
)
from costops.cache.semantic.stage import semantic_cache_stage
from costops.config import load_config

DATA = Path(__file__).parent / "data" / "semantic_pairs"
SWEEP = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=Path, default=DATA / "test.jsonl", help="the pair file to report on")
    parser.add_argument("--dev", type=Path, default=DATA / "dev.jsonl", help="the pair file to calibrate on")
    parser.add_argument("--config", default=None, help="a costops config file (its cache.semantic settings)")
    parser.add_argument("--target-precision", type=float, default=0.98)
    parser.add_argument("--explain", type=int, default=0, metavar="N", help="print N wrong decisions")
    args = parser.parse_args()

    stage = semantic_cache_stage(load_config(args.config), time.time)
    rows = [json.loads(line) for line in args.pairs.open()]
    pairs = parse_pairs(args.pairs.read_text().splitlines(), str(args.pairs))
    t = stage.cfg.threshold
    started = time.process_time()
    served = served_by(stage, pairs, t)
    cpu = time.process_time() - started
    print(format_report(report(pairs, served),
                        f"== {args.pairs} at the settings: threshold {t:g}, verifier "
                        f"{'on' if stage.cfg.verify else 'off'}, embedder {stage.embedder.name} "
                        f"({cpu / len(pairs) * 1e3:.2f} ms CPU per pair)"))
    if rows and "long" in rows[0]:
        print()
        for long in (False, True):
            idx = [i for i, r in enumerate(rows) if bool(r.get("long")) is long]
            s = count([pairs[i] for i in idx], [served[i] for i in idx])
            print(f"{'long (pasted context)' if long else 'short':<22} pairs {s.pairs:>5,}  served {s.served:>5,}  "
                  f"precision {_f(s.precision)}  recall {_f(s.recall)}  false-hit rate {_f(s.false_hit_rate)}")

    scores = threshold_scores(stage, pairs)
    print("\n-- cosine threshold sweep (the verifier as configured) --")
    print(f"{'threshold':>9} {'served':>7} {'precision':>9} {'recall':>7} {'false-hit':>9}")
    for x in SWEEP:
        s = count(pairs, [v is not None and v >= x for v in scores])
        print(f"{x:>9.2f} {s.served:>7,} {_f(s.precision):>9} {_f(s.recall):>7} {_f(s.false_hit_rate):>9}")

    if args.dev.resolve() != args.pairs.resolve():
        dev = parse_pairs(args.dev.read_text().splitlines(), str(args.dev))
        cal = calibrate(dev, threshold_scores(stage, dev), args.target_precision)
        print(f"\n-- threshold calibrated on {args.dev} for precision {args.target_precision} --")
        if cal.threshold is None:
            best = cal.scores
            print(f"none reaches it on dev (best precision {_f(best.precision if best else None)} at "
                  f"{cal.best_threshold}); nothing to apply to {args.pairs}")
        else:
            s = count(pairs, served_by(stage, pairs, cal.threshold))
            print(f"dev threshold {cal.threshold:.4f} (dev precision {_f(cal.scores.precision if cal.scores else None)}, "
                  f"recall {_f(cal.scores.recall if cal.scores else None)}); on {args.pairs}: precision "
                  f"{_f(s.precision)}, recall {_f(s.recall)}, false-hit rate {_f(s.false_hit_rate)}")

    if args.explain:
        wrong = [i for i in range(len(pairs)) if served[i] != pairs[i].hit]
        print(f"\n-- {min(args.explain, len(wrong))} of {len(wrong)} wrong decisions --")
        for i in wrong[: args.explain]:
            p = pairs[i]
            what = "false hit" if served[i] else "missed hit"
            print(f"  [{what} {p.kind}] {p.a[-120:]!r}\n      <- {p.b[-120:]!r}  (cosine {scores[i] or 0:.2f})")
        print(f"  wrong by kind: {dict(Counter(pairs[i].kind for i in wrong))}")


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
