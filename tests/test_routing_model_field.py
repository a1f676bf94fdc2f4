"""The response's ``model`` names the model that answered, on every path: a same-API call (the
provider's answer passes through) and a translated one (OpenAI <-> Anthropic <-> Gemini), streamed
and not. The name the client sent (a policy alias such as ``auto``) stays visible in
``x-costops-route`` and in the ledger row's ``model_requested``."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

CONFIG = """
routing:
  policies:
    to-claude: {kind: fixed, model: claude-sonnet-4-5}
    to-gemini: {kind: fixed, model: gemini-2.5-flash}
    to-gpt: {kind: fixed, model: gpt-4o}
"""
ALIASES = {"to-claude": "claude-sonnet-4-5", "to-gemini": "gemini-2.5-flash", "to-gpt": "gpt-4o"}
HI = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def gw(pinned_gateway):
    return pinned_gateway(CONFIG)


def check(gw: Any, alias: str, model: str, headers: Any) -> None:
    answered = ALIASES[alias]
    assert model == answered, (alias, model)
    assert headers["x-costops-route"].startswith("fixed; ") and answered in headers["x-costops-route"]
    row = gw.record(headers["x-costops-request-id"])
    assert (row.model, row.model_requested, row.policy) == (answered, alias, alias)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_an_openai_client_is_told_the_model_that_answered(gw, alias: str) -> None:
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=30)
    raw = oa.chat.completions.with_raw_response.create(model=alias, messages=HI, max_tokens=20)
    check(gw, alias, raw.parse().model, raw.headers)

    with oa.chat.completions.with_streaming_response.create(
        model=alias, messages=HI, max_tokens=20, stream=True, stream_options={"include_usage": True}
    ) as streamed:
        chunks = list(streamed.parse())
    assert chunks and {c.model for c in chunks} == {ALIASES[alias]}
    check(gw, alias, chunks[-1].model, streamed.headers)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_an_anthropic_client_is_told_the_model_that_answered(gw, alias: str) -> None:
    an = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0, timeout=30)
    raw = an.messages.with_raw_response.create(model=alias, messages=HI, max_tokens=20)
    check(gw, alias, raw.parse().model, raw.headers)

    with an.messages.stream(model=alias, messages=HI, max_tokens=20) as stream:
        events = list(stream)
        final = stream.get_final_message()
        headers = stream.response.headers
    starts = [e.message.model for e in events if e.type == "message_start"]
    assert starts == [ALIASES[alias]]
    check(gw, alias, final.model, headers)
