"""The feature judge's memo of Profiles: the same scores with it warm or cold, and a bound in bytes."""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from pathlib import Path

import pytest

from costops.cache.semantic.config import parse_semantic
from costops.cache.semantic.index import Entry, Neighbour
from costops.cache.semantic.judge import Scorer, _forms_of
from costops.cache.semantic.profiles import Profiles, size
from costops.cache.semantic.stage import SemanticCacheStage

DEV = Path(__file__).parent.parent / "bench" / "data" / "semantic_pairs" / "dev.jsonl"


def _stage(profiles: Profiles | None = None) -> SemanticCacheStage:
    stage = SemanticCacheStage(parse_semantic({"cache": {"semantic": {"verifier": "judge"}}}), time.time,
                               exact_cache=False)
    if profiles is not None:
        stage.profiles = profiles
    return stage


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, Neighbour]]:
    rows = [json.loads(line) for line in DEV.open()][::5]
    stage = _stage()
    out = []
    for i, r in enumerate(rows):
        entry = Entry(id=f"dev-{i}", scope="s", text=r["a"], body=b"", usage={}, created=0.0, expires=math.inf)
        out.append((r["b"], Neighbour(entry, float(stage.embedder.embed(r["a"]) @ stage.embedder.embed(r["b"])))))
    return out


def test_dev_pairs_score_the_same_with_the_memo_cold_and_warm(pairs: list[tuple[str, Neighbour]]) -> None:
    """Cold (a memo that holds nothing: each Profile read afresh, as before the memo) against the
    same stage's memo filled by a first pass and read on a second; and through choose()."""
    cold = _stage(Profiles(max_bytes=0))
    warm = _stage()
    scorer = cold.scorer
    assert isinstance(scorer, Scorer)
    accept = warm.accept_score({})
    first = [warm.judge_score(text, n) for text, n in pairs]
    assert len(warm.profiles) > len(pairs)  # both sides of most pairs held
    for (text, n), once in zip(pairs, first, strict=True):
        fresh = scorer.score(scorer.profile(text), scorer.profile(n.entry.text), n.similarity)
        assert cold.judge_score(text, n) == once == warm.judge_score(text, n) == fresh, (text, n.entry.text)
        assert (warm.choose(text, [n], -math.inf) is not None) == (once >= accept) \
            == (cold.choose(text, [n], -math.inf) is not None)
    assert len(cold.profiles) == 0
    assert 0 < sum(s > 0 for s in first) < len(first) and any(s >= accept for s in first)


def test_the_memo_drops_least_recently_used_profiles_past_its_bytes() -> None:
    scorer = _stage().scorer
    assert isinstance(scorer, Scorer)
    texts = [f"How do I rotate the {w} keys of our staging cluster?" for w in ("api", "ssh", "gpg", "tls")]
    made = {t: scorer.profile(t) for t in texts}
    one = size(made[texts[0]])
    memo = Profiles(max_bytes=3 * one)
    calls: list[str] = []

    def get(t: str) -> object:
        return memo.get(t, lambda: calls.append(t) or made[t])

    for t in texts[:3]:
        get(t)
    get(texts[0])  # now the most recently used
    get(texts[3])  # over the bound: texts[1], the least recently used, goes
    assert memo.bytes <= 3 * one and len(memo) == 3
    calls.clear()
    get(texts[0]), get(texts[2]), get(texts[3])
    assert calls == []
    get(texts[1])
    assert calls == [texts[1]]
    huge = Profiles(max_bytes=one - 1)
    assert huge.get(texts[0], lambda: made[texts[0]]) is made[texts[0]] and len(huge) == 0 and huge.bytes == 0


def test_a_profiles_size_is_not_under_what_it_holds() -> None:
    scorer = _stage().scorer
    assert isinstance(scorer, Scorer)
    rows = [json.loads(line) for line in DEV.open()]
    text = max((r["a"] for r in rows), key=len)
    _forms_of(scorer.profile(text))  # word caches warm: what is left is the Profile's own
    tracemalloc.start()
    p = scorer.profile(text)
    _forms_of(p)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(p.words) > 50 and held <= size(p) <= 2 * held
