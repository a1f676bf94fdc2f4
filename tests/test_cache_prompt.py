"""Provider prompt caching: where the breakpoints go (pure), and the saving, end to end on the
simulator, which bills Anthropic cache writes and reads as the API does."""

from __future__ import annotations

import anthropic
import openai
import pytest

from costops.cache.prompt import apply, has_cache_control, min_cacheable, plan
from costops.pricing import PriceCatalog

SHORT = "You are terse."


def long_prompt(company: str, policies: int = 260) -> str:
    """About 11.5 tokens per policy: 260 make ~3,000 tokens, 130 ~1,500. The simulator's cache
    lives as long as the test session, so each test names its own company."""
    return f"You are the support assistant of {company}. " + " ".join(
        f"Policy {i}: refunds within {i} days." for i in range(policies))


LONG = long_prompt("Example Corp")


def count(text: str) -> int:
    """The pure tests count one token per character: thresholds are easy to read."""
    return len(text)


def test_anthropic_tools_system_and_static_context_get_breakpoints() -> None:
    body = {
        "tools": [{"name": "t1", "input_schema": {}}, {"name": "t2", "input_schema": {}}],
        "system": "S" * 600,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "D" * 2000}, {"type": "text", "text": "question?"}]}],
    }
    placement = plan("anthropic", body, minimum=500, count=count, place=("tools", "system", "context"))
    assert placement.paths == (("system", 0), ("messages", 0, 0)), "tools alone are under the minimum"
    out = apply("anthropic", body, placement, "1h")
    assert out["system"] == [{"type": "text", "text": "S" * 600, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    assert out["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert "cache_control" not in out["messages"][0]["content"][1]
    assert body["system"] == "S" * 600 and "cache_control" not in body["messages"][0]["content"][0], "input untouched"


def test_nothing_when_short_or_when_the_client_placed_its_own() -> None:
    short = {"system": SHORT, "messages": [{"role": "user", "content": "hi"}]}
    assert plan("anthropic", short, minimum=1024, count=count, place=("system",)).paths == ()
    own = {"system": [{"type": "text", "text": "S" * 5000, "cache_control": {"type": "ephemeral"}}],
           "messages": [{"role": "user", "content": "hi"}]}
    assert plan("anthropic", own, minimum=10, count=count, place=("tools", "system", "context")).paths == ()
    top = {"cache_control": {"type": "ephemeral"}, "system": "S" * 5000, "messages": [{"role": "user", "content": "hi"}]}
    assert plan("anthropic", top, minimum=10, count=count, place=("system",)).paths == ()


def test_a_single_turn_question_is_not_marked_but_a_conversation_prefix_is() -> None:
    one = {"messages": [{"role": "user", "content": "Q" * 3000}]}
    assert plan("anthropic", one, minimum=10, count=count, place=("context",)).paths == ()
    convo = {"messages": [{"role": "user", "content": "Q" * 3000}, {"role": "assistant", "content": "A"},
                          {"role": "user", "content": "more?"}]}
    placement = plan("anthropic", convo, minimum=10, count=count, place=("context",))
    assert placement.paths == (("messages", 0, 0),)
    out = apply("anthropic", convo, placement, "5m")
    assert out["messages"][0]["content"] == [{"type": "text", "text": "Q" * 3000, "cache_control": {"type": "ephemeral"}}]


def test_openai_bodies_are_marked_on_their_parts_and_translate() -> None:
    from costops.providers.anthropic_format import openai_to_anthropic_request

    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    body = {"model": "claude-sonnet-4-6", "tools": [tool],
            "messages": [{"role": "system", "content": "S" * 1500}, {"role": "user", "content": "hello"}]}
    placement = plan("openai", body, minimum=1024, count=count, place=("tools", "system", "context"))
    assert placement.paths == (("system", 0),)
    upstream = openai_to_anthropic_request(apply("openai", body, placement, "5m"), "claude-sonnet-4-6")
    assert upstream["system"] == [{"type": "text", "text": "S" * 1500, "cache_control": {"type": "ephemeral"}}]


def test_never_more_than_four_and_haiku_needs_more() -> None:
    assert min_cacheable("claude-haiku-4-5") == 2048 and min_cacheable("claude-sonnet-4-6") == 1024
    body = {"tools": [{"name": "t"}], "system": "S", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}
    assert len(plan("anthropic", body, minimum=0, count=count, place=("tools", "system", "context")).paths) == 3


CONFIG = "cache: {prompt: {ttl: 5m}}"


def test_a_second_call_with_the_same_long_system_prompt_reads_the_cache_and_costs_less(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    kw = {"model": "claude-sonnet-4-6", "max_tokens": 50, "system": LONG}
    first = client.messages.with_raw_response.create(**kw, messages=[{"role": "user", "content": "Refund for order 1?"}])
    second = client.messages.create(**kw, messages=[{"role": "user", "content": "Refund for order 2?"}])
    assert first.headers["x-costops-prompt-cache"] == "1"
    assert first.parse().usage.cache_creation_input_tokens > 1024
    assert second.usage.cache_read_input_tokens == first.parse().usage.cache_creation_input_tokens
    write, read = gw.records(2)
    assert read.usage.cache_read_tokens > 0 and read.cost.total < write.cost.total
    table = PriceCatalog().lookup("claude-sonnet-4-6", "anthropic")
    assert read.cost.total == table.cost(read.usage).total


def test_openai_client_to_claude_gets_the_saving_too(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    system = long_prompt("Translated Corp")
    for q in ("Refund for order 1?", "Refund for order 2?"):
        done = client.chat.completions.create(
            model="claude-sonnet-4-6", max_tokens=50,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": q}],
        )
    assert done.usage.prompt_tokens_details.cached_tokens > 1024
    write, read = gw.records(2)
    assert write.usage.cache_write_5m_tokens > 1024 and read.usage.cache_read_tokens == write.usage.cache_write_5m_tokens


def test_haiku_prompt_under_its_minimum_is_left_alone(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    resp = client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=20, system=long_prompt("Haiku Corp", 130), messages=[{"role": "user", "content": "hi"}])
    assert "x-costops-prompt-cache" not in resp.headers
    assert resp.parse().usage.cache_creation_input_tokens == 0


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_other_providers_are_forwarded_as_sent(make_gateway, kind) -> None:
    gw = make_gateway(CONFIG)
    model = "gpt-4o-mini" if kind == "openai" else "gemini-2.5-flash"
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    resp = client.chat.completions.with_raw_response.create(
        model=model, max_tokens=20, messages=[{"role": "system", "content": LONG}, {"role": "user", "content": "hi"}])
    assert "x-costops-prompt-cache" not in resp.headers


def test_breakpoints_are_looked_for_only_where_the_body_has_lists() -> None:
    """A body whose tools or messages are not lists is the provider's to refuse: looking for the
    client's breakpoints must not fail on it (a 500 schemathesis found through the budgets stage)."""
    assert has_cache_control({"model": "claude-haiku-4-5", "tools": 5, "messages": 3}) is False
    assert has_cache_control({"messages": [{"role": "user", "content": [{"type": "text", "text": "x",
                                                                         "cache_control": {"type": "ephemeral"}}]}]})
