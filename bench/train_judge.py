"""Train the semantic cache's judge (a logistic model over pair features) and calibrate it.

Trains on the ``train`` rows of the judge's own pairs (``bench/data/judge_pairs.jsonl``, made by
``bench/make_judge_pairs.py``) plus any ``--pairs`` file given for training (a dev split: never
a test split), and reads the calibration table (score -> precision, recall) off ``--calibrate``
files (default: the judge pairs' ``calib`` rows). Writes ``src/costops/cache/semantic/data/judge.json``.
No PyTorch: a few hundred pairs and twenty features fit by Newton's method in numpy in a second.

    .venv/bin/python bench/train_judge.py [--pairs MORE.jsonl] [--calibrate CAL.jsonl] [--dry-run]
    .venv/bin/python bench/train_judge.py --dev bench/data/semantic_pairs/dev.jsonl   # what ships

Pair files are JSONL rows ``{a, b, label: hit|miss, kind?}`` (``cached``/``query`` also read).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from costops.cache.semantic.calibration import calibrate
from costops.cache.semantic.config import DEFAULT_THRESHOLD
from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.judge import FEATURES, Judge, Scorer

ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT / "bench" / "data" / "judge_pairs.jsonl"
OUT = ROOT / "src" / "costops" / "cache" / "semantic" / "data" / "judge.json"
L2 = 1.0
POSITIVE = {"cosine", "worst_match", "diff_cosine"}
FREE: set[str] = set()
"""Every other feature can only lower the score (a mismatch never makes a hit likelier)."""


def read_pairs(path: Path, split: str | None = None) -> list[dict[str, str]]:
    rows = []
    for line in path.open():
        if not line.strip():
            continue
        r = json.loads(line)
        if split is not None and r.get("split", split) != split:
            continue
        rows.append({"a": r.get("a", r.get("cached")), "b": r.get("b", r.get("query")), "label": r["label"],
                     "kind": r.get("kind", ""), "base": str(r.get("base", r.get("a", r.get("cached"))))})
    return rows


def matrix(scorer: Scorer, rows: list[dict[str, str]]) -> np.ndarray:
    embed = scorer.embedder.embed
    out = np.zeros((len(rows), len(FEATURES)))
    for i, r in enumerate(rows):
        # the query is b, the cached text a, as the cache sees them
        f = scorer.features(scorer.profile(r["b"]), scorer.profile(r["a"]), float(embed(r["b"]) @ embed(r["a"])))
        out[i] = [f[n] for n in FEATURES]
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """L2-regularized logistic regression on standardized columns, by Newton's method."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1]), mean, scale


def fit_signed(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """:func:`fit` with each weight's sign fixed by what its feature means (accelerated projected
    gradient): a mismatch may only lower the score, so no correlate or artifact of the pairs can
    make, say, a lower cosine count for a hit."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    lo = np.array([0.0 if n in POSITIVE else -np.inf for n in FEATURES] + [-np.inf])
    hi = np.array([np.inf if n in POSITIVE or n in FREE else 0.0 for n in FEATURES] + [np.inf])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0
    step = 1.0 / (0.25 * np.linalg.norm(z, 2) ** 2 + l2)
    w = prev = np.zeros(z.shape[1])
    for k in range(1, 5001):
        v = w + (k - 2) / (k + 1) * (w - prev) if k > 1 else w
        p = 1 / (1 + np.exp(-z @ v))
        prev, w = w, np.clip(v - step * (z.T @ (p - y) + reg * v), lo, hi)
    return w[:-1], float(w[-1]), mean, scale


def out_of_fold(x: np.ndarray, y: np.ndarray, start: int, dev: list[dict[str, str]], l2: float,
                folds: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of the dev rows (``x[start:]``), each by a model trained without its fold: what the
    shipped model, trained on all of them, would score on pairs it never saw."""
    bases = sorted({r["base"] for r in dev})
    np.random.default_rng(0).shuffle(bases)
    fold_of = {b: i % folds for i, b in enumerate(bases)}
    fold = np.array([fold_of[r["base"]] for r in dev])
    xd, yd = x[start:], y[start:].astype(bool)
    scores = np.zeros(len(dev))
    for f in range(folds):
        keep = np.concatenate([np.ones(start, dtype=bool), fold != f])
        w, b, mean, scale = fit_signed(x[keep], y[keep], l2)
        judge = Judge(dict(zip(FEATURES, w, strict=True)), b, dict(zip(FEATURES, mean, strict=True)),
                      dict(zip(FEATURES, scale, strict=True)), calibrate([], []))
        scores[fold == f] = [judge.score_features(dict(zip(FEATURES, row, strict=True))) for row in xd[fold == f]]
    return xd, yd, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", action="append", type=Path, default=[], help="more training pairs (a dev split)")
    parser.add_argument("--calibrate", action="append", type=Path, default=[], help="calibration pairs")
    parser.add_argument("--dev", type=Path, default=None,
                        help="a dev split to train on AND calibrate by: its calibration scores are out-of-fold "
                             "(5 folds by base prompt, each scored by a model that never saw it)")
    parser.add_argument("--target-precision", type=float, default=0.98)
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--dry-run", action="store_true", help="print, don't write judge.json")
    args = parser.parse_args()

    train = read_pairs(PAIRS, "train") + [r for p in args.pairs for r in read_pairs(p)]
    calib = [r for p in args.calibrate for r in read_pairs(p)] if args.calibrate else read_pairs(PAIRS, "calib")
    source = ", ".join(str(p.relative_to(ROOT) if p.is_absolute() and ROOT in p.parents else p)
                       for p in args.calibrate) or "bench/data/judge_pairs.jsonl (calib)"
    dev = read_pairs(args.dev) if args.dev else []
    if dev:
        train = read_pairs(PAIRS) + dev  # the judge's own calib rows train too: dev calibrates
        calib = dev
        source = f"{args.dev} (5-fold out-of-fold scores, folds by base prompt)"
    zero = dict.fromkeys(FEATURES, 0.0)
    scorer = Scorer(StaticEmbedder.load(), Judge(zero, 0.0, zero, dict.fromkeys(FEATURES, 1.0), calibrate([], [])))
    x, y = matrix(scorer, train), np.array([r["label"] == "hit" for r in train], dtype=float)
    w, b, mean, scale = fit_signed(x, y, args.l2)
    judge = Judge(dict(zip(FEATURES, w, strict=True)), b, dict(zip(FEATURES, mean, strict=True)),
                  dict(zip(FEATURES, scale, strict=True)), calibrate([], []))
    print(f"trained on {len(train)} pairs ({int(y.sum())} hits); weights (standardized):")
    for name, weight in sorted(zip(FEATURES, w, strict=True), key=lambda t: -abs(t[1])):
        print(f"  {name:>22} {weight:+.3f}")

    if dev:
        xc, yc, scores = out_of_fold(x, y, len(train) - len(dev), dev, args.l2)
    else:
        xc = matrix(scorer, calib)
        yc = np.array([r["label"] == "hit" for r in calib])
        scores = np.array([judge.score_features(dict(zip(FEATURES, row, strict=True))) for row in xc])
    scores[xc[:, FEATURES.index("cosine")] < DEFAULT_THRESHOLD] = 0.0  # never judged: under the cosine gate
    cal = calibrate(scores.tolist(), yc.tolist(), source)
    t = cal.threshold_for(args.target_precision)
    served = scores >= t
    tp = int((served & yc).sum())
    print(f"calibration on {len(calib)} pairs ({source}): threshold {t:.4f} for precision "
          f">= {args.target_precision}: precision {tp / max(int(served.sum()), 1):.3f} recall {tp / max(int(yc.sum()), 1):.3f}")
    for kind in sorted({r["kind"] for r in calib}):
        idx = [i for i, r in enumerate(calib) if r["kind"] == kind]
        lab = calib[idx[0]]["label"]
        print(f"  {kind:>20} ({lab}): {int(served[idx].sum())}/{len(idx)} served")
    wrong = Counter(calib[i]["kind"] for i in range(len(calib)) if served[i] and not yc[i])
    print(f"  false hits by kind: {dict(wrong)}")
    if args.dry_run:
        return
    OUT.write_text(json.dumps({
        "model": "logistic over pair features", "features": list(FEATURES),
        "weights": {n: round(float(v), 6) for n, v in zip(FEATURES, w, strict=True)}, "bias": round(b, 6),
        "mean": {n: round(float(v), 6) for n, v in zip(FEATURES, mean, strict=True)},
        "scale": {n: round(float(v), 6) for n, v in zip(FEATURES, scale, strict=True)},
        "calibration": {"points": [list(p) for p in cal.points], "pairs": cal.pairs, "source": cal.source},
        "meta": {"trained_on": len(train), "l2": args.l2, "embedder": scorer.embedder.name},
    }, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
