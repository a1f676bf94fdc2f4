"""Prompt-cache breakpoints are planned for each attempt's own target, over real HTTP: a call
whose first target is OpenAI and whose fallback is Claude reaches Claude marked (and gets the
caching saving on the simulator, which bills Anthropic cache writes and reads as the API does),
and the other way round, a call marked for Claude that falls back to OpenAI goes without the marks."""

from __future__ import annotations

import json

import anthropic
import openai

from costops.serving import free_port
from tests.test_cache_prompt import long_prompt
from tests.test_routing_unmark import claude_falls_back_to_openai  # noqa: F401  (the fixture)


def test_an_openai_first_call_that_falls_back_to_claude_is_marked_for_claude(make_gateway) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    gw = make_gateway(f"""
deployments:
  - {{name: oa-down, kind: openai, base_url: "{dead}/v1", models: ["gpt-4o"], max_retries: 0}}
routing:
  fallbacks:
    gpt-4o: [claude-sonnet-4-5]
  circuit_breaker: {{failures: 100}}
cache:
  prompt: {{ttl: 5m}}
""")
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=30)
    system = long_prompt("Fallback Corp")
    answers = []
    for q in ("Refund for order 1?", "Refund for order 2?"):
        answers.append(client.chat.completions.with_raw_response.create(
            model="gpt-4o", max_tokens=50, messages=[{"role": "system", "content": system}, {"role": "user", "content": q}]))
    assert [a.parse().model for a in answers] == ["claude-sonnet-4-5"] * 2
    assert [a.headers.get("x-costops-prompt-cache") for a in answers] == ["1", "1"]
    rows = gw.records(4)
    failed = [r for r in rows if r.deployment == "oa-down"]
    write, read = sorted((r for r in rows if r.provider == "anthropic"), key=lambda r: r.ts)
    assert len(failed) == 2 and all(r.status >= 500 for r in failed)
    assert write.usage.cache_write_5m_tokens > 1024  # the breakpoint reached Claude: it wrote its cache...
    assert read.usage.cache_read_tokens == write.usage.cache_write_5m_tokens  # ...and the second call read it
    assert read.cost.total < write.cost.total
    assert answers[1].parse().usage.prompt_tokens_details.cached_tokens == read.usage.cache_read_tokens


def test_a_call_marked_for_claude_that_falls_back_to_openai_goes_without_the_marks(claude_falls_back_to_openai) -> None:  # noqa: F811
    gw, upstream = claude_falls_back_to_openai("cache:\n  prompt: {}\n")
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0, timeout=30)
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=50, system=long_prompt("Unmark Corp"),
        messages=[{"role": "user", "content": "Refund for order 1?"}])
    assert raw.parse().model == "gpt-4o"
    assert "x-costops-prompt-cache" not in raw.headers  # the answering attempt carried no breakpoint
    (sent,) = upstream.bodies
    assert "cache_control" not in json.dumps(sent)
    assert sent["messages"][0] == {"role": "system", "content": long_prompt("Unmark Corp")}
