"""Model choice: which model gets a request, and what happens when it fails or falls short.

In the gateway (built by :func:`costops.pipeline.chain.build_chain` from the ``routing:`` section):
``route`` (the Route step), ``policy`` (the protocol: ``choose(view) -> Decision``, pure),
``policies`` (fixed, cheapest-capable, tiered, budget-aware, and the config that binds them),
``capabilities`` / ``catalog`` / ``needs`` (what each deployment's models can do and cost, what
a request needs), ``arbitrage`` (ranking a model's deployments), ``health`` (per deployment),
``cascade`` (cheapest model first, escalating when :mod:`.acceptance`'s pure checks reject its
answer), ``fallback`` (the next target when a deployment fails before answering, with a circuit
breaker per deployment, :mod:`.breaker`) and ``learned_policy`` (a trained router picks the model).

The learned router (:mod:`costops.routing.learned`): from a prompt, P(good
enough) per candidate model and its expected cost, and one threshold that moves along the
cost-quality curve. The gateway's routing policy loads a router directory with
``Router.load(dir)`` and calls the pure ``router.choose(prompt, threshold, candidates)``; the
``costops router`` commands train, apply and evaluate one from outcome files
(:mod:`costops.routing.outcomes`).

Its modules: ``outcomes`` (reading outcome JSONL), ``features`` (what the router sees of a prompt),
``classifier`` (the NumPy model), ``costs`` (expected cost per model: learned, given, catalog or
stand-in prices), ``learned`` (the Router, the decision rule, training), ``evaluate`` (cost-quality
curves and baselines), ``errors``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Names resolved on first use: importing a sibling (``costops.routing.cascade``...) must not
# pull NumPy and the embedding table in, since the learned router needs the ``semantic`` extra.
_LAZY = {
    "Choice": "costops.routing.learned",
    "Router": "costops.routing.learned",
    "decide": "costops.routing.learned",
    "train": "costops.routing.learned",
    "NoCandidate": "costops.routing.errors",
    "OutcomeDataError": "costops.routing.errors",
    "RouterFileError": "costops.routing.errors",
    "OutcomeRow": "costops.routing.outcomes",
    "read_outcomes": "costops.routing.outcomes",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'costops.routing' has no attribute {name!r}") from None
    return getattr(import_module(module), name)
