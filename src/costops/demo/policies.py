"""The policies the demo compares, baseline first. Each capability adds its policy here; the
demo's run (:mod:`costops.demo.run`) replays the workload once per policy."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    description: str
    config: dict[str, Any] = field(default_factory=dict)
    """Extra config sections merged over the demo's base config."""
    feedback: bool = False
    """Send each answer's grade to ``POST /v1/feedback``, as an application reporting its users'
    ratings would (what a bandit learns from)."""


BASELINE = Policy("baseline", "every request goes to the model the application asked for")


def _semantic_available() -> bool:
    """The semantic cache needs the ``semantic`` extra (numpy, usearch); the demo runs without it."""
    return all(importlib.util.find_spec(m) is not None for m in ("numpy", "usearch"))


_CACHE: dict[str, object] = {"exact": {"ttl_by_tag": {"feature": {"faq": 86400, "copy": 0}}}, "prompt": {}}
if _semantic_available():
    _CACHE["semantic"] = {}
CACHED = Policy(
    "cached",
    "exact response cache (deterministic calls, TTL by feature)"
    + (", semantic cache (paraphrases, verified)" if "semantic" in _CACHE else "")
    + " and Anthropic prompt caching",
    {"cache": _CACHE},
)

BUDGETED = Policy(
    "budgeted",
    "globex (the code assistant) gets $4 a month: alerts, cheaper models from 50 %, 429 budget_exceeded at the limit",
    {"budgets": {"list": [{
        "name": "globex-monthly", "limit_usd": 4, "window": "monthly", "downgrade": "default", "downgrade_at": 50,
        # this run's traffic only: the demo's ledger also holds the other policies' runs
        "scope": {"tenant": "globex", "tag": {"policy": "budgeted"}},
    }]}, "alerts": {"sinks": [{"type": "log"}], "digest_at": None}},
)

# The models the workload's applications ask for: each name is bound to a routing policy, so the
# applications change nothing (the gateway decides what "gpt-4o" is served by).
REQUESTED = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-6", "gpt-5.4", "gemini-2.5-flash", "claude-haiku-4-5",
             "gemini-2.5-pro", "gpt-5.4-mini")
ARMS = ("gpt-4o-mini", "gemini-2.5-flash", "gpt-4.1", "claude-sonnet-4-6")
"""Budget to premium, across three providers."""

ROUTED = Policy(
    "routed",
    f"a bandit per feature over {', '.join(ARMS)}: Thompson sampling on quality - 40 x cost (USD), "
    "learning from the users' scores (POST /v1/feedback)",
    {"routing": {"policies": {model: {"kind": "bandit", "arms": list(ARMS), "lambda": 40, "explore": 0.02,
                                      "task": "tag:feature"} for model in REQUESTED}}},
    feedback=True,
)

CASCADE = Policy(
    "cascade",
    "gpt-4.1-mini first, the application's model only when the answer fails the checks "
    "(a refusal or hedge, cut off, too short, not the JSON asked for)",
    {"routing": {"policies": {model: {"kind": "cascade", "models": ["gpt-4.1-mini", model],
                                      "accept": {"refusal": True, "truncated": True, "min_chars": 2}}
                              for model in REQUESTED}}},
)

POLICIES: tuple[Policy, ...] = (BASELINE, CACHED, ROUTED, CASCADE, BUDGETED)
