"""The judge: does a cached question's answer also answer the new one? A probability, calibrated.

The nearest neighbour by cosine is only a candidate: a static embedding is a sum of token
vectors, blind to word order ("A to B" = "B to A") and to one word that changes the answer. The
judge scores a (query, cached) pair from features that see what the sum does not, and a logistic
model trained on pairs (``bench/train_judge.py``) turns them into P(same answer):

- soft word alignment by the static table's word vectors (each word's best match on the other
  side, weighted by how rare the word is): a synonym aligns, another entity or verb does not;
- word order: aligned words whose order differs between the texts (a swap of sides or roles),
  and the old verifier's swapped-sides rule around to / from / into / than;
- the parts that differ: sentences of one text not in the other (with a pasted context, that is
  the question asked about it), compared alone, so a long shared context cannot hide a changed
  question;
- the exact checks that are right (numbers, units, negation, periods, entities, opposite
  directions, the question word, operators), as features; numbers, negation and periods also
  veto outright, since no wording makes "5" answer "50".

Why not a cross-encoder: one MiniLM-L6 pass over a 2 x 200-token pair is about 4 G multiply-adds (an
estimate from its shape), tens of milliseconds on one core, past the 5 ms budget; these features cost well under a
millisecond of arithmetic (a few ms of Python for two 200-token texts) and ship as a few KB of
weights (``data/judge.json``) with no new dependency. The calibration table in the same file,
read off the adversarial set's dev split (``bench/data/semantic_pairs/dev.jsonl``, which the
model is not trained on), maps a target precision to the acceptance score
(:meth:`Judge.threshold_for`). On that set the judge is weak: precision 0.98 is reached only
at the very top (recall under 1 %), precision 0.8 at recall about 0.14.

Pure functions of the texts and the word vectors; no I/O but :meth:`Judge.load`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from costops.cache.semantic.calibration import Calibration
from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.verify import (
    _SYNONYM_OF,
    Facts,
    _directions,
    _stem,
    facts,
)

DEFAULT_MODEL = "judge.json"
MIN_ORDER_WEIGHT = 0.5
MAX_SIDES = 16
SAME = 0.9995
"""A word-vector cosine this close to 1 is the same word."""
"""The order check looks at the 16 rarest words met once on each side, and 16 reversed pairs at most."""
_ARTICLES = {"the", "a", "an", "my", "your", "our", "their", "and", "or", "nor", "vs", "versus"}
"""Not pivots: "A and B" is "B and A"; an article sits anywhere."""
"""Words lighter than this (to, from, the) are not aligned for the order check."""
CAP = 6.0
"""A word weight (SIF-scaled norm) at or past which a word counts fully in the alignment."""
WordInfo = Callable[[str], tuple[np.ndarray, float]]
"""A lower-cased word's unit vector and its weight (the norm of its SIF-weighted row sum)."""

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\+\+|#(?!\w))?(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)*|(?<!\S)[-+*/=<>×÷](?!\S)")
_CLAUSE = re.compile(r"[,;:.!?\n]+")
_SCOPE = {"all", "every", "each", "some", "only", "none", "both", "either", "entire", "whole", "most", "several",
          "everyone", "everything", "someone", "alone", "except"}
_OPPOSITES = [("pro", "con"), ("pros", "cons"), ("advantage", "disadvantage"), ("advantages", "disadvantages"),
              ("benefit", "drawback"), ("benefits", "drawbacks"), ("benefits", "risks"), ("strengths", "weaknesses"),
              ("strength", "weakness"), ("safe", "dangerous"), ("safe", "risky"), ("safe", "unsafe"),
              ("legal", "illegal"), ("allowed", "forbidden"), ("allowed", "banned"), ("true", "false"), ("hot", "cold"),
              ("warm", "cool"), ("wet", "dry"), ("easy", "hard"), ("easy", "difficult"), ("good", "bad"),
              ("success", "failure"), ("win", "lose"), ("winner", "loser"), ("accept", "reject"), ("accepted", "rejected"),
              ("approve", "deny"), ("approved", "denied"), ("approve", "reject"), ("approved", "rejected"),
              ("valid", "invalid"), ("public", "private"), ("internal", "external"), ("inside", "outside"),
              ("input", "output"), ("inbound", "outbound"), ("incoming", "outgoing"), ("client", "server"),
              ("sync", "async"), ("synchronous", "asynchronous"), ("left", "right"), ("north", "south"),
              ("east", "west"), ("male", "female"), ("men", "women"), ("adult", "child"), ("adults", "children"),
              ("employer", "employee"), ("landlord", "tenant"), ("buyer", "seller"), ("lender", "borrower"),
              ("sender", "recipient"), ("parent", "child"), ("local", "remote"), ("online", "offline"),
              ("domestic", "international"), ("import", "export"), ("like", "dislike"), ("love", "hate"),
              ("agree", "disagree"), ("include", "exclude"), ("included", "excluded"), ("pass", "fail"),
              ("passed", "failed"), ("open", "closed"), ("wins", "losses"), ("gains", "losses"), ("profit", "loss"),
              ("income", "expenses"), ("debit", "credit"), ("asset", "liability"), ("assets", "liabilities"),
              ("fresh", "frozen"), ("long", "short"), ("longest", "shortest"), ("min", "max"), ("raw", "cooked"), ("ice", "heat"), ("fridge", "freezer")]
"""Words whose answer is the other's opposite, though the static vectors put them side by side."""
_OPPOSITE_OF: dict[str, set[str]] = {}
for _x, _y in _OPPOSITES:
    _OPPOSITE_OF.setdefault(_x, set()).add(_y)
    _OPPOSITE_OF.setdefault(_y, set()).add(_x)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_QUESTION_WORDS = {
    "why": "why", "when": "when", "where": "where", "who": "who", "whom": "who", "whose": "who", "which": "what",
    "what": "what", "how": "how", "whether": "yes-no", "is": "yes-no", "are": "yes-no", "can": "yes-no",
    "could": "yes-no", "do": "yes-no", "does": "yes-no", "did": "yes-no", "should": "yes-no", "will": "yes-no",
    "would": "yes-no", "isn't": "yes-no", "can't": "yes-no",
}
_DISTINCT_ASKS = {"why", "when", "where", "who"}
"""Question words that never stand for one another ("why did it fall" is not "when did it fall")."""
_HOW_QUANTITY = {"many", "much", "long", "often", "far", "old", "early", "late", "big", "fast"}
_HOW_WORDS = {"way", "ways", "steps", "step", "best", "procedure"}
_WHAT_IS = {"price": "how-much", "cost": "how-much", "fee": "how-much", "amount": "how-much", "number": "how-many",
            "time": "when", "date": "when", "day": "when", "place": "where", "reason": "why", "duration": "how-long"}
"""What "what ..." asks when one of these follows it: "what is the price" asks "how much"."""
_PHRASES = {("turn", "on"): "enable", ("switch", "on"): "enable", ("turn", "off"): "disable",
            ("switch", "off"): "disable", ("sign", "up"): "register", ("set", "up"): "configure",
            ("go", "up"): "increase", ("goes", "up"): "increase", ("went", "up"): "increase",
            ("go", "down"): "decrease", ("goes", "down"): "decrease", ("went", "down"): "decrease",
            ("log", "in"): "login", ("sign", "in"): "login", ("log", "out"): "logout", ("sign", "out"): "logout",
            ("find", "out"): "learn", ("get", "rid"): "remove", ("check", "out"): "checkout"}
"""Two-word verbs read as the one word they mean, so "turn on" aligns with "enable"."""
_CHIT_CHAT = {"sorry", "bother", "bothering", "hope", "hoping", "well", "friend", "asking", "lost", "bit",
              "wondering", "appreciate", "appreciated", "advance", "great", "awesome", "guys", "folks", "everyone",
              "hiya", "ty", "regards", "best", "wishes", "hopefully", "maybe", "quickly", "confused", "stuck",
              "curious", "basically", "actually", "honestly", "anyone", "somebody", "someone", "explain"}
"""Greetings and hedges that say nothing about what is asked (with the verifier's stop words)."""
_FUNCTION = set("""a an the i me my mine we us our you your it its this that these those there here what which who
    whom whose when where why how is am are was were be been being do does did have has had can could would should
    will shall may might must of and or so just also please kindly thanks thank thx hi hello hey dear morning
    afternoon evening good quick question questions cheers tell know want need like love ok okay sure way ways
    possible able steps step best s t d ll re ve let's i'm i've i'd you're it's what's that's there's""".split())
"""Function words and politeness: what an answer does not depend on (rare words weigh in by their SIF weight)."""
_FILLER = _FUNCTION | _CHIT_CHAT | set(_QUESTION_WORDS)
_POLITE_OPENERS = _CHIT_CHAT | {"i", "was", "i'm", "a", "to", "hi", "hello", "hey", "thanks", "thank", "please",
                                "cheers", "quick", "question", "tell", "me", "you", "could", "any", "help", "so",
                                "good", "morning", "afternoon", "evening", "team", "one", "more", "thing", "dear"}

FEATURES = (
    "cosine", "unmatched_max", "unmatched_sum", "unmatched_top", "worst_match", "unmatched_words", "swaps", "swapped_sides",
    "diff_cosine", "diff_unmatched", "numbers_differ", "units_differ", "negation_differs",
    "periods_differ", "entities_only_in_one", "directions_differ", "question_word_differs",
    "operators_differ", "scope_differs", "opposites", "asks_another_thing", "other_units", "length_gap",
)
VETOES = ("numbers_differ", "negation_differs", "periods_differ", "swaps", "opposites", "operators_differ",
          "asks_another_thing", "other_units")


@dataclass(slots=True)
class Profile:
    """One text, read once (a cached entry keeps its own)."""

    text: str
    facts: Facts
    words: tuple[str, ...]
    """Words that carry meaning, lower-cased, in order (no filler)."""
    vectors: np.ndarray
    weights: np.ndarray
    tokens: tuple[str, ...]
    """Every word, lower-cased, in order (for the order check)."""
    sentences: tuple[str, ...]
    """Normalized sentences, to find the part that differs from another text."""
    question: str
    operators: frozenset[str]
    scope: frozenset[str]
    """Quantifiers (all, only, some, each...): "delete all messages" is not "delete only mine"."""
    forms: frozenset[str] | None = None
    """Made on first use (:func:`_forms_of`). Each word, its stem, its root and (4+ letters) each way to drop one letter: what a word of the
    other text must hit to count as the same word, a form of it, or one typo away."""


def profile(text: str, word_info: WordInfo, known: Facts | None = None) -> Profile:
    tokens = _phrases([t.lower() for t in _WORD.findall(text)])
    words = tuple(t for t in tokens if t not in _FILLER and not t[0].isdigit() and t[0].isalnum())
    dims = len(word_info("a")[0])
    vectors = np.zeros((len(words), dims), np.float32)
    weights = np.zeros(len(words), np.float32)
    for i, w in enumerate(words):
        vectors[i], weights[i] = word_info(w)
    sentences = tuple(s for s in (" ".join(_WORD.findall(p.lower())) for p in _SENTENCES.split(text)) if s)
    return Profile(text, known or facts(text), words, vectors, weights, tuple(tokens), sentences,
                   _question_word(_CLAUSE.split(text.lower())), frozenset(t for t in tokens if not t[0].isalnum()),
                   frozenset(t for t in tokens if t in _SCOPE))


@lru_cache(maxsize=200_000)
def _deletions(word: str) -> frozenset[str]:
    return frozenset(word[:i] + word[i + 1:] for i in range(len(word))) if len(word) >= 4 and word.isalpha() \
        else frozenset()


@lru_cache(maxsize=200_000)
def _word_forms(word: str) -> frozenset[str]:
    """What one word puts in its text's forms (:func:`_forms`); a word is read once per process, not per pair."""
    return frozenset((word, "stem:" + _stem(word), "root:" + _root(word), *("del:" + d for d in _deletions(word))))


@lru_cache(maxsize=200_000)
def _probes(word: str) -> frozenset[str]:
    """The forms of the other text any one of which makes ``word`` the same word there (:func:`_same_word`)."""
    out = {word, "stem:" + _stem(word), "root:" + _root(word)}
    if len(word) >= 4 and word.isalpha():
        out.add("del:" + word)
        for d in _deletions(word):
            out.update((d, "del:" + d))
    group = _SYNONYM_OF.get(_stem(word)) or _SYNONYM_OF.get(word)
    for g in group or ():
        out.update((g, "stem:" + _stem(g)))
    return frozenset(out)


def _forms(words: Sequence[str]) -> frozenset[str]:
    return frozenset().union(*(_word_forms(w) for w in set(words)))


def _forms_of(p: Profile) -> frozenset[str]:
    if p.forms is None:
        p.forms = _forms(p.words)
    return p.forms


def _same_word(word: str, other: Profile) -> bool:
    """The word, a form of it or one typo of it is in the other text (or a listed synonym)."""
    return not _probes(word).isdisjoint(_forms_of(other))


def _phrases(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for t in tokens:
        joined = _PHRASES.get((out[-1], t)) if out else None
        if joined:
            out[-1] = joined
        else:
            out.append(t)
    return out


def _question_word(clauses: list[str]) -> str:
    """The kind of question asked: its first question word, wherever it stands ("X: how do I do that?"),
    past "could you" / "can you" ("could you tell me why..." asks why); "what's the way to" asks how,
    "what is the price" how much. A yes-no word counts only at the start of a clause ("if X, is Y?")."""
    for clause in clauses:
        tokens = _phrases(_WORD.findall(clause))
        for i, t in enumerate(tokens):
            kind = _QUESTION_WORDS.get(t.replace("’", "'").split("'")[0])
            if kind is None:
                continue
            nxt = tokens[i + 1 : i + 4]
            if kind == "yes-no" and (nxt[:1] == ["you"] or not all(t in _POLITE_OPENERS for t in tokens[:i])):
                continue
            if kind == "how" and nxt[:1] and nxt[0] in _HOW_QUANTITY:
                return "how-" + nxt[0]
            if kind in ("what", "yes-no") and _HOW_WORDS & set(nxt):
                return "how"
            if kind == "what":
                for word, same in _WHAT_IS.items():
                    if word in nxt:
                        return same
            return kind
    return "statement"


def _importance(weights: np.ndarray) -> np.ndarray:
    """A word's weight for the alignment: rare words count most, capped so one cannot dominate."""
    return np.minimum(weights, CAP) / CAP


_DERIVED = sorted(["ization", "isation", "ations", "ation", "ition", "ions", "ion", "izes", "ized", "ize", "ises",
                   "ised", "ise", "ies", "y", "ments", "ment", "ance", "ence", "ity", "ive", "sis", "ses", "es", "s",
                   "ed", "ing", "er", "ers"], key=len, reverse=True)


@lru_cache(maxsize=200_000)
def _root(word: str) -> str:
    """A word less one derivational suffix ("summarize", "summary" -> "summar"): related words align."""
    for suffix in _DERIVED:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _alignment(a: Profile, b: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Each word's best match on the other side, in [0, 1] (an exact, stem or typo match is 1)."""
    if not a.words or not b.words:
        return np.zeros(len(a.words), np.float32), np.zeros(len(b.words), np.float32)
    sim = a.vectors @ b.vectors.T
    # clipping each row's best is clipping the matrix first (clip is monotone), at two rows' cost
    best_a = np.clip(sim.max(axis=1), 0.0, 1.0)
    best_b = np.clip(sim.max(axis=0), 0.0, 1.0)
    best_a[best_a >= SAME] = 1.0
    best_b[best_b >= SAME] = 1.0
    for best, p, other in ((best_a, a, b), (best_b, b, a)):
        forms = _forms_of(other)
        for i in np.flatnonzero(best < 1.0):  # only the words the vectors did not match
            if not _probes(p.words[i]).isdisjoint(forms):
                best[i] = 1.0
    return best_a, best_b


def _swaps(a: Profile, b: Profile) -> int:
    """Pairs of words whose order differs with a word between them in both texts: "A to B" / "B to A",
    "Alice pays Bob" / "Bob pays Alice". A clause moved whole ("if X, is Y?" / "is Y if X?") reverses
    words too, but nothing stays between them on both sides, so it is not counted. Words met once
    in each text only; light words (to, the) can be a pivot but not a side."""
    ca, cb = Counter(a.tokens), Counter(b.tokens)
    pa = {t: i for i, t in enumerate(a.tokens) if ca[t] == 1 and cb[t] == 1}
    pb = {t: i for i, t in enumerate(b.tokens) if t in pa}
    weight = dict(zip(a.words, a.weights, strict=True))
    sides = sorted((w for w in pa if w[0].isdigit() or weight.get(w, 0.0) >= MIN_ORDER_WEIGHT),
                   key=lambda w: -weight.get(w, 1.0))[:MAX_SIDES]
    sides.sort(key=pa.__getitem__)
    swaps = checked = 0
    for i, x in enumerate(sides):
        for y in sides[i + 1:]:
            if pb[x] < pb[y]:
                continue
            checked += 1
            if checked > MAX_SIDES:
                return swaps
            between = set(a.tokens[pa[x] + 1 : pa[y]]) - _ARTICLES
            if between and not between.isdisjoint(b.tokens[pb[y] + 1 : pb[x]]):
                swaps += 1
    return swaps


def _differing(a: Profile, b: Profile) -> tuple[list[int], list[int]]:
    """Indexes of the words in sentences only one text has (all of them when no sentence is shared)."""
    shared = set(a.sentences) & set(b.sentences)
    if not shared:
        return list(range(len(a.words))), list(range(len(b.words)))

    def own(p: Profile) -> list[int]:
        keep = {w for s in p.sentences if s not in shared for w in s.split()}
        return [i for i, w in enumerate(p.words) if w in keep]

    return own(a), own(b)


def _sub(p: Profile, idx: list[int]) -> Profile:
    words = tuple(p.words[i] for i in idx)
    return Profile(p.text, p.facts, words, p.vectors[idx], p.weights[idx], p.tokens, p.sentences,
                   p.question, p.operators, p.scope)


def _opposites(a: Profile, b: Profile) -> bool:
    """A word in one text whose opposite is in the other, and not in the first ("pros" / "cons")."""
    ta, tb = set(a.tokens), set(b.tokens)
    return any(o in tb and o not in ta and w not in tb for w in ta - tb for o in _OPPOSITE_OF.get(w, ()))


def _misses(best: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each word's weighted miss: its sum is how much goes unmatched, its max the one word that
    matches worst (a single changed word is not diluted by a long text)."""
    return _importance(weights) * (1.0 - best)


def _unmatched(best: np.ndarray, weights: np.ndarray) -> float:
    return float(_misses(best, weights).sum()) if len(best) else 0.0


def _mean_vector(p: Profile) -> np.ndarray:
    if not len(p.words):
        return np.zeros(p.vectors.shape[1], np.float32)
    v = (p.vectors * p.weights[:, None]).sum(axis=0)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def features(q: Profile, c: Profile, cosine: float, word_vector: Callable[[str], np.ndarray],
             synonym_min: float = 0.75) -> dict[str, float]:
    """The pair's features by name (:data:`FEATURES`); symmetric in q and c but for the cosine's source."""
    best_q, best_c = _alignment(q, c)
    miss_q, miss_c = _misses(best_q, q.weights), _misses(best_c, c.weights)
    un_q = float(miss_q.sum()) if len(best_q) else 0.0
    un_c = float(miss_c.sum()) if len(best_c) else 0.0
    worst = min([float(best_q.min()) if len(best_q) else 1.0, float(best_c.min()) if len(best_c) else 1.0])
    iq, ic = _differing(q, c)
    dq, dc = _sub(q, iq), _sub(c, ic)
    if len(iq) == len(q.words) and len(ic) == len(c.words):  # no sentence shared: the whole texts differ
        diff_cos = float(_mean_vector(q) @ _mean_vector(c)) if q.words and c.words else 0.0
        diff_un = max(un_q, un_c)
    elif dq.words and dc.words:
        diff_cos = float(_mean_vector(dq) @ _mean_vector(dc))
        bq, bc = _alignment(dq, dc)
        diff_un = max(_unmatched(bq, dq.weights), _unmatched(bc, dc.weights))
    elif not dq.words and not dc.words:
        diff_cos, diff_un = 1.0, 0.0  # what differs is only greetings and punctuation
    else:  # one text says more: is that covered by the other text as a whole?
        extra, whole = (dq, c) if dq.words else (dc, q)
        diff_cos = float(_mean_vector(extra) @ _mean_vector(whole))
        diff_un = _unmatched(_alignment(extra, whole)[0], extra.weights)
    qf, cf = q.facts, c.facts
    swapped = any(x != y and (rel, y, x) in cf.relations and (rel, x, y) not in cf.relations
                  for rel, x, y in qf.relations)
    entities = sum(1 for a, b in ((qf, c), (cf, q)) for e in a.entities
                   if e not in b.facts.words and not _same_word(e, b))
    return {
        "cosine": cosine,
        "unmatched_max": max(un_q, un_c),
        "unmatched_sum": un_q + un_c,
        "unmatched_top": max(float(miss_q.max()) if len(best_q) else 0.0, float(miss_c.max()) if len(best_c) else 0.0),
        "worst_match": worst,
        "unmatched_words": float((best_q < 0.6).sum() + (best_c < 0.6).sum()),
        "swaps": float(min(_swaps(q, c), 3)),
        "swapped_sides": float(swapped),
        "diff_cosine": diff_cos,
        "diff_unmatched": diff_un,
        "numbers_differ": float(qf.numbers != cf.numbers),
        "units_differ": float(qf.units != cf.units),
        "negation_differs": float(qf.negated != cf.negated),
        "periods_differ": float(qf.when != cf.when),
        "entities_only_in_one": float(min(entities, 3)),
        "directions_differ": float(_directions(qf, cf) is not None),
        "question_word_differs": float(q.question != c.question),
        "asks_another_thing": float(q.question != c.question and q.question in _DISTINCT_ASKS
                                    and c.question in _DISTINCT_ASKS),
        "other_units": float(bool(qf.units and cf.units and qf.units != cf.units)),
        "operators_differ": float(bool(q.operators and c.operators and q.operators != c.operators)),
        "scope_differs": float(q.scope != c.scope),
        "opposites": float(_opposites(q, c)),
        "length_gap": abs(math.log1p(len(q.words)) - math.log1p(len(c.words))),
    }


def vetoed(q: Facts, c: Facts) -> bool:
    """The vetoes the facts alone decide (numbers, negation, periods, other units): checked before a
    cached text is even profiled, since no wording makes "5" answer "50". The same as the features."""
    return (q.numbers != c.numbers or q.negated != c.negated or q.when != c.when
            or bool(q.units and c.units and q.units != c.units))


def _cheap_veto(q: Profile, c: Profile) -> bool:
    """The profile-level vetoes that need no word alignment (operators, another question, opposites)."""
    return (bool(q.operators and c.operators and q.operators != c.operators)
            or (q.question != c.question and q.question in _DISTINCT_ASKS and c.question in _DISTINCT_ASKS)
            or _opposites(q, c))


class Judge:
    """The trained model: standardize, dot, sigmoid; vetoes first."""

    def __init__(self, weights: dict[str, float], bias: float, mean: dict[str, float], scale: dict[str, float],
                 calibration: Calibration, meta: dict[str, Any] | None = None) -> None:
        self.names = FEATURES
        self.w = np.array([weights[n] / scale[n] for n in FEATURES])
        self.b = bias - float(sum(weights[n] * mean[n] / scale[n] for n in FEATURES))
        self.calibration = calibration
        self.meta = meta or {}
        self._veto = [FEATURES.index(n) for n in VETOES]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Judge:
        if path is None:
            text = (resources.files("costops.cache.semantic") / "data" / DEFAULT_MODEL).read_text()
        else:
            text = Path(path).read_text()
        data = json.loads(text)
        cal = data["calibration"]
        return cls(data["weights"], data["bias"], data["mean"], data["scale"],
                   Calibration(tuple(tuple(p) for p in cal["points"]), cal["pairs"], cal["source"]),  # type: ignore[misc]
                   data.get("meta"))

    def score_features(self, f: dict[str, float]) -> float:
        x = np.array([f[n] for n in FEATURES])
        if any(x[i] > 0 for i in self._veto):
            return 0.0
        return float(1.0 / (1.0 + math.exp(-float(self.w @ x + self.b))))

    def threshold_for(self, target_precision: float) -> float:
        return self.calibration.threshold_for(target_precision)


class Scorer:
    """A judge with the embedder it reads words through: what the stage, the eval and calibrate share."""

    def __init__(self, embedder: StaticEmbedder, judge: Judge | None = None, synonym_min: float = 0.75) -> None:
        self.embedder = embedder
        self.judge = judge or Judge.load()
        self.synonym_min = synonym_min
        self._words: dict[str, tuple[np.ndarray, float]] = {}

    def threshold_for(self, target_precision: float) -> float:
        return self.judge.threshold_for(target_precision)

    def word_info(self, word: str) -> tuple[np.ndarray, float]:
        got = self._words.get(word)
        if got is None:
            ids = self.embedder.tokenizer.word_ids(word)
            raw = self.embedder.table[list(ids)].sum(axis=0)
            norm = float(np.linalg.norm(raw))
            got = (raw / norm if norm > 0 else raw, norm)
            if len(self._words) < 200_000:
                self._words[word] = got
        return got

    def word_vector(self, word: str) -> np.ndarray:
        return self.word_info(word)[0]

    def profile(self, text: str, known: Facts | None = None) -> Profile:
        return profile(text, self.word_info, known)

    def features(self, query: Profile, cached: Profile, cosine: float) -> dict[str, float]:
        return features(query, cached, cosine, self.word_vector, self.synonym_min)

    def score(self, query: Profile, cached: Profile, cosine: float) -> float:
        if query.text == cached.text:
            return 1.0  # the same prompt (the exact cache off, or another request option): its own answer
        if vetoed(query.facts, cached.facts) or _cheap_veto(query, cached):
            return 0.0  # what score_features would say, without the alignment's cost
        return self.judge.score_features(self.features(query, cached, cosine))

    def score_texts(self, query: str, cached: str) -> float:
        cosine = float(self.embedder.embed(query) @ self.embedder.embed(cached))
        return self.score(self.profile(query), self.profile(cached), cosine)
