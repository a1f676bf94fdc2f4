"""Scoring the semantic cache on labelled prompt pairs, and choosing the threshold that reaches a
precision: what ``costops cache eval`` and ``costops cache calibrate`` print.

A pair file is JSONL, one pair a line: ``{"a": cached prompt, "b": new prompt, "label": "hit" |
"miss", "kind"?: ..., "domain"?: ...}`` (``cached`` / ``query`` are read as ``a`` / ``b``).
``hit`` means the answer cached for ``a`` is a right answer to ``b``. The scores are:

* precision: served hits / all served (how often a served answer is right);
* recall: served hits / all hits (how much of what could be served is);
* false-hit rate: served misses / all misses (how often a near-miss gets a wrong answer).

Per kind, a hit kind has a recall and a miss kind a false-hit rate. The decisions themselves
come from the cache stage (:meth:`SemanticCacheStage.choose`); this module only counts them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

LABELS = ("hit", "miss")


@dataclass(frozen=True, slots=True)
class Pair:
    a: str
    """The prompt whose answer is cached."""
    b: str
    """The new prompt."""
    hit: bool
    kind: str = ""
    domain: str = ""


def parse_pairs(lines: Iterable[str], name: str = "pairs") -> list[Pair]:
    """The pairs of a JSONL text; a bad line raises ``ValueError`` naming ``name:line``."""
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}: each line is a JSON object such as "
                             '{"a": "...", "b": "...", "label": "hit"}')
        a, b = row.get("a", row.get("cached")), row.get("b", row.get("query"))
        if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
            raise ValueError(f"{where}: 'a' (the cached prompt) and 'b' (the new one) must be non-empty strings")
        label = row.get("label")
        if label not in LABELS:
            raise ValueError(f"{where}: 'label' is {label!r}; it must be 'hit' (serve a's answer for b) or 'miss'")
        kind, domain = row.get("kind", ""), row.get("domain", "")
        if not isinstance(kind, str) or not isinstance(domain, str):
            raise ValueError(f"{where}: 'kind' and 'domain' must be strings when given")
        out.append(Pair(a, b, label == "hit", kind, domain))
    if not out:
        raise ValueError(f"{name}: no pairs in it")
    return out


@dataclass(frozen=True, slots=True)
class Scores:
    pairs: int
    hits: int
    misses: int
    served_hits: int
    served_misses: int

    @property
    def served(self) -> int:
        return self.served_hits + self.served_misses

    @property
    def precision(self) -> float | None:
        return self.served_hits / self.served if self.served else None

    @property
    def recall(self) -> float | None:
        return self.served_hits / self.hits if self.hits else None

    @property
    def false_hit_rate(self) -> float | None:
        return self.served_misses / self.misses if self.misses else None

    def to_json(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "hits": self.hits, "misses": self.misses, "served": self.served,
                "served_hits": self.served_hits, "served_misses": self.served_misses,
                "precision": _round(self.precision), "recall": _round(self.recall),
                "false_hit_rate": _round(self.false_hit_rate)}


def count(pairs: Sequence[Pair], served: Sequence[bool]) -> Scores:
    hits = sum(p.hit for p in pairs)
    served_hits = sum(1 for p, s in zip(pairs, served, strict=True) if s and p.hit)
    served_misses = sum(1 for p, s in zip(pairs, served, strict=True) if s and not p.hit)
    return Scores(len(pairs), hits, len(pairs) - hits, served_hits, served_misses)


@dataclass(frozen=True, slots=True)
class Report:
    overall: Scores
    by_kind: dict[tuple[str, str], Scores]
    """(label, kind) -> scores; kind '' when the file has none."""
    by_domain: dict[str, Scores]

    def to_json(self) -> dict[str, Any]:
        return {"overall": self.overall.to_json(),
                "by_kind": [{"label": label, "kind": kind, **s.to_json()} for (label, kind), s in self.by_kind.items()],
                "by_domain": {d: s.to_json() for d, s in self.by_domain.items()}}


def report(pairs: Sequence[Pair], served: Sequence[bool]) -> Report:
    def group(key: Any) -> dict[Any, Scores]:
        members: dict[Any, list[int]] = {}
        for i, p in enumerate(pairs):
            k = key(p)
            if k is not None:
                members.setdefault(k, []).append(i)
        return {k: count([pairs[i] for i in idx], [served[i] for i in idx]) for k, idx in sorted(members.items())}

    by_kind = group(lambda p: ("hit" if p.hit else "miss", p.kind)) if any(p.kind for p in pairs) else {}
    by_domain = group(lambda p: p.domain or None)
    return Report(count(pairs, served), by_kind, by_domain)


@dataclass(frozen=True, slots=True)
class Calibration:
    target: float
    threshold: float | None
    """The lowest threshold in (0, 1] whose precision reaches the target (so the most recall);
    None when none does."""
    scores: Scores | None
    """At that threshold; when none reaches the target, at the threshold of best precision."""
    best_threshold: float | None = None


def calibrate(pairs: Sequence[Pair], scores: Sequence[float | None], target: float) -> Calibration:
    """``scores[i]``: the value the threshold is compared with for pair i (served when it is >=
    the threshold), None when the pair is never served. Thresholds are tried at each score, and
    the one printed is rounded down to 4 decimals only when that serves no more pairs."""
    candidates = sorted({s for s in scores if s is not None and 0 < s <= 1}, reverse=True)
    best: tuple[float, Scores] | None = None
    chosen: tuple[float, Scores] | None = None
    for t in candidates:
        s = count(pairs, [x is not None and x >= t for x in scores])
        if best is None or (s.precision or 0) > (best[1].precision or 0):
            best = (t, s)
        if s.precision is not None and s.precision >= target:
            chosen = (t, s)
    if chosen is None:
        return Calibration(target, None, best[1] if best else None, best[0] if best else None)
    t = chosen[0]
    lower = math.floor(t * 10_000) / 10_000
    if lower > 0 and not any(x is not None and lower <= x < t for x in scores):
        t = lower
    return Calibration(target, t, chosen[1])


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def format_report(r: Report, heading: str) -> str:
    """The tables ``costops cache eval`` prints."""
    o = r.overall
    lines = [heading,
             f"pairs {o.pairs:,} ({o.hits:,} hit, {o.misses:,} miss): served {o.served:,}, "
             f"precision {_pct(o.precision)}, recall {_pct(o.recall)}, false-hit rate {_pct(o.false_hit_rate)}"]
    if r.by_kind:
        lines.append("")
        lines.append(f"{'label/kind':<26} {'pairs':>6} {'served':>7}  rate")
        for (label, kind), s in r.by_kind.items():
            rate = f"recall {_pct(s.recall)}" if label == "hit" else f"false-hit rate {_pct(s.false_hit_rate)}"
            lines.append(f"{label + '/' + (kind or '-'):<26} {s.pairs:>6,} {s.served:>7,}  {rate}")
    if r.by_domain:
        lines.append("")
        lines.append(f"{'domain':<18} {'pairs':>6} {'served':>7} {'precision':>9} {'recall':>7} {'false-hit':>9}")
        for domain, s in r.by_domain.items():
            lines.append(f"{domain:<18} {s.pairs:>6,} {s.served:>7,} {_pct(s.precision):>9} {_pct(s.recall):>7} "
                         f"{_pct(s.false_hit_rate):>9}")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


# -- driving the cache's own decision -------------------------------------------------------------


def _candidates(stage: Any, pairs: Sequence[Pair]) -> list[tuple[str, Any]]:
    """Each pair as (new prompt, its cached prompt as the only neighbour a lookup finds), with
    the cosine of the stage's embedder (what its index's cosine search returns)."""
    from costops.cache.semantic.index import Entry, Neighbour

    out = []
    vectors: dict[str, Any] = {}
    for i, p in enumerate(pairs):
        for text in (p.a, p.b):
            if text not in vectors:
                vectors[text] = stage.embedder.embed(text)
        entry = Entry(id=f"eval-{i}", scope="eval", text=p.a, body=b"", usage={}, created=0.0, expires=math.inf)
        out.append((p.b, Neighbour(entry, float(vectors[p.a] @ vectors[p.b]))))
    return out


def served_by(stage: Any, pairs: Sequence[Pair], threshold: float, accept: float | None = None) -> list[bool]:
    """Whether the stage, at the cosine ``threshold`` (and the judge's ``accept`` score, default the
    configured one), serves each pair's cached answer for its new prompt."""
    return [stage.choose(text, [n], threshold, accept) is not None for text, n in _candidates(stage, pairs)]


def judge_scores(stage: Any, pairs: Sequence[Pair], threshold: float) -> list[float | None]:
    """Per pair, the judge's score when its cosine reaches ``threshold`` (else None, never served):
    with the judge on, the acceptance score is what a target precision calibrates."""
    return [stage.judge_score(text, n) if n.similarity >= threshold else None for text, n in _candidates(stage, pairs)]


def threshold_scores(stage: Any, pairs: Sequence[Pair]) -> list[float | None]:
    """Per pair, the cosine when the rest of the decision (the verifier) accepts it, else None: the
    pair is served at any threshold up to that value."""
    return [n.similarity if stage.choose(text, [n], -math.inf) is not None else None
            for text, n in _candidates(stage, pairs)]
