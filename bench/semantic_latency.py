"""Semantic lookup latency: embed a ~200-token prompt, search an index of 100,000 entries, judge.

The entries are synthetic questions (words drawn from the paraphrase set's vocabulary, 8-40
words each) in one scope, so every lookup searches all 100,000; the queries are ~200-token
prompts made the same way. Times, over single-threaded lookups: embed + search; the gateway's
own decision (``SemanticCacheStage.choose``: the cosine gate, the vetoes, the judge on at most
NEIGHBOURS: the miss path, since random prompts have no close neighbour); the judge's every
feature (``--verifier cross-encoder``: the model) on NEIGHBOURS neighbours whatever their cosine,
no veto (the worst case of the hit path, each neighbour a 200-token cached prompt of its own, its
token ids kept from its first judging as ``Entry.judged`` keeps them); and the old lexical verifier
on NEIGHBOURS. The miss and hit paths are also given in the thread's CPU time, the hit path twice
with the cross-encoder: served by the last neighbour (every pass) and by the nearest (one pass,
since a lookup stops at the first neighbour the judge accepts), which a loaded machine inflates far less than wall time. Memory per entry is the process's resident growth while the index
and entries are built, divided by their number (texts included, answers not).

    .venv/bin/python bench/semantic_latency.py [--entries 100000] [--queries 2000] [--verifier cross-encoder]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from costops.cache.semantic.config import DEFAULT_THRESHOLD, parse_semantic
from costops.cache.semantic.crossjudge import CrossJudge
from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.index import Entry, SemanticIndex
from costops.cache.semantic.judge import Scorer
from costops.cache.semantic.stage import NEIGHBOURS, SemanticCacheStage
from costops.cache.semantic.verify import facts, verify


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

DATA = Path(__file__).parent / "data" / "paraphrases.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--prompt-tokens", type=int, default=200)
    parser.add_argument("--verifier", default="judge", choices=("judge", "cross-encoder"),
                        help="the stage's verifier (cache.semantic.verifier)")
    args = parser.parse_args()

    rng = random.Random(7)
    words = sorted({w for line in DATA.open() for w in json.loads(line)["query"].split()})
    embedder = StaticEmbedder.load()
    scorer = Scorer(embedder)
    index = SemanticIndex(embedder.dims, embedder.embed, args.entries, time.time)
    started = time.perf_counter()
    rss_before = rss_bytes()
    texts = [" ".join(rng.choices(words, k=rng.randint(8, 40))) for _ in range(args.entries)]
    vectors = embedder.embed_many(texts)
    index.add_many("scope", [Entry(str(i), "scope", t, b"{}", {}, 0.0, float("inf")) for i, t in enumerate(texts)], vectors)
    del vectors
    per_entry = (rss_bytes() - rss_before) / len(index)
    print(f"built an index of {len(index):,} entries ({embedder.dims} dims) in {time.perf_counter() - started:.1f} s; "
          f"resident memory {per_entry:,.0f} bytes per entry (text ~{np.mean([len(t) for t in texts]):.0f} chars, answer not included)")
    long_entries = []
    for _ in range(64):  # 200-token cached prompts, for the judge's worst case
        long_entries.append(" ".join(rng.choices(words, k=120)))

    prompts = []
    for _ in range(args.queries):
        prompt, n = [], 0
        while n < args.prompt_tokens:
            word = rng.choice(words)
            prompt.append(word)
            n += len(embedder.tokenizer.ids(word))
        prompts.append(" ".join(prompt))
    tokens = np.mean([len(embedder.tokenizer.ids(p)) for p in prompts])
    embedder.tokenizer._words.clear()  # no warm word cache: every prompt pays its tokenization

    settings = parse_semantic({"cache": {"semantic": {"verifier": args.verifier}}})
    stage = SemanticCacheStage(settings, time.time, exact_cache=False, embedder=embedder)
    stage.index = index
    accept = stage.accept_score({})
    lookup, judging, worst, verifying, nearest, judged = [], [], [], [], [], []
    cpu_miss, cpu_hit, cpu_hit_first = [], [], []
    long_judged = [stage.scorer.query(t) for t in long_entries] if isinstance(stage.scorer, CrossJudge) else []
    for n, prompt in enumerate(prompts):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        vector = embedder.embed(prompt)
        found = index.search("scope", vector, NEIGHBOURS)
        t1 = time.perf_counter()
        c1 = time.thread_time()
        stage.choose(prompt, found, DEFAULT_THRESHOLD, accept)  # the gateway's decision: gate, vetoes, judge
        t2 = time.perf_counter()
        c2 = time.thread_time()
        c_first = None
        if isinstance(stage.scorer, CrossJudge):
            query = stage.scorer.query(prompt)
            for k in range(NEIGHBOURS):  # the model on each (no veto, no gate): a hit on the last one
                cached = long_judged[(n * NEIGHBOURS + k) % len(long_judged)]  # tokenized once, as Entry.judged
                stage.scorer.model.score_ids(cached.ids, query.ids)
                c_first = c_first or time.thread_time()
        else:
            query_profile = scorer.profile(prompt)
            for k in range(NEIGHBOURS):  # every feature computed (no veto): the judge's worst case
                cached_text = long_entries[(n * NEIGHBOURS + k) % len(long_entries)]
                scorer.judge.score_features(scorer.features(query_profile, scorer.profile(cached_text), 0.9))
        t3 = time.perf_counter()
        c3 = time.thread_time()
        cpu_miss.append((c2 - c0) * 1000)
        cpu_hit.append((c1 - c0 + c3 - c2) * 1000)
        if c_first is not None:
            cpu_hit_first.append((c1 - c0 + c_first - c2) * 1000)
        query = facts(prompt)
        for neighbour in found:
            verify(query, index.facts_of(neighbour.entry), embedder.word_vector)
        t4 = time.perf_counter()
        lookup.append((t1 - t0) * 1000)
        judging.append((t2 - t1) * 1000)
        worst.append((t3 - t2) * 1000)
        verifying.append((t4 - t3) * 1000)
        nearest.append(found[0].similarity if found else 0.0)
        judged.append(sum(1 for nb in found if nb.similarity >= DEFAULT_THRESHOLD))
    q50, q95, q99, qmax = np.percentile(nearest, [50, 95, 99, 100])
    print(f"nearest neighbour's cosine: p50 {q50:.3f}  p95 {q95:.3f}  p99 {q99:.3f}  max {qmax:.3f}; "
          f"over the gate {DEFAULT_THRESHOLD}: {sum(judged)} neighbours in {sum(1 for j in judged if j)} of "
          f"{len(prompts)} lookups (at most {NEIGHBOURS} judged each)")
    for name, times in (("embed + search", lookup), ("choose (gated)", judging),
                        ("lookup (miss path)", [a + b for a, b in zip(lookup, judging, strict=True)]),
                        (f"judge {NEIGHBOURS} x 200 tokens", worst),
                        ("lookup (hit path)", [a + b for a, b in zip(lookup, worst, strict=True)]),
                        (f"old verifier on {NEIGHBOURS}", verifying),
                        ("miss path, CPU time", cpu_miss), ("hit path, CPU time", cpu_hit),
                        *([("hit on nearest, CPU", cpu_hit_first)] if cpu_hit_first else [])):
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        print(f"{name:>20}: p50 {p50:.3f} ms  p95 {p95:.3f} ms  p99 {p99:.3f} ms  ({len(times)} prompts of ~{tokens:.0f} tokens, "
              f"{len(index):,} entries)")


if __name__ == "__main__":
    main()
