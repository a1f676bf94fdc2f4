"""The policies the demo compares, baseline first. Each capability adds its policy here."""

from __future__ import annotations

import importlib.util

from costops.demo.run import BASELINE, Policy


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

POLICIES: tuple[Policy, ...] = (BASELINE, CACHED, BUDGETED)
