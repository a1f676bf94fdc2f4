"""The semantic cache's evaluation set (bench/data/semantic_pairs) keeps the shape issue 11 asks
for: >= 2,000 pairs over >= 8 domains, every kind in both splits, short and long prompts, and no
base prompt (nor any pair) in both dev and test, so figures on test are never tuned on."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

DATA = Path(__file__).parent.parent / "bench" / "data" / "semantic_pairs"
HIT_KINDS = {"reworded", "reordered", "typo", "formality", "synonym", "chitchat", "passive"}
MISS_KINDS = {"number", "entity", "negation", "scope", "direction", "unit", "opposite", "context_question"}


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").open()]


def test_size_domains_and_kinds() -> None:
    dev, test = _rows("dev"), _rows("test")
    assert len(dev) + len(test) >= 2000
    for rows in (dev, test):
        assert len({r["domain"] for r in rows}) >= 8
        labels = Counter(r["label"] for r in rows)
        assert set(labels) == {"hit", "miss"} and 0.4 < labels["hit"] / len(rows) < 0.6
        assert {r["kind"] for r in rows if r["label"] == "hit"} == HIT_KINDS
        assert {r["kind"] for r in rows if r["label"] == "miss"} == MISS_KINDS
        assert any(r["long"] for r in rows) and any(not r["long"] for r in rows)
        assert all(r["a"].strip() and r["b"].strip() and r["a"] != r["b"] for r in rows)


def test_split_by_base_prompt() -> None:
    dev, test = _rows("dev"), _rows("test")
    assert not {r["base"] for r in dev} & {r["base"] for r in test}
    pairs = lambda rows: {frozenset((r["a"], r["b"])) for r in rows}  # noqa: E731
    assert not pairs(dev) & pairs(test)
