"""Which provider failures are worth another target: the kinds ``routing.fallback_on`` names,
read from an error at the provider boundary. Pure; the fallbacks step, the cascade and the
health observer (:mod:`costops.routing.health`) all judge a failure here."""

from __future__ import annotations

import re

from costops.errors import CostopsError, UpstreamError, UpstreamStatus, UpstreamTimeout, UpstreamUnavailable

KINDS = ("rate_limit", "server_error", "timeout", "connection", "context_length")
_CONTEXT = re.compile(
    r"context[ _-]?(length|window)|maximum context|prompt is too long|too many (input )?tokens|max_tokens.*exceed",
    re.IGNORECASE,
)


def failure_kind(error: CostopsError) -> str | None:
    """Which kind of provider failure ``error`` is, or None when it is not the provider's (pure)."""
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UpstreamUnavailable):
        return "connection"
    if isinstance(error, UpstreamStatus):
        if error.status == 429:
            return "rate_limit"
        if error.status >= 500:
            return "server_error"
        if error.status in (400, 413) and _CONTEXT.search(error.message):
            return "context_length"
        return None
    if isinstance(error, UpstreamError) and error.status >= 500:
        return "server_error"
    return None
