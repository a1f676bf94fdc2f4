"""The ``cache.semantic`` config section, parsed strictly into a frozen value.

    cache:
      semantic:
        threshold: 0.5             # cosine a neighbour needs before the judge looks at it
        target_precision: 0.98     # the judge's acceptance threshold is read off its calibration table
                                   # for this precision (bench/train_judge.py; `costops cache calibrate`)
        min_score: 0.83            # or an acceptance score set directly (wins over target_precision)
        routes:                    # per route (a request's tag 'route', else 'feature'): a cosine
          faq: 0.6                 # threshold, or a mapping of threshold / target_precision / min_score
          payments: {target_precision: 0.995, llm_check: {model: gpt-4o-mini}}   # a cheap model confirms
                                   # each hit first (costops/cache/semantic/llm_check.py)
        verify: true               # the judge (a trained model over pair features: word alignment,
                                   # order, numbers, units, negation...); false only for experiments
        verifier: judge            # or 'cross-encoder': exact vetoes, then a fine-tuned MiniLM cross-encoder
                                   # (ONNX, int8; bench/train_cross_encoder.py); or 'rules': the old lexical verifier
        synonym_min: 0.75          # verifier: word-vector cosine that makes two content words synonyms
        allow_multi_turn: false    # true: also cache conversations (earlier turns go into the scope)
        allow_tools: false         # true: also requests with tools or tool calls/results in them
        deterministic_only: true   # false: also temperature > 0 without a seed ('force' per request)
        ttl_s: 86400               # how long an answer is served; a request's ttl= wins (capped at max_ttl_s)
        max_ttl_s: 604800
        max_entries: 100000        # all scopes together; the oldest go first
        index_path: /var/lib/costops/semantic   # directory for the index and entries; absent = memory only
        save_interval_s: 60        # how often a changed index is saved (and always on shutdown)
        redis: true                # share entries with other replicas through redis.url
        redis_key: costops:semantic:v1          # the Redis stream's name
        max_query_chars: 20000     # longer final user turns are not cached
        single_flight_wait_s: 30   # a request matching one in flight waits this long for its answer; 0 = off

The default cosine gate 0.5 is read off the dev split (``costops cache eval --pairs
bench/data/semantic_pairs/dev.jsonl --threshold T``): with the judge at its default acceptance
(target 0.98, score >= 0.8805) dev serves the same 7 pairs (precision 1.000, recall 0.007) at
every gate from 0.35 to 0.95; at target 0.8 (score >= 0.6276) 0.35 and 0.5 serve the same 212
(precision 0.802, recall 0.161), 0.6 loses 2 and 0.7 loses 4. So 0.5 costs dev nothing and keeps
the judge off neighbours a lower gate would let through. It is not what keeps a miss cheap on
a large index: there random prompts of one vocabulary have nearest cosines ~0.96 (static
embeddings of long texts are close), so the stage judges at most its 2 nearest neighbours
(``stage.NEIGHBOURS``) and refuses on numbers, negation, periods and units before profiling one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from costops.cache.config import wait_seconds
from costops.cache.semantic.llm_check import LLMCheckSettings, parse_llm_check
from costops.config import ConfigError, reject_unknown

DEFAULT_THRESHOLD = 0.5
DEFAULT_TARGET_PRECISION = 0.98
VERIFIERS = ("judge", "cross-encoder", "rules")

_KEYS = {
    "threshold", "routes", "verify", "synonym_min", "allow_multi_turn", "allow_tools", "deterministic_only",
    "ttl_s", "max_ttl_s", "max_entries", "index_path", "save_interval_s", "redis", "redis_key", "max_query_chars",
    "single_flight_wait_s", "target_precision", "min_score", "verifier",
}
_ROUTE_KEYS = {"threshold", "target_precision", "min_score", "llm_check"}


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """One route's knobs; ``None`` takes the section's own."""

    threshold: float | None = None
    target_precision: float | None = None
    min_score: float | None = None
    llm_check: LLMCheckSettings | None = None
    """A cheap model confirms each candidate before it is served (:mod:`.llm_check`)."""


@dataclass(frozen=True, slots=True)
class SemanticCacheConfig:
    threshold: float = DEFAULT_THRESHOLD
    routes: Mapping[str, RouteSettings] = field(default_factory=dict)
    verify: bool = True
    target_precision: float = DEFAULT_TARGET_PRECISION
    min_score: float | None = None
    verifier: str = "judge"
    synonym_min: float = 0.75
    allow_multi_turn: bool = False
    allow_tools: bool = False
    deterministic_only: bool = True
    ttl_s: int = 86400
    max_ttl_s: int = 7 * 86400
    max_entries: int = 100_000
    index_path: str | None = None
    save_interval_s: float = 60.0
    redis_url: str | None = None
    redis_key: str = "costops:semantic:v1"
    max_query_chars: int = 20_000
    single_flight_wait_s: float = 30.0

    def route(self, tags: Mapping[str, str]) -> RouteSettings:
        name = tags.get("route") or tags.get("feature")
        return self.routes.get(name, _NO_ROUTE) if name else _NO_ROUTE

    def threshold_for(self, tags: Mapping[str, str]) -> float:
        """The cosine a neighbour needs to be judged at all."""
        route = self.route(tags)
        return self.threshold if route.threshold is None else route.threshold

    def acceptance(self, tags: Mapping[str, str]) -> tuple[float | None, float]:
        """(min_score or None, target_precision) for the request's route."""
        route = self.route(tags)
        min_score = route.min_score if route.min_score is not None else (
            None if route.target_precision is not None else self.min_score)
        target = route.target_precision if route.target_precision is not None else self.target_precision
        return min_score, target


_NO_ROUTE = RouteSettings()


def parse_semantic(sections: Mapping[str, Any], redis_url_setting: str | None = None) -> SemanticCacheConfig:
    where = "cache.semantic"
    raw = (sections.get("cache") or {}).get("semantic")
    if raw is None or raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping of settings (or {{}} for the defaults)")
    reject_unknown(raw, _KEYS, where)
    routes_raw = raw.get("routes") or {}
    if not isinstance(routes_raw, Mapping):
        raise ConfigError(f"{where}.routes: a mapping of route names to thresholds or settings, e.g. "
                          "{faq: 0.6, payments: {target_precision: 0.995}}")
    routes = {str(k): _route(v, f"{where}.routes.{k}") for k, v in routes_raw.items()}
    verifier = raw.get("verifier", "judge")
    if verifier not in VERIFIERS:
        raise ConfigError(f"{where}.verifier: {verifier!r} is not one of {', '.join(VERIFIERS)}")
    min_score = raw.get("min_score")
    redis_on = _bool(raw.get("redis", True), f"{where}.redis")
    redis_url = redis_url_setting if redis_on else None
    index_path = raw.get("index_path")
    if index_path is not None and (not isinstance(index_path, str) or not index_path):
        raise ConfigError(f"{where}.index_path: a directory path (or leave it out to keep the index in memory)")
    redis_key = raw.get("redis_key", "costops:semantic:v1")
    if not isinstance(redis_key, str) or not redis_key:
        raise ConfigError(f"{where}.redis_key: a non-empty Redis key name")
    return SemanticCacheConfig(
        threshold=_fraction(raw.get("threshold", DEFAULT_THRESHOLD), f"{where}.threshold"),
        routes=routes,
        verify=_bool(raw.get("verify", True), f"{where}.verify"),
        target_precision=_fraction(raw.get("target_precision", DEFAULT_TARGET_PRECISION), f"{where}.target_precision"),
        min_score=None if min_score is None else _fraction(min_score, f"{where}.min_score"),
        verifier=str(verifier),
        synonym_min=_fraction(raw.get("synonym_min", 0.75), f"{where}.synonym_min"),
        allow_multi_turn=_bool(raw.get("allow_multi_turn", False), f"{where}.allow_multi_turn"),
        allow_tools=_bool(raw.get("allow_tools", False), f"{where}.allow_tools"),
        deterministic_only=_bool(raw.get("deterministic_only", True), f"{where}.deterministic_only"),
        ttl_s=_whole(raw.get("ttl_s", 86400), f"{where}.ttl_s", 1),
        max_ttl_s=_whole(raw.get("max_ttl_s", 7 * 86400), f"{where}.max_ttl_s", 1),
        max_entries=_whole(raw.get("max_entries", 100_000), f"{where}.max_entries", 1),
        index_path=index_path,
        save_interval_s=float(_whole(raw.get("save_interval_s", 60), f"{where}.save_interval_s", 1)),
        redis_url=redis_url,
        redis_key=redis_key,
        max_query_chars=_whole(raw.get("max_query_chars", 20_000), f"{where}.max_query_chars", 1),
        single_flight_wait_s=wait_seconds(raw.get("single_flight_wait_s", 30), f"{where}.single_flight_wait_s"),
    )


def _route(value: Any, where: str) -> RouteSettings:
    if not isinstance(value, Mapping):
        return RouteSettings(threshold=_fraction(value, where))
    reject_unknown(value, _ROUTE_KEYS, where)
    check = value.get("llm_check")
    return RouteSettings(**{k: _fraction(v, f"{where}.{k}") for k, v in value.items() if k != "llm_check"},
                         llm_check=None if check is None else parse_llm_check(check, f"{where}.llm_check"))


def _fraction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(f"{where}: {value!r} must be a number in (0, 1], e.g. 0.5")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: true or false")
    return value


def _whole(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}: {value!r} must be a whole number >= {minimum}")
    return value
