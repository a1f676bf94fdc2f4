"""Whether a simulated answer is good: a two-parameter item response model (2PL IRT).

Each prompt (an *item*) has a hidden difficulty and each model a skill, both on one logit scale;
an answer passes with probability ``sigmoid(discrimination * (skill - difficulty))``. The draw
is a pure function of (seed, the prompt's user text, model, choice), so a run replays exactly and
the same prompt gets the same verdict from the same model whichever API shape, stream flag or
``max_tokens`` carried it. The gateway never sees either number: the difficulty lives in the
simulator (derived from the text, or told out of band by the workload), the skill in its config.

- **Skill** comes from price, as data: ``skill_at_1usd + skill_per_doubling * log2(blended)``
  with blended = (3 x input + output) / 4 USD per million tokens from the price catalog
  (genai-prices), so gpt-4o > gpt-4o-mini and Opus > Sonnet > Haiku without a hand-typed table.
  Price is a proxy: ``Grading.skills`` (glob -> skill) overrides it where it misleads (an old
  model priced high, a cheap reasoning model). An unpriced model counts as a $1 one.
- **Difficulty**: a ``[[sim:difficulty=X]]`` marker (tests), else ``Grading.difficulties`` keyed
  by :func:`item_key` (the workload's own table: it knows each item's task), else drawn from the
  simulator's task classification with :data:`TASK_DIFFICULTY` (mean, spread). A drawn difficulty
  is ``mean + spread * z`` where ``word_share`` of z's variance follows the prompt's words
  (paraphrases are about equally hard, so a router can learn it) and the rest is private to the
  exact text (only the answer tells).
- A failing answer is *detectable* with probability ``detectable`` (an acceptance check can
  catch it: see ``flaws``), otherwise a plausible wrong answer that reads like a good one.
- An answer cut at ``max_tokens`` fails (``truncated``). Graded, an answer's length is drawn
  from the prompt alone, so that cut is the item's, not a coin each model tosses.
- The **score** a user would give: a pass scores in [0.7, 1], a failure in [0, 0.3].
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any, NamedTuple

# Simulator task (behaviour.classify_task) -> (mean, spread) of item difficulty.
# On this scale a $1 model (skill 1.0) passes an item of difficulty 1.0 half the time, one of
# -2.5 (a label) 99 times in 100 and one of 0.8 (code) 57 times in 100.
TASK_DIFFICULTY: dict[str, tuple[float, float]] = {
    "classify": (-2.5, 0.8),
    "translate": (-2.0, 0.8),
    "extract": (-1.0, 0.9),
    "chat": (-1.0, 1.0),
    "summarize": (-0.8, 0.9),
    "creative": (-0.8, 0.9),
    "code": (0.8, 1.0),
    "reasoning": (1.2, 1.0),
}
_NORMAL = NormalDist()
_WORD = re.compile(r"[a-z0-9]{4,}")
# Words most prompts share carry no difficulty (they would shift every prompt alike).
_COMMON = frozenset(
    "that this with from your have what when which will would there their about been were they them "
    "into than then also some more most other such only over just like very each make please could "
    "should these those where while here after before because does being".split()
)


@dataclass(frozen=True, slots=True)
class Grading:
    """How answers are graded; ``SimConfig(grading=Grading())`` turns grading on."""

    discrimination: float = 1.5
    """The 2PL slope: how sharply the pass probability moves with skill minus difficulty."""
    skill_at_1usd: float = 1.0
    """The skill of a model whose blended price is $1 per million tokens (and of unpriced ones)."""
    skill_per_doubling: float = 0.25
    """Skill added each time the blended price doubles."""
    skills: Mapping[str, float] = field(default_factory=dict, hash=False)
    """Model name or glob -> skill, over the price-derived value (first match wins)."""
    difficulties: Mapping[str, float] = field(default_factory=dict, hash=False)
    """:func:`item_key` of a prompt's user text -> its difficulty (the workload's hidden table)."""
    task_difficulty: Mapping[str, tuple[float, float]] = field(default_factory=dict, hash=False)
    """Simulator task -> (mean, spread), over :data:`TASK_DIFFICULTY`."""
    word_share: float = 0.5
    """Share of a drawn difficulty's variance that follows the prompt's words."""
    detectable: float = 0.5
    """Share of failing answers that an acceptance check can catch (hedge, invalid JSON...)."""
    kept: int = 50_000
    """Grades kept for ``GET /sim/grade`` (the oldest go first; about 400 bytes each)."""

    def __post_init__(self) -> None:
        for name in ("word_share", "detectable"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Grading.{name} must be within [0, 1], got {value!r}")
        if not self.discrimination > 0:
            raise ValueError(f"Grading.discrimination must be > 0, got {self.discrimination!r}")
        if self.kept < 1:
            raise ValueError(f"Grading.kept must be >= 1, got {self.kept!r}")
        for name in ("skill_at_1usd", "skill_per_doubling"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"Grading.{name} must be a finite number")
        for pattern, skill in self.skills.items():
            if not isinstance(skill, (int, float)) or not math.isfinite(skill):
                raise ValueError(f"Grading.skills[{pattern!r}] must be a finite number, got {skill!r}")
        for task, spec in self.task_difficulty.items():
            if not (isinstance(spec, (tuple, list)) and len(spec) == 2 and spec[1] >= 0):
                raise ValueError(f"Grading.task_difficulty[{task!r}] must be (mean, spread >= 0), got {spec!r}")

    def spread_of(self, task: str) -> tuple[float, float]:
        spec = self.task_difficulty.get(task) or TASK_DIFFICULTY.get(task) or TASK_DIFFICULTY["chat"]
        return float(spec[0]), float(spec[1])


# -- items --------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def item_key(user_text: str) -> str:
    """The key of a prompt in ``Grading.difficulties``: a hash of its user turns' text, case and
    spacing aside (the same for every seed, so a workload builds its table once)."""
    return hashlib.blake2b(normalize(user_text).encode(), digest_size=8).hexdigest()


def _uniforms(*parts: object, count: int = 1) -> list[float]:
    """``count`` uniforms in (0, 1), a pure function of ``parts``."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8 * count).digest()
    return [(int.from_bytes(digest[8 * i : 8 * i + 7], "big") + 0.5) / 2**56 for i in range(count)]


def uniform(*parts: object) -> float:
    """One uniform in (0, 1), a pure function of ``parts``."""
    return _uniforms(*parts)[0]


def draw_difficulty(user_text: str, mean: float, spread: float, *, seed: int = 0, word_share: float = 0.5) -> float:
    """``mean + spread * z``, z standard normal: ``word_share`` of its variance from the words
    (each word of four letters or more has its own normal value; z_words is their sum over the
    root of their count), the rest from the exact text's hash."""
    norm = normalize(user_text)
    private = _NORMAL.inv_cdf(_uniforms(seed, "difficulty", norm)[0])
    words = sorted(set(_WORD.findall(norm[:3000])) - _COMMON)
    if not words or word_share == 0:
        return mean + spread * private
    by_words = sum(_NORMAL.inv_cdf(_uniforms(seed, "word", w)[0]) for w in words) / math.sqrt(len(words))
    return mean + spread * (math.sqrt(word_share) * by_words + math.sqrt(1 - word_share) * private)


# -- skills -------------------------------------------------------------------------------------


def skill_from_price(blended_usd_per_mtok: float | None, grading: Grading) -> float:
    if blended_usd_per_mtok is None or blended_usd_per_mtok <= 0:
        return grading.skill_at_1usd
    return grading.skill_at_1usd + grading.skill_per_doubling * math.log2(blended_usd_per_mtok)


def blended_price(model: str, catalog: Any, at: datetime | None = None) -> float | None:
    """(3 x input + output) / 4 USD per million tokens at list price, or None if unpriced."""
    bare = model.rsplit("/", 1)[-1]
    table = catalog.lookup(bare, at=at or datetime.now(UTC))
    if table is None:
        return None
    return float(3 * table.input.base + table.output.base) / 4


def skill_of(model: str, grading: Grading, catalog: Any, at: datetime | None = None) -> float:
    bare = model.rsplit("/", 1)[-1]
    for pattern, skill in grading.skills.items():
        if fnmatch.fnmatchcase(model, pattern) or fnmatch.fnmatchcase(bare, pattern):
            return float(skill)
    return skill_from_price(blended_price(model, catalog, at), grading)


# -- verdicts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """The IRT draw for one answer; ``flaws`` turns a failing one into text, ``grade`` scores it."""

    passed: bool
    p_pass: float
    skill: float
    difficulty: float
    detectable: bool
    """A failing answer that a check can catch (meaningless when passed)."""
    pick: float
    """Uniform in (0, 1): which detectable flaw, by the rates in ``flaws``."""
    score_u: float


def p_pass(skill: float, difficulty: float, discrimination: float) -> float:
    x = discrimination * (skill - difficulty)
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def judge(grading: Grading, seed: int, user_text: str, model: str, skill: float, difficulty: float, choice: int = 0) -> Verdict:
    p = p_pass(skill, difficulty, grading.discrimination)
    u_pass, u_detect, pick, score_u = _uniforms(seed, "grade", normalize(user_text), model, choice, count=4)
    return Verdict(u_pass < p, p, skill, difficulty, u_detect < grading.detectable, pick, score_u)


def score(passed: bool, u: float) -> float:
    """The feedback a user would give: a good answer 0.7-1, a bad one 0-0.3."""
    return round(0.7 + 0.3 * u if passed else 0.3 * u, 4)


DETECTABLE = frozenset({"hedge", "short", "invalid_json", "missing_field", "truncated"})


class Grade(NamedTuple):
    """One choice's grade, kept as a small tuple (the book holds up to ``Grading.kept``)."""

    passed: bool
    score: float
    failure: str | None
    """The flaw the answer actually shows; None when it passed."""
    p_pass: float
    skill: float
    difficulty: float

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "score": self.score, "failure": self.failure,
            "detectable": self.failure in DETECTABLE,
            "p_pass": self.p_pass, "skill": self.skill, "difficulty": self.difficulty,
        }


def grade(verdict: Verdict, failure: str | None) -> Grade:
    passed = failure is None
    return Grade(
        passed, score(passed, verdict.score_u), failure,
        round(verdict.p_pass, 4), round(verdict.skill, 4), round(verdict.difficulty, 4),
    )


def response_grade(response_id: str | None, model: str, grades: tuple[Grade, ...]) -> dict[str, Any]:
    """The body of ``/sim/grade``: the first choice's grade at the top, every choice's in ``choices``."""
    choices = [g.to_json() for g in grades]
    return {"id": response_id, "model": model, **choices[0], "choices": choices}


class GradeBook:
    """The last ``capacity`` responses' grades by response id (a bounded map: no leak under load)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._grades: dict[str, tuple[str, tuple[Grade, ...]]] = {}

    def put(self, response_id: str, model: str, grades: tuple[Grade, ...]) -> None:
        self._grades.pop(response_id, None)
        while len(self._grades) >= self.capacity:
            self._grades.pop(next(iter(self._grades)))
        self._grades[response_id] = (sys.intern(model), grades)

    def get(self, response_id: str) -> dict[str, Any] | None:
        """By the id the simulator gave, or as the gateway's API translation renamed it
        (``chatcmpl-`` + an Anthropic or Gemini id; ``msg_`` + an OpenAI id's tail or a Gemini id)."""
        tail = response_id.removeprefix("msg_")
        for candidate in (response_id, response_id.removeprefix("chatcmpl-"), "chatcmpl-" + tail, tail):
            if candidate in self._grades:
                model, grades = self._grades[candidate]
                return response_grade(candidate, model, grades)
        return None

    def __len__(self) -> int:
        return len(self._grades)
