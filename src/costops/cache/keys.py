"""Pure decisions of the exact cache: the key of a request, whether it may be cached, its TTL
and its namespace. No I/O here: the stage calls these, the tests call them directly.

The key is a hash of the *normalized* request: everything that changes the answer (model as
requested, messages, system, tools, tool_choice, response_format, sampling parameters...) in
canonical JSON with sorted keys, and nothing that does not (``stream``, ``stream_options``,
``user``, ``metadata``, costops' own controls). Unknown parameters stay in the key: a field we
don't know might change the output, and a missed hit costs less than a wrong answer.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from typing import Any
from urllib.parse import quote

import orjson

from costops.cache.config import ExactCacheConfig
from costops.cache.control import BODY_FIELD, CacheControl
from costops.errors import Forbidden

IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", BODY_FIELD})
KEY_VERSION = "v1"


def normalize(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request without the fields that don't change the answer; integral floats become ints
    (``temperature: 0.0`` and ``0`` are the same request), and an OpenAI message whose content is
    a single plain text part is the same as that text as a string."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name in IGNORED_FIELDS:
            continue
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:  # exact as an int
            value = int(value)
        elif name == "messages" and isinstance(value, list):
            value = [_message(m) for m in value]
        out[name] = value
    return out


def _message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, list) and len(content) == 1:
        part = content[0]
        if isinstance(part, dict) and part.keys() == {"type", "text"} and part["type"] == "text":
            return {**message, "content": part["text"]}
    return message


_PLAIN = frozenset({str, int, bool, list, dict, type(None)})
"""Top-level value types :func:`normalize` leaves as they are (no float to make an int)."""


def _as_is(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """What :func:`normalize` would return, found without walking the body in Python when the
    request is plain (what nearly every request is): no float at the top level, and no message
    whose content is a list (the one shape ``_message`` rewrites). None: walk it."""
    if type(body) is not dict or not _PLAIN.issuperset(map(type, body.values())):
        return None
    messages = body.get("messages")
    if type(messages) is list and messages:
        if not _DICTS.issuperset(map(type, messages)) or list in set(map(type, map(dict.get, messages, repeat("content")))):
            return None
    drop = IGNORED_FIELDS.intersection(body)
    if not drop:
        return body
    out = dict(body)
    for name in drop:
        del out[name]
    return out


_DICTS = frozenset({dict})


def request_hash(api: str, endpoint: str, body: Mapping[str, Any]) -> str:
    """The key's digest: sha256 of the canonical JSON of ``[api, endpoint, normalize(body)]``
    (sorted keys). Part of every stored entry's key: changing what it hashes invalidates them all."""
    plain = _as_is(body)
    canonical = orjson.dumps([api, endpoint, normalize(body) if plain is None else plain], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:40]


@lru_cache(maxsize=4096)
def escape(part: str) -> str:
    """A key segment with ``|`` and glob characters escaped, so patterns can't cross segments.
    Memoized: every request escapes its namespace and model, and there are few of each."""
    return quote(part, safe="-._~:/@+=,")


def entry_key(namespace: str, model: str, digest: str) -> str:
    """``namespace|model|hash``: what invalidation patterns are matched against."""
    return f"{escape(namespace)}|{escape(model)}|{digest}"


# -- cacheability --------------------------------------------------------------------------------


def deterministic(endpoint: str, body: Mapping[str, Any]) -> bool:
    """Would the same request give the same answer? Embeddings always; a chat request when it
    samples greedily (temperature 0, or top_k 1) or fixes a seed."""
    if endpoint == "embeddings":
        return True
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature == 0:
        return True
    if body.get("top_k") == 1:
        return True
    return body.get("seed") is not None


@dataclass(frozen=True, slots=True)
class Decision:
    read: bool
    store: bool
    reason: str
    """Why not, for logs and tests; ``"ok"`` when both read and store."""
    bypass: bool = field(init=False)
    """Neither read nor store: no lookup at all. A field set once (the few Decisions are shared
    constants), so the request path reads it without a property's call."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "bypass", not self.read and not self.store)


_SEVERAL = Decision(False, False, "n>1 asks for several different answers")
_RANDOM = Decision(False, False, "not deterministic (set temperature 0 or a seed, or send 'force')")
_NEVER = Decision(False, False, "the TTL rules say never (ttl 0)")
_BY_CONTROL = {  # (read, store): a Decision is immutable, so the four outcomes are shared
    (True, True): Decision(True, True, "ok"), (False, True): Decision(False, True, "no-cache"),
    (True, False): Decision(True, False, "no-store"), (False, False): Decision(False, False, "off"),
}


def decide(endpoint: str, body: Mapping[str, Any], control: CacheControl, cfg: ExactCacheConfig, ttl_s: int) -> Decision:
    """Read and/or store this request? ``ttl_s`` is :func:`choose_ttl`'s answer (0: never cached)."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        return _SEVERAL
    if cfg.deterministic_only and not control.force and not deterministic(endpoint, body):
        return _RANDOM
    if ttl_s <= 0:
        return _NEVER
    return _BY_CONTROL[not control.no_cache, not control.no_store]


def choose_ttl(
    cfg: ExactCacheConfig, control: CacheControl, tags: Mapping[str, str], model: str, endpoint: str
) -> int:
    """Seconds to keep an answer: see :mod:`costops.cache.config` for the precedence."""
    if control.ttl_s is not None:
        return min(control.ttl_s, cfg.max_ttl_s)
    by_tag = [values[tags[tag]] for tag, values in cfg.ttl_by_tag.items() if tags.get(tag) in values]
    if by_tag:
        return min(min(by_tag), cfg.max_ttl_s)
    for pattern, ttl in cfg.ttl_by_model:
        if model == pattern or fnmatch.fnmatchcase(model, pattern):
            return min(ttl, cfg.max_ttl_s)
    if endpoint in cfg.ttl_by_endpoint:
        return min(cfg.ttl_by_endpoint[endpoint], cfg.max_ttl_s)
    return min(cfg.default_ttl_s, cfg.max_ttl_s)


def choose_namespace(cfg: ExactCacheConfig, control: CacheControl, tenant: str) -> str:
    """``tenant:<tenant>`` by default: one tenant never reads another's answers. A request may
    name a shared namespace only when the config lists it and lets this tenant in."""
    if control.namespace is None:
        return f"tenant:{tenant}"
    members = cfg.shared_namespaces.get(control.namespace)
    if members is None:
        raise Forbidden(
            f"cache namespace {control.namespace!r} is not shared; list it under cache.exact.shared_namespaces "
            "with the tenants that may use it"
        )
    if not any(fnmatch.fnmatchcase(tenant, m) for m in members):
        raise Forbidden(f"tenant {tenant!r} may not use the shared cache namespace {control.namespace!r}")
    return f"shared:{control.namespace}"
