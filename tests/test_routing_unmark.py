"""A call the client marked for Claude (Anthropic's ``cache_control``) that a fallback hands to an
OpenAI deployment goes there without the marks (OpenAI refuses the unknown field). Marks the
prompt-cache stage placed are planned per attempt (tests/test_routing_prompt_cache.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from costops.serving import BackgroundServer, free_port
from tests.asgi_body import request_body

LONG = "You are a careful assistant for the accounts team. " * 300  # well past Claude's 1,024-token minimum


def recording_openai():
    """An OpenAI-compatible server that answers every chat call and keeps the bodies it was sent."""
    bodies: list[dict] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        bodies.append(json.loads(await request_body(receive)))
        answer = {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": bodies[-1]["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 2, "total_tokens": 1202},
        }
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    app.bodies = bodies
    return app


@pytest.fixture
def claude_falls_back_to_openai(make_gateway) -> Iterator[Callable[[str], tuple[Any, Any]]]:
    """``start(extra_config)``: a gateway whose Claude deployment is unreachable and falls back to
    an OpenAI deployment that records the bodies it was sent; returns (gateway, that upstream)."""
    dead = f"http://127.0.0.1:{free_port()}"
    upstream = recording_openai()
    with BackgroundServer(upstream) as backup:
        def start(extra: str = "") -> tuple[Any, Any]:
            return make_gateway(f"""
deployments:
  - {{name: claude-down, kind: anthropic, base_url: "{dead}", models: ["claude-sonnet-4-5"], max_retries: 0}}
  - {{name: backup, kind: openai, base_url: "{backup.url}/v1", models: ["gpt-4o"]}}
routing:
  fallbacks:
    claude-sonnet-4-5: [gpt-4o]
""" + extra), upstream

        yield start


def test_a_fallback_to_openai_sends_the_client_marked_call_without_cache_control(claude_falls_back_to_openai) -> None:
    gw, upstream = claude_falls_back_to_openai("")
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    mark = {"type": "ephemeral"}
    messages = [
        {"role": "system", "content": [{"type": "text", "text": LONG, "cache_control": mark}]},
        {"role": "user", "content": [{"type": "text", "text": LONG, "cache_control": mark},
                                     {"type": "text", "text": "The capital of France?"}]},
    ]
    raw = oa.chat.completions.with_raw_response.create(model="claude-sonnet-4-5", messages=messages)
    assert raw.parse().choices[0].message.content == "Paris."
    (sent,) = upstream.bodies
    assert "cache_control" not in json.dumps(sent)
    assert sent["model"] == "gpt-4o" and sent["messages"][1]["content"][0]["text"] == LONG
    rows = gw.records(2)
    assert sorted(r.provider for r in rows) == ["anthropic", "openai"]


def test_unmarking_copies_and_keeps_everything_else() -> None:
    from costops.cache.prompt import without_cache_control

    mark = {"type": "ephemeral"}
    body = {"model": "m", "cache_control": mark, "tools": [{"type": "function", "cache_control": mark}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "a", "cache_control": mark}]},
                         {"role": "assistant", "content": "b"}]}
    before = json.dumps(body)
    out = without_cache_control(body)
    assert out == {"model": "m", "tools": [{"type": "function"}],
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}, {"role": "assistant", "content": "b"}]}
    assert json.dumps(body) == before  # the caller's body is not touched
