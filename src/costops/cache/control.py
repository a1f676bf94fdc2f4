"""The per-request cache controls a client sends, and the header that says how a call was served.

Grammar of the request header ``x-costops-cache`` (and of the optional body field
``costops_cache``, which the gateway strips before forwarding)::

    value     = directive *( "," directive )        ; spaces around directives are ignored
    directive = "no-cache"                          ; don't read the cache (the answer may be stored)
              | "no-store"                          ; read, but don't store this answer
              | "off"                               ; neither read nor store (= no-cache, no-store)
              | "force"                             ; cache even a non-deterministic request
              | "ttl=" 1*DIGIT                      ; store for this many seconds (1 .. max_ttl_s)
              | "namespace=" NAME                   ; a shared namespace listed in the config
    NAME      = 1*64( ALPHA / DIGIT / "." / "_" / "-" )

Directives are case-insensitive; each may appear once. Anything else is a 400 that quotes the
offending part, so a typo never silently turns caching off (or on).

The response header ``x-costops-cache`` carries one of ``exact | semantic | miss | bypass``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from costops.errors import BadRequest

CACHE_HEADER = b"x-costops-cache"
BODY_FIELD = "costops_cache"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_FLAGS = {"no-cache", "no-store", "off", "force"}


@dataclass(frozen=True, slots=True)
class CacheControl:
    no_cache: bool = False
    no_store: bool = False
    force: bool = False
    ttl_s: int | None = None
    namespace: str | None = None


NO_CONTROL = CacheControl()


def parse_control(text: str | None, *, where: str = "x-costops-cache header") -> CacheControl:
    """Parse the grammar above; ``None`` or blank means no control."""
    if text is None or not text.strip():
        return NO_CONTROL
    seen: set[str] = set()
    no_cache = no_store = force = False
    ttl: int | None = None
    namespace: str | None = None
    for raw in text.split(","):
        part = raw.strip()
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        value = value.strip()
        if name in seen:
            raise BadRequest(f"{where}: {name!r} is given twice in {text!r}")
        seen.add(name)
        if not eq and name in _FLAGS:
            no_cache |= name in ("no-cache", "off")
            no_store |= name in ("no-store", "off")
            force |= name == "force"
        elif eq and name == "ttl":
            if not value.isdigit() or int(value) < 1:
                raise BadRequest(f"{where}: ttl={value!r} must be a whole number of seconds >= 1 (use no-store to skip storing)")
            ttl = int(value)
        elif eq and name == "namespace":
            if not NAME_PATTERN.match(value):
                raise BadRequest(f"{where}: namespace={value!r} must be 1-64 letters, digits, '.', '_' or '-'")
            namespace = value
        else:
            raise BadRequest(
                f"{where}: {part!r} is not a cache directive; use no-cache, no-store, off, force, ttl=SECONDS "
                "or namespace=NAME, comma-separated (e.g. 'no-store, ttl=60')"
            )
    return CacheControl(no_cache, no_store, force, ttl, namespace)


def control_text(headers: Any, body: dict[str, Any]) -> tuple[str | None, str]:
    """The control string of a call, from the header or (if absent) the body field."""
    text = headers.get("x-costops-cache")
    if text is not None:
        return text, "x-costops-cache header"
    value = body.get(BODY_FIELD)
    if value is None:
        return None, ""
    if not isinstance(value, str):
        raise BadRequest(f"{BODY_FIELD}: must be a string such as \"no-store, ttl=60\"")
    return value, f"{BODY_FIELD} body field"


def set_cache_header(headers: list[tuple[bytes, bytes]], kind: str) -> None:
    """Set ``x-costops-cache`` on a response, replacing what an earlier cache stage said (an exact
    ``miss`` becomes ``semantic`` when the semantic cache answers)."""
    value = kind.encode()
    for i, (name, _) in enumerate(headers):
        if name == CACHE_HEADER:
            headers[i] = (CACHE_HEADER, value)
            return
    headers.append((CACHE_HEADER, value))
