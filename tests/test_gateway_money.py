"""Money edge cases over real HTTP: what an OpenAI-format client is told about Claude's cache
writes, and what a stream that breaks off costs."""

from __future__ import annotations

from typing import Any

import pytest

MANUAL = "Policy manual, section {n}: refunds are issued within thirty days of purchase. "


def _cached_system(n: int) -> list[dict[str, Any]]:
    """A system prompt in two cached blocks: one kept for an hour, one for five minutes."""
    return [
        {"type": "text", "text": "".join(MANUAL.format(n=i) for i in range(n)),
         "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "".join(MANUAL.format(n=i) for i in range(n, 2 * n)), "cache_control": {"type": "ephemeral"}},
    ]


def _assert_adds_up(usage: Any, billed: Any) -> None:
    """OpenAI's prompt_tokens includes cached tokens; with the details a client recovers each kind
    Anthropic billed at its own rate."""
    details = usage.prompt_tokens_details
    writes = details.cache_write_tokens
    assert usage.prompt_tokens == billed.prompt_tokens
    assert usage.prompt_tokens - details.cached_tokens - writes == billed.input_tokens
    assert details.cached_tokens == billed.cache_read_tokens
    assert writes == billed.cache_write_tokens and details.cache_write_1h_tokens == billed.cache_write_1h_tokens
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens == billed.total_tokens


@pytest.mark.parametrize("stream", [False, True])
def test_openai_client_on_claude_is_told_the_cache_writes(openai_client, gateway, stream: bool) -> None:
    system = _cached_system(60 + stream)  # apart per case: the simulator's prompt cache is shared
    usages = []
    for question in ("Refunds?", "Invoices?"):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        if stream:
            chunks = list(openai_client.chat.completions.create(
                model="claude-sonnet-4-6", max_tokens=50, messages=messages, stream=True, stream_options={"include_usage": True}
            ))
            usages.append(chunks[-1].usage)
        else:
            usages.append(openai_client.chat.completions.create(model="claude-sonnet-4-6", max_tokens=50, messages=messages).usage)
    written, read = gateway.records(2)
    assert written.usage.cache_write_5m_tokens > 0 and written.usage.cache_write_1h_tokens > 0
    assert read.usage.cache_read_tokens > 0
    _assert_adds_up(usages[0], written.usage)
    _assert_adds_up(usages[1], read.usage)
