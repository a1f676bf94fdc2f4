"""Semantic lookup latency: embed a ~200-token prompt and search an index of 100,000 entries.

The entries are synthetic questions (words drawn from the paraphrase set's vocabulary, 8-40
words each) in one scope, so every lookup searches all 100,000; the queries are ~200-token
prompts made the same way. Times embed + search (what the target covers), and separately the
verifier on the neighbours found, over single-threaded lookups.

    .venv/bin/python bench/semantic_latency.py [--entries 100000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.index import Entry, SemanticIndex
from costops.cache.semantic.verify import facts, verify

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
    index = SemanticIndex(embedder.dims, embedder.embed, args.entries, time.time)
    started = time.perf_counter()
    texts = [" ".join(rng.choices(words, k=rng.randint(8, 40))) for _ in range(args.entries)]
    vectors = embedder.embed_many(texts)
    index.add_many("scope", [Entry(str(i), "scope", t, b"{}", {}, 0.0, float("inf")) for i, t in enumerate(texts)], vectors)
    print(f"built an index of {len(index):,} entries ({embedder.dims} dims) in {time.perf_counter() - started:.1f} s")

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

    lookup, verifying = [], []
    for prompt in prompts:
        t0 = time.perf_counter()
        vector = embedder.embed(prompt)
        found = index.search("scope", vector, 4)
        t1 = time.perf_counter()
        query = facts(prompt)
        for neighbour in found:
            verify(query, index.facts_of(neighbour.entry), embedder.word_vector)
        t2 = time.perf_counter()
        lookup.append((t1 - t0) * 1000)
        verifying.append((t2 - t1) * 1000)
    for name, times in (("embed + search", lookup), ("verify 4 neighbours", verifying),
                        ("total", [a + b for a, b in zip(lookup, verifying, strict=True)])):
        p50, p99 = np.percentile(times, [50, 99])
        print(f"{name:>20}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  ({len(times)} prompts of ~{tokens:.0f} tokens, "
              f"{len(index):,} entries)")


if __name__ == "__main__":
    main()
