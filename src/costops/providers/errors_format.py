"""Reading a provider's error: its body (OpenAI, Anthropic or Gemini shape) and its retry hints.

Bodies are untrusted: a proxy in front of the provider may answer with HTML, plain text or
nothing at all, so every reader here falls back to a readable message instead of raising.

    OpenAI     {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
    Anthropic  {"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}
    Gemini     {"error": {"code": 429, "message": ..., "status": "RESOURCE_EXHAUSTED", "details": [...]}}
               (streams may wrap it in a list: [{"error": {...}}])
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from costops.errors import UpstreamStatus

__all__ = [
    "ANTHROPIC_ERROR_STATUS",
    "parse_error",
    "retry_after_seconds",
    "gemini_retry_delay",
    "upstream_error",
    "stream_error",
]

ANTHROPIC_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_PROVIDER = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Gemini"}
_SNIPPET = 300


def parse_error(kind: str, status: int, body: bytes) -> tuple[str | None, str]:
    """(error type, message) from an error body of ``kind`` "openai", "anthropic" or "gemini".

    The three JSON shapes are told apart by their keys, so a body of another shape than ``kind``
    (an OpenAI-compatible proxy in front of Gemini, say) is still read right.
    """
    who = _PROVIDER.get(kind, kind)
    text = body.decode("utf-8", "replace").strip() if body else ""
    if not text:
        return None, f"{who} answered HTTP {status} with an empty body"
    try:
        data: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None, f"{who} answered HTTP {status}: {_plain(text)}"
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        data = data[0]
    if not isinstance(data, Mapping):
        return None, f"{who} answered HTTP {status}: {_plain(text)}"
    err = data.get("error", data)
    if isinstance(err, str):  # {"error": "message"} from some OpenAI-compatible servers
        return None, err
    if not isinstance(err, Mapping):
        return None, f"{who} answered HTTP {status}: {_plain(text)}"
    message = err.get("message") or err.get("detail") or data.get("message")
    type_ = err.get("type") or err.get("status") or err.get("code")
    if not isinstance(message, str) or not message:
        message = f"{who} answered HTTP {status}: {_plain(text)}"
    return (str(type_) if type_ not in (None, "") else None), message


def upstream_error(kind: str, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> UpstreamStatus:
    """The error to raise for a provider's non-2xx answer, its message and retry hint kept."""
    type_, message = parse_error(kind, status, body)
    retry = retry_after_seconds(headers or {})
    if retry is None and kind == "gemini":
        retry = gemini_retry_delay(body)
    return UpstreamStatus(status, message, type=_client_type(kind, type_, status), retry_after=retry)


def stream_error(kind: str, payload: Mapping[str, Any]) -> UpstreamStatus:
    """An error that arrives inside a 200 stream (Anthropic's ``error`` event, OpenAI's ``{"error":...}``)."""
    type_, message = parse_error(kind, 500, orjson.dumps(payload))
    err = payload.get("error", payload)
    status = 500
    if isinstance(err, Mapping):
        if isinstance(err.get("code"), int) and 400 <= err["code"] < 600:
            status = err["code"]  # Gemini says its HTTP status in the body
        elif type_ in ANTHROPIC_ERROR_STATUS:
            status = ANTHROPIC_ERROR_STATUS[type_]
    return UpstreamStatus(status, message, type=_client_type(kind, type_, status))


def _client_type(kind: str, type_: str | None, status: int) -> str | None:
    # Gemini's statuses (RESOURCE_EXHAUSTED...) mean nothing to OpenAI or Anthropic clients:
    # let UpstreamStatus derive the type from the HTTP status instead.
    if kind == "gemini" or type_ is None or type_.isupper():
        return "api_error" if status >= 500 else None
    return type_


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait before retrying, from the most precise header present; None when none says.

    Order: ``retry-after-ms``, ``retry-after`` (seconds or an HTTP-date), OpenAI's
    ``x-ratelimit-reset-requests/-tokens`` durations ("6m0s", "20ms"), Anthropic's
    ``anthropic-ratelimit-*-reset`` RFC 3339 times. ``now`` is injectable for tests.
    """
    h = {k.lower(): v for k, v in headers.items()}
    if (ms := _float(h.get("retry-after-ms"))) is not None:
        return max(ms / 1000, 0.0)
    value = (h.get("retry-after") or "").strip()
    if value:
        if (secs := _float(value)) is not None:
            return max(secs, 0.0)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return _until(when, now)
    resets = [_duration(h[k]) for k in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens") if k in h]
    if found := [r for r in resets if r is not None]:
        return max(found)
    stamps = [v for k, v in h.items() if k.startswith("anthropic-ratelimit-") and k.endswith("-reset")]
    waits = []
    for stamp in stamps:
        try:
            waits.append(_until(datetime.fromisoformat(stamp.replace("Z", "+00:00")), now))
        except ValueError:
            continue
    return max(waits) if waits else None


def gemini_retry_delay(body: bytes) -> float | None:
    """Gemini's 429 carries ``google.rpc.RetryInfo`` with ``retryDelay: "37s"`` in ``details``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list) and data:
        data = data[0]
    err = data.get("error") if isinstance(data, Mapping) else None
    details = err.get("details") if isinstance(err, Mapping) else None
    for item in details if isinstance(details, list) else []:
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith("RetryInfo"):
            return _duration(str(item.get("retryDelay", "")))
    return None


_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _duration(value: str) -> float | None:
    """Go-style durations as OpenAI and Google write them: "1h2m3.5s", "6m0s", "20ms", "37s"."""
    value = value.strip()
    if (plain := _float(value)) is not None:
        return max(plain, 0.0)
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _until(when: datetime, now: datetime | None) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max((when - now).total_seconds(), 0.0)


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _plain(text: str) -> str:
    """An HTML error page (a proxy's 502) reduced to its words, cut short."""
    if "<" in text:
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"
