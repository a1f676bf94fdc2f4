"""Prices and costs: exact Decimal math, token kinds apart, tiers, tiers of service, discounts.

Dollar figures come from the pinned snapshot (``tests/pinned.py``), so a genai-prices release
cannot break them; ``test_our_prices_match_the_installed_genai_prices`` checks our reading of the
installed genai-prices data (cache kinds, long-context tiers, tiers of service) against
genai-prices' own ``calc_price``, whatever its prices are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import calc_price
from genai_prices import types as gp
from hypothesis import given
from hypothesis import strategies as st

from costops.config import Deployment, load_config
from costops.money import from_nanos, to_nanos, usd_str
from costops.pricing import (
    PriceCatalog,
    PriceOverride,
    PriceTable,
    Rate,
    overrides_from_litellm,
    table_from_config,
)
from costops.pricing.catalog import tier_context
from costops.pricing.quote import quote
from costops.usage import Usage
from tests.pinned import pinned_catalog

D = Decimal
catalog = PriceCatalog()  # the installed genai-prices data
pinned = pinned_catalog()
AT = datetime(2026, 11, 25, tzinfo=UTC)


def genai_usage(usage: Usage) -> gp.Usage:
    """Our usage in genai-prices' terms: its input counts every prompt token, cached or not."""
    kw = {"input_tokens": usage.prompt_tokens, "cache_read_tokens": usage.cache_read_tokens,
          "output_tokens": usage.output_tokens}
    if usage.cache_write_5m_tokens or usage.cache_write_1h_tokens:
        kw |= {"cache_write_tokens": usage.cache_write_5m_tokens + usage.cache_write_1h_tokens,
               "cache_write_5m_tokens": usage.cache_write_5m_tokens, "cache_write_1h_tokens": usage.cache_write_1h_tokens}
    return gp.Usage(**kw)


@pytest.mark.parametrize("provider, model", [
    ("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "gpt-5.4"), ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"), ("google", "gemini-2.5-pro"), ("google", "gemini-2.5-flash"),
])
def test_our_prices_match_the_installed_genai_prices(provider: str, model: str) -> None:
    usages = [
        Usage(input_tokens=1000, output_tokens=500),
        Usage(input_tokens=800, cache_read_tokens=200, output_tokens=500),
        Usage(input_tokens=100, cache_read_tokens=2000, cache_write_5m_tokens=1000, cache_write_1h_tokens=2000,
              output_tokens=50),
        Usage(input_tokens=280_001, cache_read_tokens=1000, output_tokens=1000),  # past every long-context tier
    ]
    costs = {}
    for tier in (None, "batch", "priority", "flex"):
        table = catalog.lookup(model, provider, service_tier=tier, at=AT)
        assert table is not None and table.source.startswith("genai-prices")
        for usage in usages:
            theirs = calc_price(genai_usage(usage), model, provider_id=provider, genai_request_timestamp=AT,
                                price_context=tier_context(tier)).total_price
            assert table.cost(usage).total == theirs, (tier, usage)
            costs[tier, usage] = theirs
    if provider == "openai":  # OpenAI's Batch API is always cheaper: the tier reaches the lookup
        assert costs["batch", usages[0]] < costs[None, usages[0]]


def test_gpt4o_cost_counts_cached_tokens_at_the_cache_rate() -> None:
    table = pinned.lookup("gpt-4o", "openai")
    # 1,000 prompt tokens of which 200 cached, 500 output: $2.50 / $1.25 / $10 per MTok
    usage = Usage.from_openai({"prompt_tokens": 1000, "completion_tokens": 500, "prompt_tokens_details": {"cached_tokens": 200}})
    cost = table.cost(usage)
    assert cost.input == D("0.002") and cost.cache_read == D("0.00025") and cost.output == D("0.005")
    assert cost.total == D("0.00725")


def test_anthropic_cache_writes_are_billed_at_the_write_premium_per_ttl() -> None:
    table = pinned.lookup("claude-sonnet-4-5", "anthropic")
    usage = Usage.from_anthropic(
        {"input_tokens": 100, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 3000,
         "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000}, "output_tokens": 50}
    )
    cost = table.cost(usage)
    # $3 input, $0.30 read, $3.75 5m write, $6 1h write, $15 output per MTok
    assert cost.input == D("0.0003")
    assert cost.cache_read == D("0.0006")
    assert cost.cache_write == D("0.00375") + D("0.012")
    assert cost.output == D("0.00075")


def test_long_context_tier_applies_to_every_token_once_the_prompt_passes_200k() -> None:
    table = pinned.lookup("claude-sonnet-4-5", "anthropic")
    below = table.cost(Usage(input_tokens=200_000, output_tokens=1000))
    above = table.cost(Usage(input_tokens=200_001, output_tokens=1000))
    assert below.input == D("0.6") and below.output == D("0.015")
    assert above.input == D("200001") * 6 / 1_000_000 and above.output == D("0.0225")


def test_a_configured_batch_discount_prices_the_batch_tier() -> None:
    table = table_from_config({"input": "2.5", "output": 10, "batch_discount": "0.5"}, where="prices[0]")
    cat = PriceCatalog([PriceOverride("gpt-4o", table)], use_genai_prices=False)
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cat.lookup("gpt-4o").cost(usage).total == D("12.5")
    assert cat.lookup("gpt-4o", service_tier="batch").cost(usage).total == D("6.25")


def test_unknown_model_is_unpriced_not_free() -> None:
    q = quote(catalog, None, "my-private-llama", Usage(input_tokens=10, output_tokens=10))
    assert not q.priced and q.source is None


def test_config_override_prices_a_private_model_and_wins_over_the_catalog() -> None:
    cat = PriceCatalog([PriceOverride("my-*", table_from_config({"input": "0.5", "output": 1.5}, where="prices[0]"))])
    table = cat.lookup("my-private-llama")
    assert table.cost(Usage(input_tokens=2_000_000, output_tokens=1_000_000)).total == D("2.5")
    assert table.source == "config"


def test_discount_and_custom_deployment_prices_change_effective_cost_only() -> None:
    deployment = Deployment(name="openai", kind="openai", base_url="http://x", discount_pct=D("20"))
    q = quote(pinned, deployment, "gpt-4o-mini", Usage(input_tokens=1_000_000, output_tokens=1_000_000))
    assert q.list_cost.total == D("0.75") and q.cost.total == D("0.6")
    assert "discount=20%" in q.source

    own = PriceOverride("llama-3-70b", table_from_config({"input": "0.1", "output": "0.1"}, where="x"))
    vllm = Deployment(name="vllm", kind="openai", base_url="http://x", price_provider="groq", prices=(own,))
    q = quote(catalog, vllm, "llama-3-70b", Usage(input_tokens=1_000_000, output_tokens=0))
    assert q.priced and q.cost.total == D("0.1")


def test_bad_price_config_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"prices\[0\]\.input: 'abc' is not a number"):
        table_from_config({"input": "abc", "output": 1}, where="prices[0]")
    with pytest.raises(ValueError, match=r"prices\[0\]: missing 'output'"):
        table_from_config({"input": 1}, where="prices[0]")
    with pytest.raises(ValueError, match="unknown price field"):
        table_from_config({"input": 1, "output": 1, "inptu": 2}, where="prices[0]")


def test_litellm_price_map_import_is_exact() -> None:
    overrides = overrides_from_litellm(
        {
            "sample_spec": {"input_cost_per_token": 0},
            "my-model": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
                         "cache_read_input_token_cost": 1.25e-06, "litellm_provider": "openai",
                         "input_cost_per_token_above_200k_tokens": 5e-06},
            "dall-e": {"output_cost_per_image": 0.04},
        }
    )
    assert [o.model for o in overrides] == ["my-model"]
    table = overrides[0].table
    assert table.input == Rate(D("2.5"), ((200_000, D("5")),)) and table.output.base == D("10")
    assert table.cache_read.base == D("1.25")


def test_price_history_is_looked_up_at_the_request_time() -> None:
    now = catalog.lookup("gpt-4o", "openai", at=datetime(2026, 1, 1, tzinfo=UTC))
    assert now is not None


def test_config_prices_section_loads(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("prices:\n  - model: private-1\n    input: 1\n    output: 2\n    cache_read: 0.1\n")
    config = load_config(path, env={})
    assert config.prices[0].table.cache_read.base == D("0.1")


# -- properties -----------------------------------------------------------------------------

rates = st.decimals(min_value=0, max_value=200, places=4, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=2_000_000)


@given(rates, rates, rates, rates, rates, counts, counts, counts, counts, counts)
def test_cost_is_exact_and_parts_sum_to_total(ri, ro, rr, rw, rw1, ni, no, nr, nw, nw1) -> None:
    table = PriceTable(Rate(ri), Rate(ro), Rate(rr), Rate(rw), Rate(rw1))
    usage = Usage(input_tokens=ni, output_tokens=no, cache_read_tokens=nr, cache_write_5m_tokens=nw, cache_write_1h_tokens=nw1)
    cost = table.cost(usage)
    M = D(1_000_000)
    assert cost.input == ni * ri / M
    assert cost.output == no * ro / M
    assert cost.cache_read == nr * rr / M
    assert cost.cache_write == (nw * rw + nw1 * rw1) / M
    assert cost.total == cost.input + cost.cache_read + cost.cache_write + cost.output
    nanos = cost.nanos()
    assert nanos["cost_nanos"] == sum(v for k, v in nanos.items() if k != "cost_nanos")
    # storage rounding is at most half a nano-dollar per part
    assert abs(from_nanos(nanos["cost_nanos"]) - cost.total) <= D("0.000000002")


@given(counts, counts, counts)
def test_cost_is_additive_over_usage(a, b, c) -> None:
    table = pinned.lookup("gpt-4o-mini", "openai")
    u1, u2 = Usage(input_tokens=a, output_tokens=b), Usage(input_tokens=c, cache_read_tokens=min(a, c))
    assert table.cost(u1 + u2).total == table.cost(u1).total + table.cost(u2).total


@given(st.decimals(min_value=0, max_value=10**6, places=9, allow_nan=False, allow_infinity=False))
def test_nanos_round_trip_and_decimal_strings(usd) -> None:
    assert from_nanos(to_nanos(usd)) == usd
    text = usd_str(usd)
    assert "E" not in text and D(text) == usd
