"""How the simulator answers a semantic cache check (``costops.cache.semantic.llm_check``) like a
cheap model would: deterministically, with a configurable share of wrong verdicts.

It says ``yes`` when the two questions are the same request up to its own normalisation: case,
punctuation, greetings and thanks, "please", the articles and the auxiliaries "do" / "can" /
"could" / "would" do not count; every other word does, in order. So a reworded greeting or an
added "thanks" is confirmed; a swapped direction ("A to B" / "B to A"), another number, entity or
negation is refused; real synonyms are refused too (a cheap model's caution, not its wisdom).
``SimConfig.check_error_rate`` flips that share of verdicts, drawn per (seed, prompt), so a
test can show what a wrong check costs.
"""

from __future__ import annotations

import random
import re

from costops.cache.semantic.llm_check import PATTERN

_FILLER = frozenset({
    "hi", "hello", "hey", "thanks", "thx", "please", "pls", "kindly", "a", "an", "the", "do", "can", "could", "would",
})
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def normalise(text: str) -> tuple[str, ...]:
    lowered = re.sub(r"\bthank(s| you)\b", " ", text.lower())
    return tuple(w for w in _WORD.findall(lowered) if w not in _FILLER)


def verdict(last_user: str, seed: int, error_rate: float) -> str | None:
    """``yes`` / ``no`` for a check prompt; None for any other prompt (answered as usual)."""
    match = PATTERN.match(last_user)
    if match is None:
        return None
    same = normalise(match[1]) == normalise(match[2])
    if error_rate and random.Random(f"{seed}:check:{last_user}").random() < error_rate:
        same = not same
    return "yes" if same else "no"
