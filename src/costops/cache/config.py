"""The ``cache.exact`` and ``cache.prompt`` config sections, parsed strictly into frozen values.

    cache:
      exact:
        default_ttl_s: 3600          # seconds an answer is kept; 0 = only where a rule or ttl= says
        max_ttl_s: 604800            # the cap for every TTL, a request's ttl= included
        ttl_by_tag:                  # TAG: {VALUE: SECONDS}; several matching tags -> the smallest
          task: {qa: 259200, summarize: 14400, code: 3600, creative: 0}   # 0 = never cached
        ttl_by_model: {"gpt-4o*": 86400}        # requested-model globs, first match wins
        ttl_by_endpoint: {embeddings: 2592000}  # chat.completions | messages | embeddings
        deterministic_only: true     # false also caches temperature>0 requests without a seed
        shared_namespaces:           # NAME: tenants (globs) that may send namespace=NAME
          faq-public: [acme, globex]
        max_memory_mb: 64            # the in-process tier's bound (LRU by bytes)
        max_entry_kb: 512            # larger answers are not stored
        redis: true                  # share entries through redis.url when it is configured
        single_flight_wait_s: 30     # identical requests in flight: followers wait this long for the
                                     # leader's answer (then go upstream themselves); 0 = off
      prompt:
        ttl: 5m                      # or 1h (Anthropic's extended cache TTL)
        place: [tools, system, context]
        min_tokens: {"claude-*haiku*": 2048}    # model globs -> minimum cacheable prefix

TTL precedence: the request's ``ttl=``; else the smallest matching ``ttl_by_tag``; else the
first matching ``ttl_by_model``; else ``ttl_by_endpoint``; else ``default_ttl_s``; all capped
by ``max_ttl_s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from costops.cache.control import NAME_PATTERN
from costops.config import ConfigError, reject_unknown

ENDPOINTS = ("chat.completions", "messages", "embeddings")
PLACEMENTS = ("tools", "system", "context")


@dataclass(frozen=True, slots=True)
class ExactCacheConfig:
    default_ttl_s: int = 3600
    max_ttl_s: int = 7 * 86400
    ttl_by_tag: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    ttl_by_model: tuple[tuple[str, int], ...] = ()
    ttl_by_endpoint: Mapping[str, int] = field(default_factory=dict)
    deterministic_only: bool = True
    shared_namespaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_memory_bytes: int = 64 * 1024 * 1024
    max_entry_bytes: int = 512 * 1024
    redis_url: str | None = None
    single_flight_wait_s: float = 30.0


@dataclass(frozen=True, slots=True)
class PromptCacheConfig:
    ttl: str = "5m"
    place: tuple[str, ...] = PLACEMENTS
    min_tokens: tuple[tuple[str, int], ...] = ()


_EXACT_KEYS = {
    "default_ttl_s", "max_ttl_s", "ttl_by_tag", "ttl_by_model", "ttl_by_endpoint", "deterministic_only",
    "shared_namespaces", "max_memory_mb", "max_entry_kb", "redis", "single_flight_wait_s",
}


def parse_exact(sections: Mapping[str, Any], redis_url_setting: str | None = None) -> ExactCacheConfig:
    where = "cache.exact"
    raw = _mapping((sections.get("cache") or {}).get("exact") or {}, where)
    reject_unknown(raw, _EXACT_KEYS, where)
    ttl_by_tag: dict[str, dict[str, int]] = {}
    for tag, values in _mapping(raw.get("ttl_by_tag") or {}, f"{where}.ttl_by_tag").items():
        values = _mapping(values, f"{where}.ttl_by_tag.{tag}", hint="a mapping of tag values to seconds, e.g. {qa: 86400}")
        ttl_by_tag[str(tag)] = {str(v): _seconds(s, f"{where}.ttl_by_tag.{tag}.{v}") for v, s in values.items()}
    by_model = _mapping(raw.get("ttl_by_model") or {}, f"{where}.ttl_by_model")
    by_endpoint = _mapping(raw.get("ttl_by_endpoint") or {}, f"{where}.ttl_by_endpoint")
    for name in by_endpoint:
        if name not in ENDPOINTS:
            raise ConfigError(f"{where}.ttl_by_endpoint.{name}: unknown endpoint (known: {', '.join(ENDPOINTS)})")
    shared: dict[str, tuple[str, ...]] = {}
    for name, tenants in _mapping(raw.get("shared_namespaces") or {}, f"{where}.shared_namespaces").items():
        if not NAME_PATTERN.match(str(name)):
            raise ConfigError(f"{where}.shared_namespaces.{name}: a name is 1-64 letters, digits, '.', '_' or '-'")
        if isinstance(tenants, str):
            tenants = [tenants]
        if not isinstance(tenants, list) or not tenants:
            raise ConfigError(f"{where}.shared_namespaces.{name}: list the tenants (globs) that share it, e.g. [acme, globex]")
        shared[str(name)] = tuple(str(t) for t in tenants)
    redis_on = raw.get("redis", True)
    if not isinstance(redis_on, bool):
        raise ConfigError(f"{where}.redis: true or false (share entries through redis.url)")
    redis_url = redis_url_setting if redis_on else None
    deterministic_only = raw.get("deterministic_only", True)
    if not isinstance(deterministic_only, bool):
        raise ConfigError(f"{where}.deterministic_only: true or false")
    cfg = ExactCacheConfig(
        default_ttl_s=_seconds(raw.get("default_ttl_s", 3600), f"{where}.default_ttl_s"),
        max_ttl_s=_seconds(raw.get("max_ttl_s", 7 * 86400), f"{where}.max_ttl_s", minimum=1),
        ttl_by_tag=ttl_by_tag,
        ttl_by_model=tuple((str(g), _seconds(s, f"{where}.ttl_by_model.{g}")) for g, s in by_model.items()),
        ttl_by_endpoint={str(e): _seconds(s, f"{where}.ttl_by_endpoint.{e}") for e, s in by_endpoint.items()},
        deterministic_only=deterministic_only,
        shared_namespaces=shared,
        max_memory_bytes=int(_number(raw.get("max_memory_mb", 64), f"{where}.max_memory_mb") * 1024 * 1024),
        max_entry_bytes=int(_number(raw.get("max_entry_kb", 512), f"{where}.max_entry_kb") * 1024),
        redis_url=redis_url,
        single_flight_wait_s=wait_seconds(raw.get("single_flight_wait_s", 30), f"{where}.single_flight_wait_s"),
    )
    return cfg


def parse_prompt(sections: Mapping[str, Any]) -> PromptCacheConfig:
    where = "cache.prompt"
    raw = _mapping((sections.get("cache") or {}).get("prompt") or {}, where)
    reject_unknown(raw, {"ttl", "place", "min_tokens"}, where)
    ttl = str(raw.get("ttl", "5m"))
    if ttl not in ("5m", "1h"):
        raise ConfigError(f"{where}.ttl: {ttl!r} must be 5m or 1h (Anthropic's two cache lifetimes)")
    place = raw.get("place", list(PLACEMENTS))
    if not isinstance(place, list) or any(p not in PLACEMENTS for p in place):
        raise ConfigError(f"{where}.place: a list drawn from {', '.join(PLACEMENTS)}")
    mins = _mapping(raw.get("min_tokens") or {}, f"{where}.min_tokens")
    min_tokens = tuple((str(g), _seconds(n, f"{where}.min_tokens.{g}", minimum=1)) for g, n in mins.items())
    return PromptCacheConfig(ttl, tuple(place), min_tokens)


def _mapping(value: Any, where: str, hint: str = "a mapping") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be {hint}")
    return value

def _seconds(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}: {value!r} must be a whole number >= {minimum}")
    return value


def wait_seconds(value: Any, where: str) -> float:
    """A bound on a wait: seconds >= 0 (0 switches the wait off)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
        raise ConfigError(f"{where}: {value!r} must be seconds from 0 (off) to 3600, e.g. 30")
    return float(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}: {value!r} must be a positive number")
    return float(value)
