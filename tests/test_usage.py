"""Normalizing each provider's counters into non-overlapping token kinds."""

from __future__ import annotations

import pytest

from costops.usage import Usage


def test_openai_prompt_tokens_include_cached_ones() -> None:
    u = Usage.from_openai({"prompt_tokens": 1500, "completion_tokens": 300,
                           "prompt_tokens_details": {"cached_tokens": 1024},
                           "completion_tokens_details": {"reasoning_tokens": 200}})
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (476, 1024, 300, 200)
    assert u.to_openai()["prompt_tokens"] == 1500


def test_anthropic_input_tokens_exclude_cache_reads_and_writes() -> None:
    u = Usage.from_anthropic({"input_tokens": 20, "cache_read_input_tokens": 3000, "cache_creation_input_tokens": 1500,
                              "output_tokens": 40})
    assert (u.input_tokens, u.cache_read_tokens, u.cache_write_5m_tokens, u.output_tokens) == (20, 3000, 1500, 40)
    assert u.prompt_tokens == 4520
    # and back as OpenAI's counters: cached reads inside prompt_tokens
    assert u.to_openai()["prompt_tokens"] == 4520 and u.to_openai()["prompt_tokens_details"]["cached_tokens"] == 3000


def test_anthropic_ttl_split_of_cache_writes() -> None:
    u = Usage.from_anthropic({"input_tokens": 1, "cache_creation_input_tokens": 3000,
                              "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
                              "output_tokens": 1})
    assert (u.cache_write_5m_tokens, u.cache_write_1h_tokens) == (1000, 2000)


def test_gemini_thoughts_are_output_and_cached_tokens_are_inside_the_prompt() -> None:
    u = Usage.from_gemini({"promptTokenCount": 2000, "cachedContentTokenCount": 1500, "candidatesTokenCount": 100,
                           "thoughtsTokenCount": 400, "totalTokenCount": 2500})
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (500, 1500, 500, 400)


@pytest.mark.parametrize("raw", [None, {}, {"prompt_tokens": None}, {"prompt_tokens": "x"}, {"prompt_tokens": -5}])
def test_missing_or_junk_counters_are_zero_not_errors(raw) -> None:
    assert Usage.from_openai(raw) == Usage()


def test_usage_rejects_negative_or_inconsistent_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Usage(input_tokens=-1)
    with pytest.raises(ValueError, match="reasoning_tokens"):
        Usage(output_tokens=1, reasoning_tokens=2)


def test_gemini_tool_use_prompt_tokens_are_input_as_genai_prices_counts_them() -> None:
    """Gemini reports the prompt of its built-in tools (search, code execution) apart from
    ``promptTokenCount``; genai-prices bills it as input, and so must we."""
    import genai_prices

    meta = {"promptTokenCount": 2000, "cachedContentTokenCount": 1500, "toolUsePromptTokenCount": 300,
            "candidatesTokenCount": 100, "thoughtsTokenCount": 400, "totalTokenCount": 2800}
    u = Usage.from_gemini(meta)
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (800, 1500, 500, 400)
    theirs = genai_prices.extract_usage({"modelVersion": "gemini-2.5-flash", "usageMetadata": meta}, provider_id="google").usage
    assert u.prompt_tokens == theirs.input_tokens and u.cache_read_tokens == theirs.cache_read_tokens
    assert u.output_tokens == theirs.output_tokens
    assert u.total_tokens == meta["totalTokenCount"]


def test_claude_usage_told_in_openai_counters_keeps_every_kind() -> None:
    """An OpenAI-format client of a Claude model gets prompt_tokens (cache reads and writes inside,
    as OpenAI counts) and the details of both; read back, nothing is lost."""
    billed = {"input_tokens": 20, "cache_read_input_tokens": 3000, "cache_creation_input_tokens": 1500,
              "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1000}, "output_tokens": 40}
    u = Usage.from_anthropic(billed)
    wire = u.to_openai()
    details = wire["prompt_tokens_details"]
    assert wire["prompt_tokens"] == 4520 and wire["total_tokens"] == 4560
    assert (details["cached_tokens"], details["cache_write_tokens"], details["cache_write_1h_tokens"]) == (3000, 1500, 1000)
    assert wire["prompt_tokens"] - details["cached_tokens"] - details["cache_write_tokens"] == billed["input_tokens"]
    assert Usage.from_openai(wire) == u
    # a server's junk (more writes than the prompt holds) never makes a negative count
    odd = Usage.from_openai({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 50}})
    assert (odd.input_tokens, odd.cache_read_tokens, odd.cache_write_5m_tokens) == (0, 4, 6)


@pytest.mark.parametrize("field", ["input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                                   "output_tokens", "reasoning_tokens"])
@pytest.mark.parametrize("bad", [-1, 1.5, "3", None])
def test_every_counter_is_checked_by_name(field, bad) -> None:
    with pytest.raises(ValueError, match=f"usage.{field} must be a non-negative integer"):
        Usage(**{"output_tokens": 10, field: bad})


def test_usages_add_kind_by_kind() -> None:
    a = Usage(1, 2, 3, 4, 50, 6)
    b = Usage(10, 20, 30, 40, 500, 60)
    assert a + b == Usage(11, 22, 33, 44, 550, 66)
    assert Usage(True, output_tokens=2) == Usage(1, output_tokens=2)  # a bool is an int, as before


def test_counted_is_inequality_with_no_tokens() -> None:
    from costops.usage import NO_TOKENS, counted

    cases = [Usage(), Usage(input_tokens=1), Usage(cache_read_tokens=2), Usage(cache_write_5m_tokens=3),
             Usage(cache_write_1h_tokens=4), Usage(output_tokens=5, reasoning_tokens=5), Usage(0, 0, 0, 0, 0, 0)]
    assert [counted(u) for u in cases] == [u != NO_TOKENS for u in cases] == [False, True, True, True, True, True, False]


def test_every_negative_or_non_int_field_is_refused() -> None:
    import pytest

    for i in range(6):
        values = [0, 0, 0, 0, 0, 0]
        values[i] = -1
        with pytest.raises(ValueError):
            Usage(*values)
        values[i] = 1.0
        with pytest.raises(ValueError):
            Usage(*values)
    with pytest.raises(ValueError):
        Usage(output_tokens=1, reasoning_tokens=2)
    assert Usage(2**70, 1, 2, 3, 2**65, 2**64).output_tokens == 2**65  # big ints are ints


def test_from_openai_reads_every_shape_as_before() -> None:
    """The inlined reading of from_openai against the plain rule (key present wins, even as null;
    negatives, bools, floats and strings count as 0 or their int; details cap at their total)."""
    cases = [
        ({"prompt_tokens": 10, "completion_tokens": 5}, Usage(10, 0, 0, 0, 5, 0)),
        ({"prompt_tokens": None, "input_tokens": 7, "completion_tokens": 5}, Usage(0, 0, 0, 0, 5, 0)),
        ({"input_tokens": 7, "output_tokens": 3}, Usage(7, 0, 0, 0, 3, 0)),
        ({"prompt_tokens": -4, "completion_tokens": True}, Usage()),
        ({"prompt_tokens": "12", "completion_tokens": 2.0}, Usage(12, 0, 0, 0, 2, 0)),
        ({"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 9},
          "completion_tokens_details": {"reasoning_tokens": 9}}, Usage(0, 4, 6, 0, 5, 5)),
        ({"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 0},
          "completion_tokens_details": {}}, Usage(10, 0, 0, 0, 5, 0)),
        ({"prompt_tokens": 10, "completion_tokens": 5, "input_tokens_details": {"cached_tokens": 3,
          "cache_write_tokens": 5, "cache_write_1h_tokens": 2}}, Usage(2, 3, 3, 2, 5, 0)),
    ]
    for given, expected in cases:
        assert Usage.from_openai(given) == expected, given


def test_the_one_pass_openai_reading_equals_the_general_rule() -> None:
    """from_openai reads plain-int usage in one pass and builds the Usage without re-checking it;
    over a grid of counts and details (negatives, bools, nulls, floats, over-cap details) it gives
    what the general reading (_int on every counter, each detail capped at its total) gives, and
    the Usage it builds is an ordinary one: equal, hashed, frozen, checked like any other."""
    import dataclasses
    import itertools

    from costops.usage import _int

    def general(u: dict) -> Usage:
        prompt = _int(u.get("prompt_tokens", u.get("input_tokens")))
        completion = _int(u.get("completion_tokens", u.get("output_tokens")))
        pdet = u.get("prompt_tokens_details") or u.get("input_tokens_details") or {}
        cdet = u.get("completion_tokens_details") or u.get("output_tokens_details") or {}
        cached = min(_int(pdet.get("cached_tokens")), prompt)
        written = min(_int(pdet.get("cache_write_tokens")), prompt - cached)
        w1h = min(_int(pdet.get("cache_write_1h_tokens")), written)
        reasoning = min(_int(cdet.get("reasoning_tokens")), completion)
        return Usage(prompt - cached - written, cached, written - w1h, w1h, completion, reasoning)

    missing = object()
    counts = (0, 7, 40, -3, True, None, 5.0, missing)
    details = (0, 3, 9, 50, -1, False, None, missing)
    checked = 0
    for prompt, completion in itertools.product(counts, (0, 12, -2, None, missing)):
        for cached, written, w1h, reasoning in itertools.product(details, (0, 6, 45, None, missing), (0, 2, 60, missing),
                                                                 (0, 4, 30, True, missing)):
            u: dict = {"total_tokens": 99}
            for name, value in (("prompt_tokens", prompt), ("completion_tokens", completion)):
                if value is not missing:
                    u[name] = value
            pdet = {k: v for k, v in (("cached_tokens", cached), ("cache_write_tokens", written),
                                      ("cache_write_1h_tokens", w1h)) if v is not missing}
            if pdet:
                u["prompt_tokens_details"] = pdet
            if reasoning is not missing:
                u["completion_tokens_details"] = {"reasoning_tokens": reasoning, "audio_tokens": 0}
            got, want = Usage.from_openai(u), general(u)
            assert got == want and hash(got) == hash(want), u
            assert [type(getattr(got, f.name)) for f in dataclasses.fields(Usage)] == [int] * 6, u
            checked += 1
    assert checked == 8 * 5 * 8 * 5 * 4 * 5
    got = Usage.from_openai({"prompt_tokens": 42, "completion_tokens": 38,
                             "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 8}})
    assert got == Usage(40, 2, 0, 0, 38, 8) and repr(got) == repr(Usage(40, 2, 0, 0, 38, 8))
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.input_tokens = 1  # type: ignore[misc]
    assert got + got == Usage(80, 4, 0, 0, 76, 16)
