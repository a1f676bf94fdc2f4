"""Who is calling and on whose behalf: the virtual key, plus tags from the request.

Pure functions of (config, request headers, request body): the gateway calls them, and tests
call them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from costops.config import Config, VirtualKey
from costops.errors import BadRequest, Unauthorized

ANONYMOUS = VirtualKey(id="anonymous", key_sha256="", tenant="default")
MAX_TAGS = 32


@dataclass(frozen=True, slots=True)
class Principal:
    key: VirtualKey
    tags: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    client_credential: str | None = None
    """The caller's own provider key, forwarded only when no virtual keys are configured and the
    deployment has no key of its own (bring-your-own-key on a loopback gateway)."""


def credential(authorization: str | None, x_api_key: str | None, goog_key: str | None) -> str | None:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return x_api_key or goog_key or None


def authenticate(config: Config, secret: str | None) -> tuple[VirtualKey, str | None]:
    """The virtual key for ``secret``; without configured keys everyone is the anonymous tenant."""
    if not config.keys:
        return ANONYMOUS, secret
    if not secret:
        raise Unauthorized(
            "missing API key: send your costops virtual key as 'Authorization: Bearer <key>' or 'x-api-key'"
        )
    key = config.key_for(secret)
    if key is None:
        raise Unauthorized("invalid API key: this key is not one of the gateway's virtual keys")
    return key, None


def caller(config: Config, headers: Mapping[bytes, str]) -> tuple[VirtualKey, str | None]:
    """Who pays for a request, from its headers (lower-case names): the virtual key that
    ``Authorization: Bearer``, ``x-api-key`` or ``x-goog-api-key`` names, and the caller's own
    provider key where no virtual keys are configured. Every route that bills a key reads it here."""
    secret = credential(headers.get(b"authorization"), headers.get(b"x-api-key"), headers.get(b"x-goog-api-key"))
    return authenticate(config, secret)


def parse_tag_header(value: str | None) -> dict[str, str]:
    """``x-costops-tags: feature=search,env=prod`` -> {"feature": "search", "env": "prod"}."""
    tags: dict[str, str] = {}
    if not value:
        return tags
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, val = part.partition("=")
        name, val = name.strip(), val.strip()
        if not sep or not name:
            raise BadRequest(f"x-costops-tags: {part!r} is not name=value (example: feature=search,env=prod)")
        tags[name] = val
    return tags


def request_tags(key: VirtualKey, header_value: str | None, body: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    """Tags for the ledger (key's defaults < body metadata < header) and the end user, if named."""
    tags = dict(key.tags)
    metadata = body.get("metadata")
    user = body.get("user")
    if not isinstance(user, str):
        user = None
    if isinstance(metadata, Mapping):
        for name, value in metadata.items():
            if name == "user_id" and isinstance(value, str):  # Anthropic's only metadata field
                user = user or value
            elif isinstance(value, (str, int, float, bool)):
                tags[str(name)] = str(value)
    if header_value:
        tags.update(parse_tag_header(header_value))
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"too many tags ({len(tags)}); at most {MAX_TAGS} per request")
    return tags, key.user or user
