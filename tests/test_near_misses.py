"""The cross-encoder's training near-misses (bench/near_misses.py): each maker changes exactly the
span it names, and the generator makes only changed texts, each once, from training texts only."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

_spec = importlib.util.spec_from_file_location("near_misses", Path(__file__).parent.parent / "bench" / "near_misses.py")
assert _spec and _spec.loader
nm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nm)


def test_swap_exchanges_the_words_around_a_relation_word() -> None:
    rng = random.Random(0)
    assert nm.swap("What's the water to rice ratio for brown rice?", rng) in {
        "What's the rice to water ratio for brown rice?", "What's the water to rice brown for ratio rice?"}
    assert nm.swap("Is the sky blue?", rng) is None  # no relation word


def test_opposite_person_and_qualify() -> None:
    rng = random.Random(0)
    assert nm.opposite("What are the pros of remote work?", rng) == "What are the cons of remote work?"
    assert nm.opposite("Before the meeting, send it", rng) == "After the meeting, send it"
    assert nm.person("I have a fever, should I worry?", rng).split(" has a fever")[0].lower() in nm.PEOPLE
    out = nm.qualify("Can I use butter in a cake?", rng)
    assert out is not None and any(f"{q} butter" in out or f"{q} cake" in out for q in nm.QUALIFIERS)


def test_substitute_draws_nouns_seen_twice_and_keeps_the_rest() -> None:
    texts = ["How do I bake the bread?", "Can I freeze the bread?", "Is the oven hot?", "Clean the oven now",
             "Fix the lpatop"]
    pool = nm.content_words(texts)
    assert pool == ["bread", "oven"]  # "lpatop" (a typo, seen once) stays out
    out = nm.substitute("How do I bake the bread?", random.Random(1), pool)
    assert out == "How do I bake the oven?"


def test_near_misses_are_distinct_changes() -> None:
    rng = random.Random(3)
    text = "How do I move money from my savings to my checking account before Friday?"
    pool = ["invoice", "passport", "mortgage", "laptop", "account", "savings"]
    out = nm.near_misses(text, rng, pool, 5, people=True)
    assert 3 <= len(out) <= 5
    assert len({t for t, _ in out}) == len(out) and all(t != text for t, _ in out)
    assert {kind for _, kind in out} <= {"substitute", "qualify", "opposite", "swap", "person"}
