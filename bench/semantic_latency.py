"""Semantic lookup latency: embed a ~200-token prompt, search an index of 100,000 entries, judge.

The entries are synthetic questions (words drawn from the paraphrase set's vocabulary, 8-40
words each) in one scope, so every lookup searches all 100,000; the queries are ~200-token
prompts made the same way. Times, over single-threaded lookups: embed + search; the judge on
the neighbours the gateway would judge (cosine >= the default threshold: the miss path, since
random prompts have no close neighbour); the judge on all 4 neighbours whatever their cosine
(the worst case of the hit path, each neighbour a 200-token cached prompt of its own); and the
old lexical verifier on 4. Memory per entry is the process's resident growth while the index
and entries are built, divided by their number (texts included, answers not).

    .venv/bin/python bench/semantic_latency.py [--entries 100000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from costops.cache.semantic.config import DEFAULT_THRESHOLD
from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.index import Entry, SemanticIndex
from costops.cache.semantic.judge import Scorer
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

    lookup, judging, worst, verifying = [], [], [], []
    for n, prompt in enumerate(prompts):
        t0 = time.perf_counter()
        vector = embedder.embed(prompt)
        found = index.search("scope", vector, 4)
        t1 = time.perf_counter()
        gated = [nb for nb in found if nb.similarity >= DEFAULT_THRESHOLD]
        if gated:
            query_profile = scorer.profile(prompt)
            for neighbour in gated:
                scorer.score(query_profile, scorer.profile(neighbour.entry.text, index.facts_of(neighbour.entry)),
                             neighbour.similarity)
        t2 = time.perf_counter()
        query_profile = scorer.profile(prompt)
        for k in range(4):
            cached = long_entries[(n * 4 + k) % len(long_entries)]
            scorer.score(query_profile, scorer.profile(cached), 0.9)
        t3 = time.perf_counter()
        query = facts(prompt)
        for neighbour in found:
            verify(query, index.facts_of(neighbour.entry), embedder.word_vector)
        t4 = time.perf_counter()
        lookup.append((t1 - t0) * 1000)
        judging.append((t2 - t1) * 1000)
        worst.append((t3 - t2) * 1000)
        verifying.append((t4 - t3) * 1000)
    print(f"neighbours over the cosine threshold {DEFAULT_THRESHOLD}: "
          f"{sum(1 for t in judging if t > 0.01)} of {len(prompts)} lookups judged anything")
    for name, times in (("embed + search", lookup), ("judge (gated)", judging),
                        ("lookup (miss path)", [a + b for a, b in zip(lookup, judging, strict=True)]),
                        ("judge 4 x 200 tokens", worst),
                        ("lookup (hit path)", [a + b for a, b in zip(lookup, worst, strict=True)]),
                        ("old verifier on 4", verifying)):
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        print(f"{name:>20}: p50 {p50:.3f} ms  p95 {p95:.3f} ms  p99 {p99:.3f} ms  ({len(times)} prompts of ~{tokens:.0f} tokens, "
              f"{len(index):,} entries)")


if __name__ == "__main__":
    main()
