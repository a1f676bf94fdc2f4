"""Which deployment serves a requested model name: a pure function of the config."""

from __future__ import annotations

from costops.config import Config, Deployment
from costops.errors import UnknownModel


def resolve_model(config: Config, requested: str) -> tuple[Deployment, str]:
    """(deployment, model name to send upstream).

    Order: an alias; ``deployment/model`` naming a deployment; the first deployment whose model
    patterns match (configured ones before the built-in provider defaults).
    """
    model = config.aliases.get(requested, requested)
    if "/" in model:
        prefix, rest = model.split("/", 1)
        deployment = config.deployment(prefix)
        if deployment is not None and rest:
            return deployment, rest
    for deployment in config.deployments:
        if deployment.serves(model):
            return deployment, model
    raise UnknownModel(
        f"model {requested!r} is not served by any deployment. Use a known model name (gpt-*, claude-*, "
        "gemini-*), 'deployment/model' for a configured deployment, or add it to a deployment's 'models' "
        "or to 'aliases' in the config file"
    )
