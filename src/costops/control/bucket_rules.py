"""The ``limits:`` section, read strictly, and which of its rules meet a given request.

Grammar (a bare list is shorthand for ``{rules: [...]}``)::

    limits:
      rules:
        - {scope: key, id: acme-bot, rpm: 60, tpm: 100000, concurrent: 4}
        - {scope: tenant, id: "*", rpm: 600}      # "*": each tenant its own bucket
        - {scope: model, id: gpt-4o, rpm: 500}    # requested name or the name sent upstream
        - {scope: deployment, id: openai, tpm: 2000000}
        - {scope: global, concurrent: 256}        # no id: the whole gateway
      default_output_tokens: 1024   # output estimate when a request sets no max_tokens
      lease_ttl_s: 30               # a dead replica's concurrency slots free after this
      adaptive: {base_backoff_s: 1, max_backoff_s: 60, recovery_s: 30}   # or false

Every rule that matches a request applies; a limit of ``rpm`` holds ``rpm`` requests (the burst)
and refills ``rpm / 60`` a second; ``tpm`` likewise in tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from costops.config import ConfigError, VirtualKey, reject_unknown
from costops.control.adaptive import AdaptiveConfig, parse_adaptive
from costops.control.bucket import Bucket, Plan, Slots

SCOPES = ("global", "key", "tenant", "model", "deployment")
_RULE_KEYS = {"scope", "id", "rpm", "tpm", "concurrent"}
_SECTION_KEYS = {"rules", "default_output_tokens", "lease_ttl_s", "adaptive"}


@dataclass(frozen=True, slots=True)
class Rule:
    scope: str
    id: str
    """What it limits (a key id, tenant, model or deployment name), ``*`` for each one separately."""
    rpm: int | None = None
    tpm: int | None = None
    concurrent: int | None = None


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    rules: tuple[Rule, ...] = ()
    default_output_tokens: int = 1024
    lease_ttl_s: float = 30.0
    adaptive: AdaptiveConfig | None = AdaptiveConfig()

    @property
    def counts_tokens(self) -> bool:
        return any(r.tpm for r in self.rules)


def parse_limits(raw: Any) -> LimitsConfig:
    if raw is None:
        return LimitsConfig()
    if isinstance(raw, list):
        raw = {"rules": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError("limits: must be a list of rules or a mapping with 'rules'")
    reject_unknown(raw, _SECTION_KEYS, "limits")
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise ConfigError("limits.rules: must be a list, e.g. [{scope: key, id: my-key, rpm: 60}]")
    output = _positive(raw.get("default_output_tokens", 1024), "limits.default_output_tokens", int)
    ttl = _positive(raw.get("lease_ttl_s", 30), "limits.lease_ttl_s", float)
    return LimitsConfig(
        tuple(_rule(r, f"limits.rules[{i}]") for i, r in enumerate(rules)),
        output,
        ttl,
        parse_adaptive(raw.get("adaptive", True), "limits.adaptive"),
    )


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping like {{scope: tenant, id: acme, rpm: 60}}")
    reject_unknown(raw, _RULE_KEYS, where)
    scope = raw.get("scope")
    if scope not in SCOPES:
        raise ConfigError(f"{where}.scope: {scope!r} is not one of {', '.join(SCOPES)}")
    ident = raw.get("id")
    if scope == "global":
        if ident is not None:
            raise ConfigError(f"{where}.id: a global limit has no id")
        ident = ""
    elif not isinstance(ident, str) or not ident:
        raise ConfigError(f"{where}.id: required: the {scope}'s name, or \"*\" for each {scope} separately")
    values = {k: _positive(raw[k], f"{where}.{k}", int) if raw.get(k) is not None else None for k in ("rpm", "tpm", "concurrent")}
    if not any(values.values()):
        raise ConfigError(f"{where}: give at least one of rpm, tpm or concurrent")
    return Rule(scope, ident, **values)


def _positive(value: Any, where: str, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: must be a positive number, got {value!r}") from None
    if isinstance(value, bool) or number <= 0 or (kind is int and number != value):
        raise ConfigError(f"{where}: must be a positive {'whole number' if kind is int else 'number'}, got {value!r}")
    return number


# -- which rules meet a request: pure, and memoized by the stage ----------------------------------


def plan_for(rules: tuple[Rule, ...], key: VirtualKey, requested: str, model: str, deployment: str) -> Plan | None:
    """The buckets and slots of every matching rule, or None when no rule applies."""
    requests: list[Bucket] = []
    tokens: list[Bucket] = []
    slots: list[Slots] = []
    for rule in rules:
        subject = _subject(rule, key, requested, model, deployment)
        if subject is None:
            continue
        who = f"{rule.scope} {subject}" if rule.scope != "global" else "all requests"
        base = f"{rule.scope}:{subject}" if rule.scope != "global" else "global"
        if rule.rpm:
            requests.append(Bucket(f"{base}:rpm", f"{who}: {rule.rpm} requests per minute", rule.rpm, rule.rpm / 60, rule.scope))
        if rule.tpm:
            tokens.append(Bucket(f"{base}:tpm", f"{who}: {rule.tpm} tokens per minute", rule.tpm, rule.tpm / 60, rule.scope))
        if rule.concurrent:
            slots.append(Slots(f"{base}:concurrent", f"{who}: {rule.concurrent} concurrent requests", rule.concurrent, rule.scope))
    if not (requests or tokens or slots):
        return None
    return Plan(tuple(requests), tuple(tokens), tuple(slots))


def _subject(rule: Rule, key: VirtualKey, requested: str, model: str, deployment: str) -> str | None:
    if rule.scope == "global":
        return ""
    if rule.scope == "model":
        if rule.id == "*":
            return model
        return rule.id if rule.id in (requested, model) else None
    value = {"key": key.id, "tenant": key.tenant, "deployment": deployment}[rule.scope]
    return value if rule.id in ("*", value) else None
