"""Configuration as typed, frozen data, loaded strictly.

Sources, later ones winning: built-in defaults, the ecosystem's standard environment variables
(``OPENAI_API_KEY``/``OPENAI_BASE_URL``, ``ANTHROPIC_API_KEY``/``ANTHROPIC_BASE_URL``,
``GEMINI_API_KEY``/``GEMINI_BASE_URL``, ``COSTOPS_DB``), then a YAML or TOML file. Unknown keys
are errors that name the key, so a typo never silently does nothing. ``${VAR}`` in a string
value is read from the environment mapping handed in (tests pass their own).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import ipaddress
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from costops.pricing import PriceOverride, PriceTable, overrides_from_litellm, table_from_config

PROVIDER_KINDS = ("openai", "anthropic", "gemini")
DEFAULT_DB = "sqlite:///costops.db"
DEFAULT_MAX_BODY = 32 * 1024 * 1024

# Which bare model names each provider family serves when no deployment claims them.
DEFAULT_MODEL_PATTERNS = {
    "openai": ("gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-embedding-*", "codex-*", "omni-*", "davinci*", "babbage*"),
    "anthropic": ("claude-*",),
    "gemini": ("gemini-*", "gemma-*", "text-embedding-004", "gemini-embedding-*"),
}
DEFAULT_BASE_URL = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
STAGE_SECTIONS = ("cache", "budgets", "limits", "alerts", "queue", "routing")
"""Sections read by the request-path stages themselves, each strictly, by its own typed parser."""

ENV_NAMES = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "gemini": ("GEMINI_API_KEY", "GEMINI_BASE_URL"),
}


class ConfigError(ValueError):
    """A setting is wrong; the message names the key to change."""


def reject_unknown(raw: Iterable[Any], known: Collection[str], where: str, what: str = "setting") -> None:
    """Refuse the first key of ``raw`` (in the order written) that is not in ``known``.

    Every config parser calls this so a typo fails loudly with one message shape, naming the key's
    full path and every spelling that would work, instead of being silently ignored. ``where`` is
    the section's dotted path ("" for the top level); ``what`` names the kind of key ("check").
    """
    for key in raw:
        if key not in known:
            prefix = f"{where}." if where else ""
            raise ConfigError(f"{prefix}{key}: unknown {what} (known: {', '.join(sorted(known))})")


@dataclass(frozen=True, slots=True)
class Deployment:
    """One upstream endpoint: a provider API family at a base URL, serving some models."""

    name: str
    kind: str
    base_url: str
    api_key: str | None = None
    models: tuple[str, ...] = ()
    """Glob patterns of the model names this deployment serves (``()`` serves none by name)."""
    price_provider: str | None = None
    """The price catalog's provider id (``openai``, ``anthropic``, ``google``, ``groq``...)."""
    discount_pct: Decimal = Decimal(0)
    """Negotiated or committed-use discount applied to list prices for the effective cost."""
    prices: tuple[PriceOverride, ...] = ()
    """Custom prices at this deployment (effective cost), e.g. a self-hosted model's unit cost."""
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_retries: int = 2

    def serves(self, model: str) -> bool:
        return any(model == p or fnmatch.fnmatchcase(model, p) for p in self.models)

    @property
    def catalog_provider(self) -> str | None:
        from costops.pricing.catalog import DEFAULT_PRICE_PROVIDER

        return self.price_provider or DEFAULT_PRICE_PROVIDER.get(self.kind)

    def custom_price(self, model: str) -> PriceTable | None:
        for override in self.prices:
            if override.matches(model, None):
                return override.table
        return None


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """A key the gateway hands out: who is spending, and what they may call."""

    id: str
    key_sha256: str
    tenant: str = "default"
    team: str | None = None
    project: str | None = None
    user: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    """Allowed model globs; empty allows every model."""

    def allows(self, model: str) -> bool:
        return not self.models or any(fnmatch.fnmatchcase(model, p) for p in self.models)


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    db: str = DEFAULT_DB
    batch_size: int = 500
    flush_interval_s: float = 0.25
    max_buffer: int = 100_000
    """Records held in memory while the store is unreachable; beyond this they spill to disk."""
    spill_path: str | None = None
    journal: bool = True
    """Journal each record to a local file before its response ends, so a crash loses no answered call."""
    journal_dir: str | None = None
    """Default: beside a SQLite ledger (``costops.db.journal/``), else ``./costops-ledger-<url hash>.journal/``."""
    analytics: str | None = None
    """The analytics engine reports and the dashboard read (``duckdb://`` in memory when unset);
    ``clickhouse://...`` also streams every written batch into ClickHouse."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4000
    max_body_bytes: int = DEFAULT_MAX_BODY
    admin_key: str | None = None
    """Required as a bearer token by ``/admin/*`` (env ``COSTOPS_ADMIN_KEY``)."""
    metrics_key: str | None = None
    """A bearer token that reads ``/metrics`` and nothing else (env ``COSTOPS_METRICS_KEY``), so a
    Prometheus scraper need not hold the admin key; the admin key reads it too."""
    max_header_bytes: int = 64 * 1024
    """Request line plus headers; more is answered 431 before the parser sees it (its cost grows
    with the square of a header's size)."""
    header_timeout_s: float = 10.0
    """From a connection's first byte (or its opening) to the end of the headers: slowloris."""
    body_timeout_s: float = 60.0
    """From the end of the headers to the end of the body."""
    max_connections: int = 1000
    """Open client connections; more are answered 503 at once. ``costops serve`` raises the file
    descriptor limit to fit, or lowers this to what the limit allows."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins (``https://app.example.com``) that may call the gateway; any other page's
    request (one that sends ``Origin``) is refused, except the gateway's own origin."""
    allowed_hosts: tuple[str, ...] = ()
    """``Host`` names accepted besides the bound address and localhost (DNS rebinding). Checked
    on a loopback gateway always, on others when set."""
    unauthenticated_rows_per_s: float = 10.0
    """Ledger rows for refused keys per second; the rest are only counted (``/health``)."""
    admin_token: str | None = None
    """Not a setting: the per-start token ``costops serve`` makes when no ``admin_key`` is set;
    mutating admin calls on loopback need it."""

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = ServerConfig()
    ledger: LedgerConfig = LedgerConfig()
    deployments: tuple[Deployment, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    keys: tuple[VirtualKey, ...] = ()
    prices: tuple[PriceOverride, ...] = ()
    sections: Mapping[str, Any] = field(default_factory=dict)
    """Raw ``STAGE_SECTIONS`` (after ``${VAR}`` interpolation); see :mod:`costops.pipeline.chain`."""
    redis_url: str | None = None
    """``redis: {url: ...}``: the state every replica shares (caches, budgets, limits)."""
    _keys_by_digest: Mapping[str, VirtualKey] = field(default_factory=dict, init=False, repr=False, compare=False)
    _deployments_by_name: Mapping[str, Deployment] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Indexes built once (and again by ``dataclasses.replace``): every request looks up its
        key and its deployment, which were linear scans. The first of two same-named wins."""
        by_digest: dict[str, VirtualKey] = {}
        for key in self.keys:
            by_digest.setdefault(key.key_sha256, key)
        by_name: dict[str, Deployment] = {}
        for d in self.deployments:
            by_name.setdefault(d.name, d)
        object.__setattr__(self, "_keys_by_digest", by_digest)
        object.__setattr__(self, "_deployments_by_name", by_name)

    def key_for(self, secret: str) -> VirtualKey | None:
        """The virtual key whose secret this is; the digest found is compared in constant time."""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        key = self._keys_by_digest.get(digest)
        return key if key is not None and hmac.compare_digest(key.key_sha256, digest) else None

    def deployment(self, name: str) -> Deployment | None:
        return self._deployments_by_name.get(name)

    def check_bind(self) -> None:
        """Refuse to serve the network without keys: an open gateway spends someone's money."""
        if not self.server.loopback and not self.keys:
            raise ConfigError(
                f"server.host={self.server.host!r} is reachable from other machines but no virtual keys are "
                "configured; add 'keys:' to the config file, or bind to 127.0.0.1"
            )


# -- loading ---------------------------------------------------------------------------------


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    db: str | None = None,
    host: str | None = None,
    port: int | None = None,
) -> Config:
    """Build the config from defaults, ``env`` (default ``os.environ``), the file and CLI flags."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_file(Path(path))
    raw = _interpolate(raw, env, "")
    reject_unknown(
        raw, {"server", "ledger", "deployments", "aliases", "keys", "prices", "price_files", "redis", *STAGE_SECTIONS}, ""
    )

    server = _server(raw, env, host, port)
    ledger_raw = _section(
        raw, "ledger", {"db", "batch_size", "flush_interval_s", "max_buffer", "spill_path", "journal", "journal_dir", "analytics"}
    )
    ledger = LedgerConfig(
        db=db or env.get("COSTOPS_DB") or str(ledger_raw.get("db", DEFAULT_DB)),
        batch_size=int(ledger_raw.get("batch_size", 500)),
        flush_interval_s=float(ledger_raw.get("flush_interval_s", 0.25)),
        max_buffer=int(ledger_raw.get("max_buffer", 100_000)),
        spill_path=ledger_raw.get("spill_path"),
        journal=_bool(ledger_raw.get("journal", True), "ledger.journal"),
        journal_dir=ledger_raw.get("journal_dir"),
        analytics=_analytics_url(ledger_raw.get("analytics")),
    )

    deployments = [_deployment(d, i) for i, d in enumerate(_list(raw, "deployments"))]
    names = [d.name for d in deployments]
    for dup in {n for n in names if names.count(n) > 1}:
        raise ConfigError(f"deployments: two deployments are named {dup!r}; names must be unique")
    for kind in PROVIDER_KINDS:  # the standard env vars make the default deployment of each family
        if kind in names:
            continue
        key_var, url_var = ENV_NAMES[kind]
        api_key = env.get(key_var) or (env.get("GOOGLE_API_KEY") if kind == "gemini" else None)
        url, headers = _base_url(env.get(url_var) or DEFAULT_BASE_URL[kind], url_var, kind, api_key, key_var, {})
        deployments.append(
            Deployment(
                name=kind, kind=kind, base_url=url, api_key=api_key, models=DEFAULT_MODEL_PATTERNS[kind], headers=headers
            )
        )

    aliases = raw.get("aliases") or {}
    if not isinstance(aliases, Mapping) or not all(isinstance(v, str) for v in aliases.values()):
        raise ConfigError("aliases: must map alias names to model names, e.g. {fast: gpt-4o-mini}")

    keys = tuple(_virtual_key(k, i) for i, k in enumerate(_list(raw, "keys")))
    prices: list[PriceOverride] = [_override(p, f"prices[{i}]") for i, p in enumerate(_list(raw, "prices"))]
    for i, file in enumerate(_list(raw, "price_files")):
        try:
            prices += overrides_from_litellm(Path(str(file)))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"price_files[{i}]: cannot read {file!r}: {exc}") from None
    sections = {name: raw[name] for name in STAGE_SECTIONS if raw.get(name) is not None}
    redis_url = _section(raw, "redis", {"url"}).get("url") if raw.get("redis") is not None else None
    if raw.get("redis") is not None and (
        not isinstance(redis_url, str) or not redis_url.startswith(("redis://", "rediss://", "unix://"))
    ):
        raise ConfigError(f"redis.url: {redis_url!r} is not a redis:// URL, e.g. redis: {{url: redis://127.0.0.1:6379/0}}")
    return Config(server, ledger, tuple(deployments), dict(aliases), keys, tuple(prices), sections, redis_url)


_SERVER_KEYS = {
    "host", "port", "max_body_bytes", "admin_key", "metrics_key", "max_header_bytes", "header_timeout_s", "body_timeout_s",
    "max_connections", "allowed_origins", "allowed_hosts", "unauthenticated_rows_per_s",
}


def _server(raw: Mapping[str, Any], env: Mapping[str, str], host: str | None, port: int | None) -> ServerConfig:
    section = _section(raw, "server", _SERVER_KEYS)
    defaults = ServerConfig()

    def positive(name: str, cast: type[int] | type[float]) -> Any:
        value = section.get(name, getattr(defaults, name))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or cast(value) != value:
            kind = "a whole number" if cast is int else "a number"
            raise ConfigError(f"server.{name}: {value!r} must be {kind} above 0, e.g. {getattr(defaults, name)}")
        return cast(value)

    def names(name: str, example: str) -> tuple[str, ...]:
        value = section.get(name) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"server.{name}: must be a list of strings, e.g. [{example}]")
        return tuple(v.strip().lower().rstrip("/") for v in value)

    origins = names("allowed_origins", "https://app.example.com")
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ConfigError(f"server.allowed_origins: {origin!r} is not an origin: scheme://host[:port], e.g. https://app.example.com")
    return ServerConfig(
        host=host or str(section.get("host", "127.0.0.1")),
        port=int(port if port is not None else section.get("port", env.get("COSTOPS_PORT", 4000))),
        max_body_bytes=int(section.get("max_body_bytes", DEFAULT_MAX_BODY)),
        admin_key=section.get("admin_key") or env.get("COSTOPS_ADMIN_KEY") or None,
        metrics_key=section.get("metrics_key") or env.get("COSTOPS_METRICS_KEY") or None,
        max_header_bytes=positive("max_header_bytes", int),
        header_timeout_s=positive("header_timeout_s", float),
        body_timeout_s=positive("body_timeout_s", float),
        max_connections=positive("max_connections", int),
        allowed_origins=origins,
        allowed_hosts=names("allowed_hosts", "gateway.internal"),
        unauthenticated_rows_per_s=positive("unauthenticated_rows_per_s", float),
    )


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"--config {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as exc:
        raise ConfigError(f"--config {path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: the top level must be a mapping")
    return data


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                raise ConfigError(f"{where or 'config'}: environment variable {m.group(1)} is not set")
            return env[m.group(1)]

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _section(raw: Mapping[str, Any], name: str, allowed: set[str]) -> Mapping[str, Any]:
    section = raw.get(name) or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{name}: must be a mapping")
    reject_unknown(section, allowed, name)
    return section


def _list(raw: Mapping[str, Any], name: str) -> list[Any]:
    value = raw.get(name) or []
    if not isinstance(value, list):
        raise ConfigError(f"{name}: must be a list")
    return value


_DEPLOYMENT_KEYS = {
    "name", "kind", "base_url", "api_key", "models", "price_provider", "discount_pct", "prices",
    "headers", "timeout_s", "connect_timeout_s", "max_retries",
}


def _deployment(raw: Any, i: int) -> Deployment:
    where = f"deployments[{i}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping")
    reject_unknown(raw, _DEPLOYMENT_KEYS, where)
    kind = raw.get("kind", "openai")
    if kind not in PROVIDER_KINDS:
        raise ConfigError(f"{where}.kind: {kind!r} is not one of {', '.join(PROVIDER_KINDS)} (any OpenAI-compatible server is 'openai')")
    name = raw.get("name")
    if not name or not isinstance(name, str) or "/" in name:
        raise ConfigError(f"{where}.name: required, a word without '/'")
    models = raw.get("models") or []
    if isinstance(models, str):
        models = [models]
    discount = Decimal(str(raw.get("discount_pct", 0)))
    if not 0 <= discount <= 100:
        raise ConfigError(f"{where}.discount_pct: must be between 0 and 100")
    prices = tuple(_override(p, f"{where}.prices[{j}]") for j, p in enumerate(raw.get("prices") or []))
    headers = dict(raw.get("headers") or {})
    url = raw.get("base_url") or DEFAULT_BASE_URL[kind]
    url, headers = _base_url(url, f"{where}.base_url", kind, raw.get("api_key"), f"{where}.api_key", headers)
    return Deployment(
        name=name,
        kind=kind,
        base_url=url,
        api_key=raw.get("api_key"),
        models=tuple(str(m) for m in models),
        price_provider=raw.get("price_provider"),
        discount_pct=discount,
        prices=prices,
        headers=headers,
        timeout_s=float(raw.get("timeout_s", 600)),
        connect_timeout_s=float(raw.get("connect_timeout_s", 10)),
        max_retries=int(raw.get("max_retries", 2)),
    )


def _base_url(
    url: Any, where: str, kind: str, api_key: str | None, key_setting: str, headers: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The deployment's URL without credentials, and its headers with them.

    A user and password in the URL (``https://user:pass@proxy/v1``, a Basic-auth reverse proxy in
    front of a self-hosted model) mean HTTP Basic auth to every HTTP client, so they become an
    ``Authorization: Basic`` header here, and the URL that error messages and logs quote no
    longer carries the password. Where that header would collide with the provider key (an
    OpenAI-compatible deployment sends its key as ``Authorization: Bearer``) or with one set under
    ``headers``, the config is refused, naming the setting: one header cannot carry both."""
    if not isinstance(url, str):
        raise ConfigError(f"{where}: must be a URL, e.g. https://api.openai.com/v1")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{where}: {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"{where}: {url!r} is not an http(s) URL, e.g. https://api.openai.com/v1")
    if not parts.hostname:
        raise ConfigError(f"{where}: {url!r} has no host, e.g. https://api.openai.com/v1")
    if parts.username is None and parts.password is None:
        return url.rstrip("/"), headers
    if any(name.lower() == "authorization" for name in headers):
        raise ConfigError(
            f"{where}: the URL has a user and password (sent as HTTP Basic auth in the Authorization header), "
            "but headers sets Authorization too; keep one of them"
        )
    if kind == "openai" and api_key:
        raise ConfigError(
            f"{where}: the URL has a user and password (sent as HTTP Basic auth in the Authorization header), "
            f"but {key_setting} is set and an OpenAI-compatible deployment sends it in the same header as a Bearer "
            "token; keep one of them"
        )
    userinfo = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    basic = "Basic " + base64.b64encode(userinfo.encode()).decode()
    bare = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, parts.fragment))
    return bare.rstrip("/"), {**headers, "authorization": basic}


def _virtual_key(raw: Any, i: int) -> VirtualKey:
    where = f"keys[{i}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping")
    reject_unknown(raw, {"id", "key", "key_sha256", "tenant", "team", "project", "user", "tags", "models"}, where)
    if ("key" in raw) == ("key_sha256" in raw):
        raise ConfigError(f"{where}: give exactly one of 'key' (the secret) or 'key_sha256' (its hex digest)")
    digest = raw.get("key_sha256") or hashlib.sha256(str(raw["key"]).encode()).hexdigest()
    tags = raw.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise ConfigError(f"{where}.tags: must be a mapping of tag names to values")
    return VirtualKey(
        id=str(raw.get("id") or f"key-{i}"),
        key_sha256=str(digest).lower(),
        tenant=str(raw.get("tenant", "default")),
        team=raw.get("team"),
        project=raw.get("project"),
        user=raw.get("user"),
        tags={str(k): str(v) for k, v in tags.items()},
        models=tuple(raw.get("models") or ()),
    )


def _override(raw: Any, where: str) -> PriceOverride:
    if not isinstance(raw, Mapping) or "model" not in raw:
        raise ConfigError(f"{where}: needs 'model' and prices in USD per million tokens (input, output, ...)")
    try:
        table = table_from_config(raw, where=where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return PriceOverride(model=str(raw["model"]), provider=raw.get("provider"), table=table)


def _analytics_url(value: Any) -> str | None:
    if value is None:
        return None
    from costops.analysis.engine import ENGINE_FORMS

    if not isinstance(value, str) or not value.startswith(("duckdb://", "clickhouse://", "clickhouses://", "chdb://")):
        raise ConfigError(f"ledger.analytics: {value!r} is not an engine URL; use {ENGINE_FORMS}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} must be true or false")
    return value
