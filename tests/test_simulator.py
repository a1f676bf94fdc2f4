"""The provider simulator, driven over real HTTP by the official SDKs (and urllib for Gemini)."""

from __future__ import annotations

import json
import math
import time

import anthropic
import httpx2
import openai
import pytest
from click.testing import CliRunner

from costops.providers.simulator import SimConfig, create_simulator
from costops.serving import BackgroundServer
from costops.tokens import counter
from tests.sim_http import FakeClock, gemini, post, post_json, sse

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit", "days"],
        },
    },
}
LONG_PREFIX = " ".join(f"Rule {i}: keep every request under its team budget and report the cost." for i in range(94))


@pytest.fixture(scope="module")
def srv():
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0))) as server:
        yield server


@pytest.fixture(scope="module")
def oai(srv):
    return openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture(scope="module")
def claude(srv):
    return anthropic.Anthropic(base_url=srv.url, api_key="x", max_retries=0)


def chat(oai, content, model="gpt-4o-mini", **kw):
    return oai.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kw)


# -- OpenAI -------------------------------------------------------------------------------------


def test_openai_usage_is_the_tokenizer_count_of_prompt_and_answer(oai):
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is a token budget?"}]
    r = oai.chat.completions.create(model="gpt-4o-mini", messages=messages)
    tok = counter("gpt-4o-mini")
    assert r.id.startswith("chatcmpl-") and r.object == "chat.completion" and r.system_fingerprint.startswith("fp_")
    assert r.service_tier == "default" and r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens == tok.count_messages(messages)
    assert r.usage.completion_tokens == tok.count(r.choices[0].message.content) > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    assert r.usage.completion_tokens_details.reasoning_tokens == 0
    assert chat(oai, "hi", service_tier="flex").service_tier == "flex"


def test_same_request_same_answer_and_task_shapes_length(oai):
    a, b = chat(oai, "Explain caching"), chat(oai, "Explain caching")
    assert a.choices[0].message.content == b.choices[0].message.content and a.usage == b.usage
    label = chat(oai, "Classify the sentiment of this review in one word: great product!")
    story = chat(oai, "Write a long story about a lighthouse keeper")
    assert label.usage.completion_tokens < 10 < 200 < story.usage.completion_tokens


def test_task_keywords_match_at_word_starts():
    from costops.providers.simulator.behaviour import classify_task

    assert classify_task("Invoices are under Billing > History. How do I add a user?") == "chat"  # not "story"
    assert classify_task("Please summarize the notes") == "summarize" and classify_task("Tune PostgreSQL") == "code"


def test_a_label_task_answers_with_a_label(oai):
    labels = {"positive", "negative", "neutral", "billing", "technical", "account", "other", "yes", "no"}
    answers = [
        chat(oai, f"Classify ticket {k}: the app crashed. Answer with the label only.", max_tokens=10).choices[0]
        for k in range(40)
    ]
    assert sum(a.finish_reason == "stop" and a.message.content.lower() in labels for a in answers) >= 30


def test_reasoning_models_report_reasoning_inside_completion(oai):
    r = chat(oai, "Solve step by step: 17 * 23", model="o4-mini")
    visible = counter("o4-mini").count(r.choices[0].message.content)
    details = r.usage.completion_tokens_details
    assert details.reasoning_tokens > 0 and details.reasoning_tokens % 64 == 0
    assert r.usage.completion_tokens == visible + details.reasoning_tokens
    with pytest.raises(openai.BadRequestError, match="max_completion_tokens"):
        chat(oai, "hi", model="gpt-5", max_tokens=10)


def test_max_tokens_truncates_with_finish_length(oai):
    r = chat(oai, "Write a detailed essay on budgets", max_tokens=25)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 25 == counter("gpt-4o-mini").count(r.choices[0].message.content)


def test_stop_sequence_cuts_the_answer(oai):
    full = chat(oai, "Describe the plan").choices[0].message.content
    word = full.split()[3]
    r = chat(oai, "Describe the plan", stop=[word])
    assert word not in r.choices[0].message.content and r.choices[0].finish_reason == "stop"


def test_stream_with_usage_sends_a_final_usage_chunk(srv):
    body = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Tell me about rate limits"}]}
    status, headers, payload = post(srv.url + "/v1/chat/completions", body)
    events = [data for _, data in sse(payload)]
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    chunks, usage_chunk = events[:-2], events[-2]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["usage"] is None and c["object"] == "chat.completion.chunk" for c in chunks)
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] > 0
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert usage_chunk["usage"]["completion_tokens"] == counter("gpt-4o").count(text)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_without_usage_sends_none(oai, srv):
    stream = chat(oai, "Tell me about rate limits", stream=True)
    chunks = list(stream)
    assert all(c.usage is None for c in chunks) and chunks[-1].choices[0].finish_reason == "stop"
    _, _, payload = post(srv.url + "/v1/chat/completions", {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    assert all("usage" not in data for _, data in sse(payload)[:-1])


def test_tool_call_when_the_user_names_the_tool(oai):
    r = chat(oai, "Use get_weather for the weekend please", tools=[WEATHER_TOOL])
    call = r.choices[0].message.tool_calls[0]
    args = json.loads(call.function.arguments)
    assert r.choices[0].finish_reason == "tool_calls" and call.id.startswith("call_")
    assert call.function.name == "get_weather" and set(args) == {"city", "unit", "days"}
    assert args["unit"] in ("celsius", "fahrenheit") and 1 <= args["days"] <= 7 and isinstance(args["city"], str)
    assert r.choices[0].message.content is None
    # no mention and tool_choice auto: text; "required": a call; "none": text
    assert chat(oai, "Good morning", tools=[WEATHER_TOOL]).choices[0].message.tool_calls is None
    assert chat(oai, "Good morning", tools=[WEATHER_TOOL], tool_choice="required").choices[0].message.tool_calls
    assert chat(oai, "get_weather now", tools=[WEATHER_TOOL], tool_choice="none").choices[0].message.tool_calls is None


def test_tool_result_gets_a_text_answer(oai):
    messages = [
        {"role": "user", "content": "Use get_weather for Paris"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ]
    r = oai.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.content


def test_streamed_tool_call_arguments_assemble(oai):
    chunks = list(chat(oai, "call get_weather", tools=[WEATHER_TOOL], stream=True))
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or "" for c in chunks if c.choices[0].delta.tool_calls)
    assert set(json.loads(args)) == {"city", "unit", "days"} and chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_modes_return_valid_json(oai):
    r = chat(oai, "Give me JSON", response_format={"type": "json_object"})
    assert isinstance(json.loads(r.choices[0].message.content), dict)
    schema = {"type": "object", "properties": {"title": {"type": "string"}, "score": {"type": "number"},
              "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["title", "score", "tags"]}
    r = chat(oai, "Rate this", response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}})
    value = json.loads(r.choices[0].message.content)
    assert set(value) == {"title", "score", "tags"} and isinstance(value["tags"], list)
    assert r.usage.completion_tokens == counter("gpt-4o-mini").count(r.choices[0].message.content)


def test_implicit_prompt_cache_reports_the_shared_prefix_in_128_steps(srv):
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-cache-test", max_retries=0)
    system = {"role": "system", "content": LONG_PREFIX}
    prefix = counter("gpt-4.1").count(LONG_PREFIX)
    assert 1400 < prefix < 1700
    first = client.chat.completions.create(model="gpt-4.1", messages=[system, {"role": "user", "content": "Question one"}])
    second = client.chat.completions.create(model="gpt-4.1", messages=[system, {"role": "user", "content": "Another question"}])
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert cached % 128 == 0 and 1024 <= cached <= prefix and prefix - cached < 128 + 8
    assert second.usage.prompt_tokens == counter("gpt-4.1").count_messages(second_messages := [system, {"role": "user", "content": "Another question"}])
    assert second_messages  # the cache is per key and model:
    other = openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-other", max_retries=0)
    assert other.chat.completions.create(model="gpt-4.1", messages=[system]).usage.prompt_tokens_details.cached_tokens == 0


def test_implicit_cache_expires_after_its_ttl():
    clock = FakeClock()
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0), clock=clock)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        messages = [{"role": "system", "content": LONG_PREFIX}, {"role": "user", "content": "q"}]

        def cached():
            return client.chat.completions.create(model="gpt-4o", messages=messages).usage.prompt_tokens_details.cached_tokens

        assert cached() == 0
        clock.advance(299)
        assert cached() > 0  # and the read refreshed it
        clock.advance(299)
        assert cached() > 0
        clock.advance(301)
        assert cached() == 0


def test_embeddings_are_deterministic_unit_vectors(oai):
    r = oai.embeddings.create(model="text-embedding-3-small", input=["cost report for march", "cost report for april", "zebra"])
    a, b, c = (d.embedding for d in r.data)
    assert len(a) == 1536 and math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    cos = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert cos(a, b) > 0.5 > cos(a, c)
    again = oai.embeddings.create(model="text-embedding-3-small", input="cost report for march", dimensions=256)
    assert len(again.data[0].embedding) == 256
    assert r.usage.prompt_tokens == r.usage.total_tokens == sum(counter("text-embedding-3-small").count(t) for t in
                                                                ["cost report for march", "cost report for april", "zebra"])
    assert oai.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3]]).usage.prompt_tokens == 3


def test_models_list(oai):
    assert "gpt-4o-mini" in {m.id for m in oai.models.list()}


# -- Anthropic ----------------------------------------------------------------------------------


def test_anthropic_message_usage_and_shape(claude):
    m = claude.messages.create(model="claude-sonnet-4", max_tokens=500, system="Be brief.",
                               messages=[{"role": "user", "content": "What is FinOps?"}])
    assert m.id.startswith("msg_01") and m.type == "message" and m.stop_reason == "end_turn"
    assert m.usage.output_tokens == counter("claude-sonnet-4").count(m.content[0].text) > 0
    assert m.usage.cache_read_input_tokens == 0 and m.usage.cache_creation_input_tokens == 0
    counted = claude.messages.count_tokens(model="claude-sonnet-4", system="Be brief.",
                                           messages=[{"role": "user", "content": "What is FinOps?"}])
    assert counted.input_tokens == m.usage.input_tokens > 0


def test_anthropic_requires_max_tokens(srv):
    status, body = post_json(srv.url + "/v1/messages", {"model": "claude-sonnet-4", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and body["type"] == "error"
    assert body["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}


def test_anthropic_max_tokens_stop_reason(claude):
    m = claude.messages.create(model="claude-haiku-4-5", max_tokens=12, messages=[{"role": "user", "content": "Write an essay"}])
    assert m.stop_reason == "max_tokens" and 0 < m.usage.output_tokens <= 12


def test_anthropic_stream_event_sequence(srv, claude):
    body = {"model": "claude-sonnet-4", "max_tokens": 300, "stream": True, "messages": [{"role": "user", "content": "Hello"}]}
    _, _, payload = post(srv.url + "/v1/messages", body, {"x-api-key": "x", "anthropic-version": "2023-06-01"})
    events = sse(payload)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    start, delta = events[0][1]["message"]["usage"], events[-2][1]
    assert start["output_tokens"] == 1 and "cache_read_input_tokens" in start and start["input_tokens"] > 0
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert delta["usage"]["output_tokens"] == counter("claude-sonnet-4").count(text)
    with claude.messages.stream(model="claude-sonnet-4", max_tokens=300, messages=[{"role": "user", "content": "Hello"}]) as s:
        final = s.get_final_message()
    assert final.content[0].text == text and final.usage.output_tokens == delta["usage"]["output_tokens"]


def test_anthropic_tool_use_streamed_and_not(claude):
    tool = {"name": "lookup_order", "description": "Find an order",
            "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}, "email": {"type": "string"}},
                             "required": ["order_id"]}}
    kw = {"model": "claude-sonnet-4", "max_tokens": 400, "tools": [tool],
          "messages": [{"role": "user", "content": "Please lookup_order for me"}]}
    m = claude.messages.create(**kw)
    assert m.stop_reason == "tool_use" and m.content[-1].type == "tool_use"
    assert m.content[-1].id.startswith("toolu_01") and set(m.content[-1].input) == {"order_id"}
    with claude.messages.stream(**kw) as s:
        final = s.get_final_message()
    assert final.content[-1].input == m.content[-1].input
    forced = claude.messages.create(**{**kw, "messages": [{"role": "user", "content": "hi"}]},
                                    tool_choice={"type": "tool", "name": "lookup_order"})
    assert forced.content[-1].name == "lookup_order"
    result = claude.messages.create(**{**kw, "messages": [
        kw["messages"][0], {"role": "assistant", "content": [m.content[-1].model_dump(exclude_none=True)]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": m.content[-1].id, "content": "shipped"}]}]})
    assert result.stop_reason == "end_turn" and result.content[0].type == "text"


def test_anthropic_thinking_is_billed_as_output(claude):
    m = claude.messages.create(model="claude-sonnet-4", max_tokens=3000, thinking={"type": "enabled", "budget_tokens": 1024},
                               messages=[{"role": "user", "content": "Solve step by step: 12 * 34"}])
    thinking, text = m.content[0], m.content[1]
    assert thinking.type == "thinking" and thinking.signature and text.type == "text"
    tok = counter("claude-sonnet-4")
    assert m.usage.output_tokens == tok.count(thinking.thinking) + tok.count(text.text)


def test_anthropic_cache_write_read_1h_split_and_ttl():
    clock = FakeClock()
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0), clock=clock)) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0)
        system = [
            {"type": "text", "text": LONG_PREFIX, "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "text", "text": LONG_PREFIX.replace("Rule", "Note"), "cache_control": {"type": "ephemeral"}},
        ]

        def usage(question="What changed?"):
            return client.messages.create(model="claude-sonnet-4", max_tokens=50, system=system,
                                          messages=[{"role": "user", "content": question}]).usage

        first = usage()
        total = first.input_tokens + first.cache_creation_input_tokens
        one_h, five_m = first.cache_creation.ephemeral_1h_input_tokens, first.cache_creation.ephemeral_5m_input_tokens
        assert one_h > 1024 and five_m > 1024 and first.cache_creation_input_tokens == one_h + five_m
        assert first.cache_read_input_tokens == 0 and 0 < first.input_tokens < 20
        clock.advance(60)
        second = usage("Something else?")
        assert second.cache_read_input_tokens == one_h + five_m and second.cache_creation_input_tokens == 0
        assert second.input_tokens + second.cache_read_input_tokens == total - first.input_tokens + second.input_tokens
        clock.advance(301)  # the 5 min part expired; the 1 h part is still there
        third = usage()
        assert third.cache_read_input_tokens == one_h
        assert third.cache_creation.ephemeral_5m_input_tokens == five_m and third.cache_creation.ephemeral_1h_input_tokens == 0
        clock.advance(3601)
        assert usage().cache_read_input_tokens == 0


def test_anthropic_prefix_below_minimum_is_not_cached(claude):
    system = [{"type": "text", "text": "Short system prompt.", "cache_control": {"type": "ephemeral"}}]
    u = claude.messages.create(model="claude-haiku-4-5", max_tokens=20, system=system,
                               messages=[{"role": "user", "content": "hi"}]).usage
    assert u.cache_creation_input_tokens == 0 and u.cache_read_input_tokens == 0


# -- Gemini -------------------------------------------------------------------------------------


def test_gemini_generate_content_usage(srv):
    body = {"contents": [{"role": "user", "parts": [{"text": "Explain budgets"}]}]}
    status, r = gemini(srv.url, "gemini-2.5-flash", body)
    meta, text = r["usageMetadata"], r["candidates"][0]["content"]["parts"][0]["text"]
    assert status == 200 and r["candidates"][0]["finishReason"] == "STOP"
    assert meta["candidatesTokenCount"] == counter("gemini-2.5-flash").count(text)
    assert meta["thoughtsTokenCount"] > 0
    assert meta["totalTokenCount"] == meta["promptTokenCount"] + meta["candidatesTokenCount"] + meta["thoughtsTokenCount"]
    _, plain = gemini(srv.url, "gemini-2.0-flash", body, query="?key=abc", key=None)
    assert "thoughtsTokenCount" not in plain["usageMetadata"]
    _, capped = gemini(srv.url, "gemini-2.0-flash", {**body, "generationConfig": {"maxOutputTokens": 5}})
    assert capped["candidates"][0]["finishReason"] == "MAX_TOKENS" and capped["usageMetadata"]["candidatesTokenCount"] <= 5


def test_gemini_stream_usage_is_cumulative_and_complete_at_the_end(srv):
    body = {"contents": [{"role": "user", "parts": [{"text": "Write a story"}]}]}
    _, _, payload = post(f"{srv.url}/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", body, {"x-goog-api-key": "k"})
    chunks = [data for _, data in sse(payload)]
    counts = [c["usageMetadata"]["candidatesTokenCount"] for c in chunks]
    assert len(chunks) > 3 and counts == sorted(counts)
    _, whole = gemini(srv.url, "gemini-2.5-pro", body)
    assert chunks[-1]["usageMetadata"] == whole["usageMetadata"] and chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == whole["candidates"][0]["content"]["parts"][0]["text"]


def test_gemini_function_call_and_implicit_cache(srv):
    tools = [{"functionDeclarations": [{"name": "get_weather", "parameters": {
        "type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}]
    _, r = gemini(srv.url, "gemini-2.0-flash", {"tools": tools, "contents": [{"role": "user", "parts": [{"text": "get_weather please"}]}]})
    assert set(r["candidates"][0]["content"]["parts"][0]["functionCall"]["args"]) == {"city"}
    body = {"systemInstruction": {"parts": [{"text": LONG_PREFIX}]}, "contents": [{"role": "user", "parts": [{"text": "q1"}]}]}
    _, first = gemini(srv.url, "gemini-2.0-flash", body, key="gem-cache")
    body["contents"][0]["parts"][0]["text"] = "another question"
    _, second = gemini(srv.url, "gemini-2.0-flash", body, key="gem-cache")
    assert "cachedContentTokenCount" not in first["usageMetadata"]
    assert 1024 <= second["usageMetadata"]["cachedContentTokenCount"] <= second["usageMetadata"]["promptTokenCount"]


def test_gemini_embeddings(srv):
    _, one = gemini(srv.url, "gemini-embedding-001", {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 8}, "embedContent")
    _, batch = gemini(srv.url, "text-embedding-004", {"requests": [{"content": {"parts": [{"text": "hello"}]}}]}, "batchEmbedContents")
    assert len(one["embedding"]["values"]) == 8 and len(batch["embeddings"][0]["values"]) == 768


# -- errors, keys, markers ----------------------------------------------------------------------


def test_markers_raise_each_sdks_exception(oai, claude, srv):
    with pytest.raises(openai.RateLimitError) as rate:
        chat(oai, "hello [[sim:error=429]]")
    assert rate.value.response.headers["retry-after"] == "1"
    assert rate.value.body["code"] == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError):
        chat(oai, "hello [[sim:error=500]]")
    with pytest.raises(openai.BadRequestError):
        chat(oai, "hello [[sim:error=400]]")
    with pytest.raises(anthropic.InternalServerError):
        claude.messages.create(model="claude-sonnet-4", max_tokens=10, messages=[{"role": "user", "content": "[[sim:error=503]]"}])
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model="claude-sonnet-4", max_tokens=10, messages=[{"role": "user", "content": "[[sim:error=429]]"}])
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    status, body = gemini(srv.url, "gemini-2.0-flash", {"contents": [{"parts": [{"text": "[[sim:error=429]]"}]}]})
    assert status == 429 and body["error"]["status"] == "RESOURCE_EXHAUSTED" and body["error"]["code"] == 429


def test_bad_json_unknown_path_in_each_shape(srv, oai):
    status, _, raw = post(srv.url + "/v1/chat/completions", None, raw=b"{not json")
    assert status == 400 and json.loads(raw)["error"]["type"] == "invalid_request_error"
    status, _, raw = post(srv.url + "/v1/messages", None, raw=b"{not json")
    assert status == 400 and json.loads(raw)["type"] == "error"
    status, _, raw = post(srv.url + "/v1beta/models/gemini-2.0-flash:generateContent", None, raw=b"[")
    assert status == 400 and json.loads(raw)["error"]["status"] == "INVALID_ARGUMENT"
    with pytest.raises(openai.NotFoundError):
        oai.post("/nowhere", cast_to=object, body={})


def test_require_key_answers_401():
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0, require_key=True))) as server:
        status, body = post_json(server.url + "/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
        status, body = gemini(server.url, "gemini-2.0-flash", {"contents": [{"parts": [{"text": "x"}]}]}, key=None)
        assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
        client = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0)
        assert client.messages.create(model="claude-sonnet-4", max_tokens=5, messages=[{"role": "user", "content": "x"}]).content


def test_delay_marker_sleeps_even_at_zero_latency(srv):
    fast = openai.OpenAI(base_url=srv.url + "/v1", api_key="k", max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        chat(fast, "slow please [[sim:delay=0.6]]")
    started = time.perf_counter()
    chat(fast.with_options(timeout=5), "slow please [[sim:delay=0.3]]")
    assert time.perf_counter() - started >= 0.3


def test_disconnect_marker_drops_the_connection(oai, claude):
    with pytest.raises(openai.APIConnectionError):
        chat(oai, "bye [[sim:disconnect]]")
    with pytest.raises(openai.APIConnectionError):
        list(chat(oai, "bye [[sim:disconnect]]", stream=True))
    stream = claude.messages.create(model="claude-sonnet-4", max_tokens=200, stream=True,
                                    messages=[{"role": "user", "content": "bye [[sim:disconnect]]"}])
    with pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)):  # the SDK lets the transport error through
        list(stream)


def test_random_errors_follow_the_configured_rates_deterministically():
    def statuses():
        config = SimConfig(latency_scale=0, seed=7, error_rate_429=0.3, error_rate_5xx=0.2)
        with BackgroundServer(create_simulator(config)) as server:
            out = []
            for _ in range(60):
                status, headers, _ = post(server.url + "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
                assert status != 429 or headers["retry-after"] == "1"
                out.append(status)
            return out

    first = statuses()
    assert first == statuses()
    assert 5 < first.count(429) < 30 and 2 < sum(s in (500, 503) for s in first) < 25 and first.count(200) > 15


def test_two_simulators_with_one_seed_answer_byte_for_byte_alike():
    requests = [
        ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "Summarize our costs"}]}),
        ("/v1/chat/completions", {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "Write code"}]}),
        ("/v1/messages", {"model": "claude-sonnet-4", "max_tokens": 400, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}),
        ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"parts": [{"text": "Translate to French: hello"}]}]}),
    ]

    def run(seed):
        with BackgroundServer(create_simulator(SimConfig(latency_scale=0, seed=seed), clock=FakeClock())) as server:
            return [post(server.url + path, body)[2] for path, body in requests]

    a, b, c = run(3), run(3), run(4)
    assert a == b and a != c


# -- wiring -------------------------------------------------------------------------------------


def test_latency_profile_is_scaled():
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0.2))) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        started = time.perf_counter()
        r = chat(client, "Hello [[sim:tokens=40]]", model="gpt-4o")
        elapsed = time.perf_counter() - started
    # gpt-4o: 0.45 s to the first token and 85 tokens/s, times 0.2
    assert r.usage.completion_tokens == 40 and 0.2 * (0.45 + 40 / 85) * 0.9 < elapsed < 1.0


def test_cli_exports_the_simulate_command():
    from costops.cli import main
    from costops.cli.simulate import COMMANDS

    assert [c.name for c in COMMANDS] == ["simulate"]
    result = CliRunner().invoke(main, ["simulate", "--help"])
    assert result.exit_code == 0 and "--error-rate-429" in result.output and "--latency-scale" in result.output and "--grading" in result.output


def test_public_api():
    import costops.providers.simulator as sim

    assert set(sim.__all__) == {"Grading", "Host", "SimConfig", "Simulator", "create_simulator", "item_key"}
    with pytest.raises(ValueError, match="error_rate_429"):
        SimConfig(error_rate_429=1.5)


def test_the_simulator_refuses_wrong_types_as_the_real_apis_do(simulator) -> None:
    from tests.sim_http import post_json

    status, body = post_json(f"{simulator.url}/v1/chat/completions",
                             {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "tools": -391588})
    assert status == 400 and "'tools'" in body["error"]["message"]
    status, body = post_json(f"{simulator.url}/v1/chat/completions",
                             {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "n": 56383})
    assert status == 400 and "<= 128" in body["error"]["message"]
    status, body = post_json(f"{simulator.url}/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 5,
                             "messages": [{"role": "user", "content": "hi"}], "stop_sequences": True},
                             {"x-api-key": "k", "anthropic-version": "2023-06-01"})
    assert status == 400 and body["type"] == "error"
