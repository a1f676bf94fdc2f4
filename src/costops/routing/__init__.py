"""Model choice: which model gets a request.

Today this holds the learned router (:mod:`costops.routing.learned`): from a prompt, P(good
enough) per candidate model and its expected cost, and one threshold that moves along the
cost-quality curve. The gateway's routing policy loads a router directory with
``Router.load(dir)`` and calls the pure ``router.choose(prompt, threshold, candidates)``; the
``costops router`` commands train, apply and evaluate one from outcome files
(:mod:`costops.routing.outcomes`).

Modules: ``outcomes`` (reading outcome JSONL), ``features`` (what the router sees of a prompt),
``classifier`` (the NumPy model), ``costs`` (expected cost per model: learned, given, catalog or
stand-in prices), ``learned`` (the Router, the decision rule, training), ``evaluate`` (cost-quality
curves and baselines), ``errors``.
"""

from costops.routing.errors import NoCandidate, OutcomeDataError, RouterFileError
from costops.routing.learned import Choice, Router, decide, train
from costops.routing.outcomes import OutcomeRow, read_outcomes

__all__ = [
    "Choice",
    "NoCandidate",
    "OutcomeDataError",
    "OutcomeRow",
    "Router",
    "RouterFileError",
    "decide",
    "read_outcomes",
    "train",
]
