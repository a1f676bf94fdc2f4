"""How a simulated model behaves: what task a prompt asks for, how long the answer is, what its
words are, how fast it comes, and the test markers that force a behaviour.

Everything here is a pure function of its arguments and an injected ``random.Random``; the app
seeds that RNG from (config seed, request body), so the same request gets the same answer.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass

from costops.tasks import classify_task as classify_task  # re-exported

# -- test markers -------------------------------------------------------------------------------

_MARKER = re.compile(r"\[\[sim:(\w+)(?:=([^\]]*))?\]\]")


@dataclass(frozen=True, slots=True)
class Markers:
    """Behaviour forced by ``[[sim:...]]`` markers in the last user message."""

    error: int | None = None
    delay: float = 0.0
    disconnect: bool = False
    tokens: int | None = None
    difficulty: float | None = None
    """The item's difficulty for grading (tests only: the gateway could read a marker)."""


def parse_markers(text: str) -> Markers:
    if "[[sim:" not in text:
        return _NO_MARKERS
    error, delay, disconnect, tokens, difficulty = None, 0.0, False, None, None
    for name, value in _MARKER.findall(text):
        try:
            if name == "error":
                error = int(value)
            elif name == "delay":
                delay = max(0.0, float(value))
            elif name == "disconnect":
                disconnect = True
            elif name == "tokens":
                tokens = max(0, int(value))
            elif name == "difficulty":
                difficulty = float(value) if math.isfinite(float(value)) else None
        except ValueError:
            continue
    return Markers(error, delay, disconnect, tokens, difficulty)


_NO_MARKERS = Markers()

# -- tasks and output lengths -------------------------------------------------------------------

# Median visible answer length in tokens and the spread (sigma of a log-normal) per task.
_LENGTH: dict[str, tuple[float, float]] = {
    "classify": (4, 0.6),
    "extract": (60, 0.5),
    "summarize": (160, 0.35),
    "translate": (120, 0.2),
    "code": (320, 0.5),
    "creative": (600, 0.35),
    "reasoning": (300, 0.45),
    "chat": (150, 0.6),
}
_WORDS_LIMIT = re.compile(r"\b(?:in|under|within|about|at most)\s+(\d{1,4})\s+words\b")
MAX_DRAWN_TOKENS = 4000


def draw_length(task: str, prompt: str, prompt_tokens: int, rng: random.Random) -> int:
    """Visible answer tokens for ``task``: log-normal around the task's median, nudged by
    explicit asks in the prompt ("in 50 words", "briefly", "in detail")."""
    median, sigma = _LENGTH.get(task, _LENGTH["chat"])
    if task == "summarize":
        median = min(median, 40 + 0.15 * prompt_tokens)
    elif task == "translate":
        median = max(8.0, 0.9 * prompt_tokens)
    low = prompt.lower()
    if (m := _WORDS_LIMIT.search(low)) is not None:
        median, sigma = int(m.group(1)) * 1.3, 0.1
    elif "one word" in low or "single word" in low:
        median, sigma = 1.5, 0.2
    elif any(k in low for k in ("briefly", "short answer", "concise", "one sentence", "in short")):
        median *= 0.35
    elif any(k in low for k in ("in detail", "detailed", "in depth", "comprehensive", "thorough")):
        median *= 2.2
    n = int(median * math.exp(rng.gauss(0.0, sigma)) + 0.5)
    return max(1, min(MAX_DRAWN_TOKENS, n))


def draw_reasoning(effort: str | None, visible: int, rng: random.Random) -> int:
    """Hidden reasoning tokens, in multiples of 64 as OpenAI's o-series reports them."""
    factor = {"none": 0.0, "minimal": 0.0, "low": 0.6, "medium": 2.0, "high": 5.0}.get(effort or "medium", 2.0)
    if factor == 0.0:
        return 0
    raw = (visible * factor + 128) * math.exp(rng.gauss(0.0, 0.35))
    return max(64, int(raw) // 64 * 64)


# -- words --------------------------------------------------------------------------------------

_NOUNS = (
    "system model request result value cost budget team project user service cache query answer "
    "report change process review plan price token window policy limit trend month week rate "
    "design test release feature customer account order payment invoice ticket issue product "
    "market region workflow dashboard forecast metric pipeline schedule contract vendor estimate"
).split()
_VERBS = (
    "reduces improves measures tracks explains changes checks moves saves handles supports "
    "affects shows needs uses limits follows updates confirms covers lowers raises"
).split()
_ADJS = (
    "new clear simple small large main total daily current recent stable useful common important "
    "different similar final local global careful exact likely shared monthly weekly"
).split()
_DETS = ("the", "each", "every", "this", "our", "their", "one", "that")
_PREPS = ("in", "on", "for", "with", "from", "across", "per", "during", "after", "before", "under")
_ADVS = ("also", "often", "usually", "still", "already", "mostly", "clearly", "rarely")
_OPENERS = ("In practice", "As a result", "For now", "In short", "Overall", "At the same time", "Even so")
_WORDS = _NOUNS + _VERBS + _ADJS
_LABELS = ("positive", "negative", "neutral", "billing", "technical", "account", "other", "yes", "no")
_IDENTS = ("items", "total", "result", "value", "index", "config", "record", "count", "cost", "rows")
_CALLS = ("load", "parse", "compute", "update", "render", "validate", "merge", "filter", "store")


def make_text(task: str, tokens: int, rng: random.Random) -> str:
    """Whole sentences that tokenize to about ``tokens`` tokens (a caller wanting an exact count
    trims). Only ASCII letters, spaces, punctuation and newlines: nothing that needs escaping tricks."""
    if task == "classify" and tokens <= 8:  # a label is what a label task gets, mostly
        return rng.choice(_LABELS).capitalize()
    if task == "code":
        return _code(tokens, rng)
    parts: list[str] = []
    budget = tokens  # common words are one token each
    sentences = 0
    while budget > 0:
        sentence = _sentence(rng)
        parts.append(sentence)
        budget -= sentence.count(" ") + 2
        sentences += 1
        if budget > 0:
            parts.append("\n\n" if sentences % 5 == 0 else " ")
    return "".join(parts)


def _sentence(rng: random.Random) -> str:
    """A small grammar (determiner, adjective, noun, verb, object, prepositional phrase) reads
    like prose, which word salad does not."""
    c = rng.choice
    subject = f"{c(_DETS)} {c(_ADJS)} {c(_NOUNS)}" if rng.random() < 0.5 else f"{c(_DETS)} {c(_NOUNS)}"
    verb = f"{c(_ADVS)} {c(_VERBS)}" if rng.random() < 0.3 else c(_VERBS)
    words = f"{subject} {verb} {c(_DETS)} {c(_ADJS)} {c(_NOUNS)}"
    if rng.random() < 0.6:
        words += f" {c(_PREPS)} {c(_DETS)} {c(_NOUNS)}"
    if rng.random() < 0.2:
        words = f"{c(_OPENERS)}, {words}"
    return words[:1].upper() + words[1:] + "."


def _code(tokens: int, rng: random.Random) -> str:
    lines = ["Here is an implementation:", "", "```python", f"def {rng.choice(_CALLS)}_{rng.choice(_IDENTS)}(items):"]
    budget = tokens - 20
    while budget > 0:
        a, b = rng.choice(_IDENTS), rng.choice(_IDENTS)
        lines.append(f"    {a} = {rng.choice(_CALLS)}({b}, {rng.randint(0, 99)})")
        budget -= 10
    lines += [f"    return {rng.choice(_IDENTS)}", "```", "", "This keeps the function small and easy to test."]
    return "\n".join(lines)


def phrase(rng: random.Random, low: int = 2, high: int = 6) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(low, high)))


def make_id(rng: random.Random, size: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[b % 62] for b in rng.randbytes(size))


def fingerprint(model: str) -> str:
    return "fp_" + hashlib.blake2b(model.encode(), digest_size=5).hexdigest()


# -- latency ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Latency:
    ttft: float
    """Seconds to the first token for a short prompt."""
    tokens_per_s: float
    prefill_per_s: float = 12_000.0
    """Uncached prompt tokens processed per second before the first token."""

    def first_token(self, uncached_prompt_tokens: int, reasoning_tokens: int = 0) -> float:
        return self.ttft + uncached_prompt_tokens / self.prefill_per_s + reasoning_tokens / self.tokens_per_s

    def generate(self, tokens: int) -> float:
        return tokens / self.tokens_per_s


# Small models first: "gpt-4o-mini" must match the mini profile before the "gpt-4o" one.
_PROFILES: tuple[tuple[tuple[str, ...], Latency], ...] = (
    (("nano", "lite", "flash-8b", "haiku", "mini", "embedding"), Latency(0.20, 180.0, 25_000.0)),
    (("flash",), Latency(0.30, 160.0, 20_000.0)),
    (("opus", "o1", "-pro", "gpt-4-"), Latency(1.20, 40.0, 6_000.0)),
    (("o3", "o4", "gpt-5"), Latency(0.70, 90.0, 10_000.0)),
)
_DEFAULT_LATENCY = Latency(0.45, 85.0, 10_000.0)


def latency_for(model: str) -> Latency:
    bare = model.rsplit("/", 1)[-1].lower()
    for needles, profile in _PROFILES:
        if any(n in bare for n in needles):
            return profile
    return _DEFAULT_LATENCY
