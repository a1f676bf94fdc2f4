"""A generated outcome file where the right answer is known: prompts that carry the marker
("Prove the theorem") only the strong model answers; every other prompt both models answer."""

from __future__ import annotations

import json
import random
from pathlib import Path

PRICES = {"small": {"input": 0.1, "output": 0.2}, "big": {"input": 10, "output": 30}}
_TOPICS = ["rivers", "planets", "poems", "bridges", "markets", "forests", "engines", "songs", "islands", "tigers"]
_COUNTRIES = ["France", "Peru", "Kenya", "Japan", "Norway", "Chile", "Egypt", "Canada", "India", "Spain"]


def prompt(rng: random.Random, hard: bool) -> str:
    if hard:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        return rng.choice([
            f"Prove the theorem: for every integer n > {a}, the sum of the first n odd numbers exceeds {b}.",
            f"Prove the theorem that a group of order {a * b} has a subgroup of order {a}.",
            f"Prove the theorem: the sequence {a}, {a + b}, {a + 2 * b}, ... has no largest element.",
        ])
    return rng.choice([
        f"What is the capital of {rng.choice(_COUNTRIES)}?",
        f"Write a short note about {rng.choice(_TOPICS)}.",
        f"Name three facts about {rng.choice(_TOPICS)} in {rng.choice(_COUNTRIES)}.",
    ])


def rows(n: int, seed: int = 1, hard_share: float = 0.3, cost_usd: bool = False) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        hard = rng.random() < hard_share
        row = {"id": f"r{i}", "prompt": prompt(rng, hard), "outcomes": {"small": 0.0 if hard else 1.0, "big": 1.0}}
        if cost_usd:
            row["cost_usd"] = {"small": 0.0001, "big": 0.01}
        out.append(row)
    return out


def write(path: Path, data: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in data))
    return path


def write_prices(path: Path) -> Path:
    path.write_text(json.dumps(PRICES))
    return path
