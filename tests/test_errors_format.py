"""Reading provider error bodies and retry hints, including what proxies send instead."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

from costops.providers.errors_format import (
    gemini_retry_delay,
    parse_error,
    retry_after_seconds,
    stream_error,
    upstream_error,
)

GEMINI_429 = orjson.dumps({"error": {
    "code": 429,
    "message": "You exceeded your current quota.",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
    ],
}})


@pytest.mark.parametrize(
    ("kind", "status", "body", "expected"),
    [
        ("openai", 400, b'{"error": {"message": "Invalid value for \'model\'", "type": "invalid_request_error", "param": "model", "code": null}}',
         ("invalid_request_error", "Invalid value for 'model'")),
        ("openai", 429, b'{"error": {"message": "Rate limit reached", "type": null, "code": "rate_limit_exceeded"}}',
         ("rate_limit_exceeded", "Rate limit reached")),
        ("anthropic", 529, b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_1"}',
         ("overloaded_error", "Overloaded")),
        ("gemini", 429, GEMINI_429, ("RESOURCE_EXHAUSTED", "You exceeded your current quota.")),
        ("gemini", 400, b'[{"error": {"code": 400, "message": "Bad schema", "status": "INVALID_ARGUMENT"}}]',
         ("INVALID_ARGUMENT", "Bad schema")),
        ("openai", 500, b'{"error": "upstream exploded"}', (None, "upstream exploded")),
        ("openai", 404, b'{"detail": "Not Found"}', (None, "Not Found")),
        ("openai", 502, b"", (None, "OpenAI answered HTTP 502 with an empty body")),
        ("anthropic", 502, b"<html><head><title>502 Bad Gateway</title><style>b{}</style></head><body><h1>502 Bad Gateway</h1></body></html>",
         (None, "Anthropic answered HTTP 502: 502 Bad Gateway 502 Bad Gateway")),
        ("gemini", 503, b"upstream connect error or disconnect/reset before headers",
         (None, "Gemini answered HTTP 503: upstream connect error or disconnect/reset before headers")),
        ("openai", 500, b"[1, 2]", (None, "OpenAI answered HTTP 500: [1, 2]")),
        ("openai", 500, b"\xff\xfe garbage", (None, "OpenAI answered HTTP 500: \ufffd\ufffd garbage")),
    ],
)
def test_parse_error(kind: str, status: int, body: bytes, expected: tuple) -> None:
    assert parse_error(kind, status, body) == expected


def test_long_bodies_are_cut() -> None:
    _, message = parse_error("openai", 500, b"x" * 5000)
    assert len(message) < 400 and message.endswith("…")


NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "Sun, 01 Jun 2025 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Sun, 01 Jun 2025 11:00:00 GMT"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "1"}, 0.25),
        ({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}, 360.0),
        ({"x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({"x-ratelimit-reset-requests": "1h2m3.5s"}, 3723.5),
        ({"anthropic-ratelimit-tokens-reset": "2025-06-01T12:00:10Z"}, 10.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"x-ratelimit-reset-requests": "later"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict, seconds: float | None) -> None:
    got = retry_after_seconds(headers, now=NOW)
    assert got is None if seconds is None else got == pytest.approx(seconds)


def test_gemini_retry_info_and_upstream_error() -> None:
    assert gemini_retry_delay(GEMINI_429) == 37.0
    assert gemini_retry_delay(b"<html>") is None
    error = upstream_error("gemini", 429, GEMINI_429, {})
    assert (error.status, error.type, error.retry_after) == (429, "rate_limit_error", 37.0)
    assert error.message == "You exceeded your current quota."
    error = upstream_error("anthropic", 529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', {"retry-after": "3"})
    assert (error.status, error.type, error.retry_after) == (529, "overloaded_error", 3.0)
    assert upstream_error("openai", 502, b"<html>bad gateway</html>").type == "api_error"


def test_stream_errors_take_their_status_from_the_body() -> None:
    assert stream_error("anthropic", {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}).status == 429
    assert stream_error("gemini", {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}).status == 400
    error = stream_error("openai", {"error": {"message": "boom", "type": "server_error"}})
    assert (error.status, error.type, error.message) == (500, "server_error", "boom")
