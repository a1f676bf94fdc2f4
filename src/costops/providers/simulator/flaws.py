"""How a failing answer reads, so that acceptance checks catch some failures and miss others.

A failing answer (``grading.Verdict``) that is *detectable* shows one flaw a check can see:

- text: a hedge or refusal ("I'm not sure...", "I'm sorry, but I can't...") 3 times in 5, an
  answer far too short (a tenth of its usual length, a sentence or two at most) 2 in 5; a task whose answers are
  short anyway (a label) always hedges;
- JSON (``response_format``, ``output_format``, ``responseMimeType``): invalid JSON (prose around
  it, a cut-off object, Python quoting) 2 in 3; with a schema that requires fields, an object
  missing one 1 in 3;
- tool calls: arguments missing a required field (no visible flaw when the schema requires none).

An undetectable failure is a plausible wrong answer: the same text a passing answer would have.
An answer cut by ``max_tokens`` fails as ``truncated`` whatever the draw (the finish reason tells).
"""

from __future__ import annotations

import random
from typing import Any

HEDGES = (
    "I'm not sure I can answer that reliably.",
    "I'm sorry, but I can't help with that request.",
    "I don't have enough information to answer this accurately.",
    "I'm unable to determine that from the information given.",
    "As an AI language model, I can't be certain about this.",
)
SHORT_MIN = 40
"""A text answer usually at least this long (tokens) may fail by being cut short."""
SHORT_MAX = 20
"""A short answer aims at a tenth of the usual length, at most this many tokens (whole
sentences: a sentence or two)."""


def choose(kind: str, detectable: bool, pick: float, *, usual_tokens: int = 0, required: bool = False) -> str:
    """The flaw a failing answer of ``kind`` ("text", "json" or "tools") shows."""
    if not detectable:
        return "wrong"
    if kind == "tools":
        return "missing_field" if required else "wrong"
    if kind == "json":
        return "missing_field" if required and pick >= 2 / 3 else "invalid_json"
    return "short" if pick >= 3 / 5 and usual_tokens >= SHORT_MIN else "hedge"


def hedge(rng: random.Random) -> str:
    return rng.choice(HEDGES)


def break_json(text: str, rng: random.Random) -> str:
    """Valid JSON made invalid the ways models break it."""
    way = rng.randrange(3)
    if way == 0:
        return f"Sure! Here is the JSON you asked for:\n{text}"
    if way == 1:
        return text[: max(1, len(text) * 2 // 3)]
    return text.replace('"', "'").replace("true", "True").replace("false", "False").replace("null", "None")


def required_fields(schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return []
    required = schema.get("required")
    return [r for r in required if isinstance(r, str)] if isinstance(required, list) else []


def drop_required(value: Any, schema: Any) -> Any:
    """``value`` without the first required field it carries."""
    if isinstance(value, dict):
        for name in required_fields(schema):
            if name in value:
                return {k: v for k, v in value.items() if k != name}
    return value
