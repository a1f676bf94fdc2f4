"""The ``learned`` routing policy: a trained router (``costops router train``) picks the model.

    routing:
      policies:
        auto:                          # clients send "model": "auto"
          kind: learned
          router: ./router             # the directory `costops router train --out` wrote
          threshold: 0.9               # 1 = best quality whatever it costs, 0 = cheapest
          models:                      # the router's model names -> what this gateway calls
            gpt-4-1106-preview: gpt-4o
            mixtral-8x7b-instruct-v0.1: groq/mixtral-8x7b-32768

``models`` may also be a list (the router's names are served as they are); either way it is the
set the router may choose from. The choice is pure (prompt text, threshold, candidates), so a
replay of recorded traffic makes the same one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from costops.config import Config, ConfigError, reject_unknown
from costops.errors import CostopsError
from costops.gateway.resolve import resolve_model
from costops.routing.policy import Decision, View, decide


@dataclass(frozen=True, slots=True)
class LearnedPolicy:
    name: str
    router: Any
    """A :class:`costops.routing.learned.Router`."""
    threshold: float
    targets: Mapping[str, str]
    """The router's model name -> the name this gateway resolves."""

    kind: str = "learned"

    def choose(self, view: View) -> Decision:
        """The router's pick among the targets whose models can serve the request."""
        choices = {c.name: c for c in view.choices(list(dict.fromkeys(self.targets.values())))}
        candidates = [m for m, target in self.targets.items() if target in choices]
        if not candidates:
            raise view.refuse(self.name)
        picked = self.router.choose(view.request.text(), self.threshold, candidates=candidates)
        return decide(choices[self.targets[picked.model]], self.kind)


def parse_learned(name: str, spec: Mapping[str, Any], config: Config, where: str) -> LearnedPolicy:
    reject_unknown(spec, {"kind", "router", "threshold", "models"}, where)
    directory, threshold = spec.get("router"), spec.get("threshold", 0.9)
    if not isinstance(directory, str) or not directory:
        raise ConfigError(f"{where}.router: the directory `costops router train --out DIR` wrote")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ConfigError(f"{where}.threshold: a number from 0 (cheapest) to 1 (best quality), not {threshold!r}")
    from costops.routing.errors import RouterFileError
    from costops.routing.learned import Router

    try:
        router = Router.load(directory)
    except (RouterFileError, OSError) as exc:
        raise ConfigError(f"{where}.router: {exc}") from None
    models = spec.get("models")
    if models is None:
        models = list(router.models)
    targets = {m: m for m in models} if isinstance(models, list) else dict(models) if isinstance(models, Mapping) else None
    if not targets or not all(isinstance(k, str) and isinstance(v, str) for k, v in targets.items()):
        raise ConfigError(f"{where}.models: the router's model names, or a mapping of them to models this gateway serves")
    for model, target in targets.items():
        if model not in router.models:
            raise ConfigError(f"{where}.models: {model!r} is not one of the router's models ({', '.join(router.models)})")
        try:
            resolve_model(config, target)
        except CostopsError as exc:
            hint = "" if isinstance(models, Mapping) else (
                f"; the router's names are served as they are unless you map them: models: {{{model}: <a served model>}}")
            raise ConfigError(f"{where}.models.{model}: {target!r}: {exc.message}{hint}") from None
    return LearnedPolicy(name, router, float(threshold), targets)
