"""Money edge cases over real HTTP: what an OpenAI-format client is told about Claude's cache
writes, and what a stream that breaks off costs."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from costops.tokens import counter

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


BROKEN = "Write a story about a lighthouse keeper. [[sim:tokens=1400]] [[sim:disconnect]]"


def _openai_text(client: Any, model: str) -> tuple[str, str]:
    """(the text the client received, the request id) of a stream that breaks off."""
    raw = client.chat.completions.with_raw_response.create(
        model=model, max_tokens=6000, stream=True, messages=[{"role": "user", "content": BROKEN}]
    )
    text = []
    with pytest.raises(openai.APIError, match="stream broke off"):
        for chunk in raw.parse():
            text += [c.delta.content or "" for c in chunk.choices]
    return "".join(text), raw.headers["x-costops-request-id"]


def _anthropic_text(client: Any, model: str) -> tuple[str, str]:
    raw = client.messages.with_raw_response.create(
        model=model, max_tokens=6000, stream=True, messages=[{"role": "user", "content": BROKEN}]
    )
    text = []
    with pytest.raises(anthropic.APIError, match="stream broke off"):
        for event in raw.parse():
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                text.append(event.delta.text)
    return "".join(text), raw.headers["x-costops-request-id"]


@pytest.mark.parametrize(
    ("api", "model"),
    [
        ("openai", "gpt-4o-mini"),  # passthrough: OpenAI reports usage only in the last chunk
        ("anthropic", "claude-haiku-4-5"),  # passthrough: input in message_start, output only at the end
        ("openai", "claude-haiku-4-5"),  # translated
        ("anthropic", "gpt-4o-mini"),  # translated
        ("openai", "gemini-2.5-flash"),  # translated; Gemini repeats a running count on every event
    ],
)
def test_a_stream_that_breaks_off_is_priced_from_what_was_delivered(gateway, api: str, model: str) -> None:
    if api == "openai":
        text, request_id = _openai_text(openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="x", max_retries=0), model)
    else:
        text, request_id = _anthropic_text(anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0), model)
    delivered = counter(model).count(text)
    assert delivered > 300, "the simulator delivers about half of a 1,400-token answer before it drops"
    record = gateway.record(request_id)
    assert record.error_type == "stream_interrupted" and "stream broke off" in record.error_message
    assert record.stream and record.status >= 500
    shown = record.usage.output_tokens - record.usage.reasoning_tokens  # hidden reasoning is not delivered
    assert abs(shown - delivered) <= max(5, delivered * 0.06), (record.usage, delivered)
    assert record.usage.input_tokens > 10
    assert record.priced and record.cost.output > 0 and record.cost.input > 0
    # Gemini's running count is the provider's own and stands; the others are counted here, and say so
    assert ("tokens estimated" in record.price_source) == (model != "gemini-2.5-flash"), record.price_source


def test_what_a_broken_stream_estimates_and_what_it_leaves() -> None:
    from costops.providers.exchange import interrupted_usage
    from costops.usage import Usage

    def prompt() -> int:
        return 40

    assert interrupted_usage(Usage(), "", "gpt-4o-mini", prompt) == (Usage(), None)  # nothing generated yet
    text = "The keeper climbed the stairs at dusk. " * 20
    n = counter("gpt-4o-mini").count(text)
    usage, note = interrupted_usage(Usage(), text, "gpt-4o-mini", prompt)
    assert usage == Usage(input_tokens=40, output_tokens=n)
    assert note == "the stream broke off: output counted from the text delivered, input from the request"
    running = Usage(input_tokens=25, output_tokens=n + 1)  # the provider counted as it went: its count stands
    assert interrupted_usage(running, text, "gpt-4o-mini", prompt) == (running, None)
    hidden = Usage(input_tokens=25, output_tokens=1024, reasoning_tokens=1024)  # reasoning reported, not delivered
    usage, note = interrupted_usage(hidden, text, "gpt-4o-mini", prompt)
    assert usage == Usage(input_tokens=25, output_tokens=1024 + n, reasoning_tokens=1024) and "input" not in note
