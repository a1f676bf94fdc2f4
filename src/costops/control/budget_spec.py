"""The ``budgets:`` config section as frozen data, parsed strictly (errors name the key).

    budgets:
      thresholds: [50, 75, 90, 100]      # alert levels, % of the limit (default for every budget)
      expected_output_tokens: 1024       # the least a request with no max_tokens is granted
      max_output_tokens: {default: 4096, "my-model*": 32000}  # the most (else the capability catalog's)
      reservation_ttl_s: 600             # an unsettled reservation (crash, hang) expires after this
      check_interval_s: 60               # forecasts, spikes, digest, shared definitions
      backend: auto                      # auto (redis when a redis: section exists) | memory | redis
      on_state_error: allow              # allow | block, when the shared state (Redis) is unreachable
      redis_prefix: costops              # key prefix in the Redis of the redis: {url: ...} section
      downgrade: {gpt-4o: gpt-4o-mini}   # default cheaper tier per model (globs), for every budget
      list:
        - name: globex-monthly
          scope: {tenant: globex}        # global when absent; tag: {feature: search}; model: gpt-4o*
          limit_usd: 250
          window: monthly                # daily | weekly | monthly | rolling (days: 7) | fixed (start, end)
          timezone: Europe/Berlin
          downgrade: default             # or a map; from downgrade_at % (default 90)
          downgrade_at: 80
          hard: true                     # false: alert at 100 % but never block
          pace: true                     # or {burst_pct: 10}: spread the spend over the window

The same mapping (one list entry) is what ``POST /admin/budgets`` takes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from costops.config import ConfigError, reject_unknown
from costops.control.pacing import DEFAULT_BURST_PCT, Pace
from costops.control.windows import KINDS, WindowSpec
from costops.money import to_nanos

DEFAULT_THRESHOLDS = (50, 75, 90, 100)
DEFAULT_DOWNGRADE: Mapping[str, str] = {
    "gpt-4o": "gpt-4o-mini",
    "gpt-4o-2*": "gpt-4o-mini",
    "gpt-4.1": "gpt-4.1-mini",
    "gpt-5": "gpt-5-mini",
    "gpt-5.4": "gpt-5.4-mini",
    "o3": "o4-mini",
    "claude-opus-4*": "claude-sonnet-4-6",
    "claude-sonnet-4*": "claude-haiku-4-5",
    "gemini-2.5-pro": "gemini-2.5-flash",
}
"""The cheaper tier of each premium model, used by ``downgrade: default``."""

SCOPE_KEYS = ("tenant", "team", "project", "key", "user", "model", "provider", "deployment", "tag")
BUDGET_KEYS = {
    "name", "scope", "limit_usd", "window", "timezone", "days", "start", "end", "thresholds",
    "downgrade", "downgrade_at", "hard", "pace",
}
SECTION_KEYS = {
    "list", "thresholds", "expected_output_tokens", "reservation_ttl_s", "check_interval_s", "backend",
    "on_state_error", "downgrade", "redis_prefix", "max_output_tokens",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a budget covers; every given field must match (empty: everything, the global budget)."""

    tenant: str | None = None
    team: str | None = None
    project: str | None = None
    key: str | None = None
    user: str | None = None
    model: str | None = None
    """A glob, matched against the requested and the resolved model name."""
    provider: str | None = None
    """The provider API family: openai, anthropic, gemini."""
    deployment: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"{k}={getattr(self, k)}" for k in SCOPE_KEYS[:-1] if getattr(self, k) is not None]
        parts += [f"tag:{k}={v}" for k, v in sorted(self.tags.items())]
        return ", ".join(parts) or "global"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in SCOPE_KEYS[:-1] if getattr(self, k) is not None}
        if self.tags:
            out["tag"] = dict(self.tags)
        return out


@dataclass(frozen=True, slots=True)
class Budget:
    name: str
    limit_nanos: int
    scope: Scope = Scope()
    window: WindowSpec = WindowSpec()
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    downgrade: Mapping[str, str] = field(default_factory=dict)
    """Requested model glob -> cheaper model; empty: never downgrade."""
    downgrade_at: int = 90
    hard: bool = True
    pace: Pace | None = None
    """Spread the spend over the window (:mod:`costops.control.pacing`); None: no pacing."""
    source: str = "config"
    """``config`` or ``admin`` (created through the admin API)."""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The mapping it was parsed from, for the admin API's PATCH and for sharing between replicas."""

    def cheaper(self, model: str) -> str | None:
        for pattern, target in self.downgrade.items():
            if model == pattern or fnmatch.fnmatchcase(model, pattern):
                return target if target != model else None
        return None


@dataclass(frozen=True, slots=True)
class BudgetsConfig:
    budgets: tuple[Budget, ...] = ()
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    expected_output_tokens: int = 1024
    expected_output_by_model: Mapping[str, int] = field(default_factory=dict)
    max_output_tokens: int = 4096
    """The most a request naming no cap may write, for a model the capability catalog
    (models.dev's data, ``routing.models``) has no output limit for."""
    max_output_by_model: Mapping[str, int] = field(default_factory=dict)
    reservation_ttl_s: float = 600.0
    check_interval_s: float = 60.0
    backend: str = "auto"
    on_state_error: str = "allow"
    redis_prefix: str = "costops"
    downgrade: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DOWNGRADE))

    def expected_output(self, model: str) -> int:
        for pattern, tokens in self.expected_output_by_model.items():
            if fnmatch.fnmatchcase(model, pattern):
                return tokens
        return self.expected_output_tokens

    def max_output(self, model: str) -> int | None:
        """``max_output_tokens``' entry for the model, None when it names none (ask the catalog)."""
        for pattern, tokens in self.max_output_by_model.items():
            if fnmatch.fnmatchcase(model, pattern):
                return tokens
        return None


def parse_budgets(raw: Any) -> BudgetsConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError("budgets: must be a mapping with a 'list' of budgets (see the README's Budgets section)")
    reject_unknown(raw, SECTION_KEYS, "budgets")
    thresholds = _thresholds(raw.get("thresholds", DEFAULT_THRESHOLDS), "budgets.thresholds")
    default_map = _downgrade_map(raw.get("downgrade"), DEFAULT_DOWNGRADE, "budgets.downgrade") or dict(DEFAULT_DOWNGRADE)
    expected = raw.get("expected_output_tokens", 1024)
    by_model: dict[str, int] = {}
    if isinstance(expected, Mapping):  # {default: 1024, "claude-*": 2048}
        by_model = {str(k): _posint(v, f"budgets.expected_output_tokens.{k}") for k, v in expected.items() if k != "default"}
        expected = expected.get("default", 1024)
    most = raw.get("max_output_tokens", {})
    if not isinstance(most, Mapping):
        most = {"default": most}
    max_by_model = {str(k): _posint(v, f"budgets.max_output_tokens.{k}") for k, v in most.items() if k != "default"}
    backend = raw.get("backend", "auto")
    if backend not in ("auto", "memory", "redis"):
        raise ConfigError(f"budgets.backend: {backend!r} is not one of auto, memory, redis")
    on_error = raw.get("on_state_error", "allow")
    if on_error not in ("allow", "block"):
        raise ConfigError(f"budgets.on_state_error: {on_error!r} is not one of allow, block")
    config = BudgetsConfig(
        thresholds=thresholds,
        expected_output_tokens=_posint(expected, "budgets.expected_output_tokens"),
        expected_output_by_model=by_model,
        max_output_tokens=_posint(most.get("default", 4096), "budgets.max_output_tokens.default"),
        max_output_by_model=max_by_model,
        reservation_ttl_s=_posfloat(raw.get("reservation_ttl_s", 600), "budgets.reservation_ttl_s"),
        check_interval_s=_posfloat(raw.get("check_interval_s", 60), "budgets.check_interval_s"),
        backend=backend,
        on_state_error=on_error,
        redis_prefix=str(raw.get("redis_prefix", "costops")),
        downgrade=default_map,
    )
    items = raw.get("list") or []
    if not isinstance(items, list):
        raise ConfigError("budgets.list: must be a list of budgets")
    budgets = [parse_budget(item, config, f"budgets.list[{i}]") for i, item in enumerate(items)]
    names = [b.name for b in budgets]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"budgets.list: two budgets are named {dup!r}; names must be unique")
    return replace(config, budgets=tuple(budgets))


def parse_budget(raw: Any, defaults: BudgetsConfig, where: str, source: str = "config") -> Budget:
    """One budget from its mapping (config list entry or admin API body)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping with name, limit_usd, window")
    reject_unknown(raw, BUDGET_KEYS, where)
    name = raw.get("name")
    if not isinstance(name, str) or not name or any(c in name for c in " /{}:"):
        raise ConfigError(f"{where}.name: required, a word without spaces, '/', ':' or braces")
    where = f"{where} ({name})"
    try:
        limit = Decimal(str(raw["limit_usd"]))
    except KeyError:
        raise ConfigError(f"{where}.limit_usd: required, the budget in USD per window") from None
    except InvalidOperation:
        raise ConfigError(f"{where}.limit_usd: {raw['limit_usd']!r} is not a number") from None
    if not limit.is_finite() or limit < 0:
        raise ConfigError(f"{where}.limit_usd: must be zero or more")
    thresholds = _thresholds(raw.get("thresholds", defaults.thresholds), f"{where}.thresholds")
    downgrade_at = raw.get("downgrade_at", 90)
    if not isinstance(downgrade_at, (int, float)) or not 0 < downgrade_at <= 100:
        raise ConfigError(f"{where}.downgrade_at: a percentage between 0 and 100")
    hard = raw.get("hard", True)
    if not isinstance(hard, bool):
        raise ConfigError(f"{where}.hard: true (block at the limit) or false (alert only)")
    window = _window(raw, where)
    return Budget(
        name=name,
        limit_nanos=to_nanos(limit),
        scope=_scope(raw.get("scope"), f"{where}.scope"),
        window=window,
        thresholds=thresholds,
        downgrade=_downgrade_map(raw.get("downgrade"), defaults.downgrade, f"{where}.downgrade"),
        downgrade_at=int(downgrade_at),
        hard=hard,
        pace=_pace(raw.get("pace"), window, hard, f"{where}.pace"),
        source=source,
        raw=dict(raw),
    )


def _scope(raw: Any, where: str) -> Scope:
    if raw in (None, "global", {}):
        return Scope()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a mapping such as {{tenant: acme}} or {{tag: {{feature: search}}}}, or 'global'")
    reject_unknown(raw, SCOPE_KEYS, where)
    tags = raw.get("tag") or {}
    if not isinstance(tags, Mapping):
        raise ConfigError(f"{where}.tag: a mapping of tag names to values, e.g. {{feature: search}}")
    values = {k: str(raw[k]) for k in SCOPE_KEYS[:-1] if raw.get(k) is not None}
    return Scope(**values, tags={str(k): str(v) for k, v in tags.items()})


def _window(raw: Mapping[str, Any], where: str) -> WindowSpec:
    kind = raw.get("window", "monthly")
    if kind not in KINDS:
        raise ConfigError(f"{where}.window: {kind!r} is not one of {', '.join(KINDS)}")
    tz = str(raw.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.timezone: {tz!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
    for key, owner in (("days", "rolling"), ("start", "fixed"), ("end", "fixed")):
        if key in raw and kind != owner:
            raise ConfigError(f"{where}.{key}: only for window: {owner}")
    if kind == "rolling":
        return WindowSpec("rolling", tz, days=_posint(raw.get("days"), f"{where}.days"))
    if kind == "fixed":
        start, end = _instant(raw.get("start"), tz, f"{where}.start"), _instant(raw.get("end"), tz, f"{where}.end")
        if end <= start:
            raise ConfigError(f"{where}.end: must be after start")
        return WindowSpec("fixed", tz, start=start, end=end)
    return WindowSpec(kind, tz)


def _pace(raw: Any, window: WindowSpec, hard: bool, where: str) -> Pace | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        pace = Pace()
    elif isinstance(raw, Mapping):
        reject_unknown(raw, {"burst_pct"}, where)
        burst = raw.get("burst_pct", DEFAULT_BURST_PCT)
        if isinstance(burst, bool) or not isinstance(burst, (int, float)) or not 0 <= burst <= 100:
            raise ConfigError(f"{where}.burst_pct: a percentage of the limit between 0 and 100, got {burst!r}")
        pace = Pace(float(burst))
    else:
        raise ConfigError(f"{where}: true, or a mapping like {{burst_pct: 10}}, got {raw!r}")
    if window.kind == "rolling":
        raise ConfigError(f"{where}: only for daily, weekly, monthly or fixed windows (a rolling window has no start to spread spend from)")
    if not hard:
        raise ConfigError(f"{where}: only for a hard budget (hard: false never holds a request back)")
    return pace


def _instant(value: Any, tz: str, where: str) -> float:
    """An ISO date or time (in the budget's time zone unless it names an offset) as Unix seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not an ISO date or time (2026-01-01 or 2026-01-01T09:00)") from None
    else:
        raise ConfigError(f"{where}: required for a fixed window, an ISO date such as 2026-01-01")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(UTC).timestamp()


def _downgrade_map(raw: Any, default: Mapping[str, str], where: str) -> dict[str, str]:
    if raw is None or raw is False:
        return {}
    if raw == "default" or raw is True:
        return dict(default)
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise ConfigError(f"{where}: 'default' or a map of model to cheaper model, e.g. {{gpt-4o: gpt-4o-mini}}")
    return {str(k): v for k, v in raw.items()}


def _thresholds(raw: Any, where: str) -> tuple[int, ...]:
    if not isinstance(raw, (list, tuple)) or not all(isinstance(t, int) and 0 < t <= 100 for t in raw):
        raise ConfigError(f"{where}: a list of percentages between 1 and 100, e.g. [50, 75, 90, 100]")
    return tuple(sorted(set(raw)))


def _posint(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: a whole number above zero")
    return value


def _posfloat(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: a number of seconds above zero")
    return float(value)
