"""costops reconcile against the simulator's usage and cost report APIs: calls made through the
gateway with the SDKs, a bill skewed the ways real bills are (calls around the gateway, a model
the gateway cannot price, a price it does not know), each discrepancy found and explained."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from click.testing import CliRunner

from costops.billing.bills import parse_anthropic, parse_openai
from costops.billing.reconcile import Side, Tolerance, base_model, explain, reconcile
from costops.cli import main
from costops.pricing import PriceCatalog, overrides_from_litellm
from costops.providers.simulator import SimConfig, create_simulator
from costops.providers.simulator.billing import BillSkew
from costops.serving import BackgroundServer
from tests.clock import Clock
from tests.pinned import PINNED_PRICES

PRIVATE = "gpt-costops-private"  # priced by the provider, unknown to the gateway's prices


@pytest.fixture
def skewed_sim():
    prices = json.loads(PINNED_PRICES.read_text())
    prices[PRIVATE] = {"input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06, "litellm_provider": "openai"}
    catalog = PriceCatalog(overrides_from_litellm(prices), use_genai_prices=False)
    skew = BillSkew(bypass={"gpt-4o-mini": 3}, price_factor={"claude-haiku-4-5": Decimal("1.25")})
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0, bill_skew=skew), clock=Clock(),
                                           catalog=catalog)) as srv:
        yield srv


def drive(gw: Any) -> None:
    c = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=30)
    for i in range(2):
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"a{i} [[sim:tokens=30]]"}])
        c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"b{i} [[sim:tokens=20]]"}])
        c.chat.completions.create(model=PRIVATE, messages=[{"role": "user", "content": f"c{i} [[sim:tokens=40]]"}])
        anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0, timeout=30).messages.create(
            model="claude-haiku-4-5", max_tokens=60, messages=[{"role": "user", "content": f"d{i} [[sim:tokens=25]]"}])


def run(db: str, sim: Any, provider: str, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(main, ["reconcile", "--provider", provider, "--db", db, "--since", "2026-11-20",
                                       "--until", "2026-11-30", "--base-url", sim.url, "--admin-key", "sk-admin-sim",
                                       "--tolerance-usd", "0.000001", "--json", *extra])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, [json.loads(line) for line in result.output.splitlines()]


def test_each_injected_discrepancy_is_found_and_explained(pinned_gateway, skewed_sim, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/ledger.db"
    gw = pinned_gateway("", db=db, env={"OPENAI_BASE_URL": f"{skewed_sim.url}/v1", "ANTHROPIC_BASE_URL": skewed_sim.url})
    drive(gw)
    rows = gw.records()
    assert sum(not r.priced for r in rows) == 2  # the private model: recorded unpriced

    code, found = run(db, skewed_sim, "openai")
    by_model = {f["model"]: f for f in found}
    assert code == 1 and set(by_model) == {"gpt-4o-mini", "gpt-4o", PRIVATE}
    assert {f["day"] for f in found} == {"2026-11-25"}
    assert by_model["gpt-4o"]["ok"] and by_model["gpt-4o"]["cause"] is None  # no skew: the two sides agree
    observed = sum(r.cost.total for r in rows if r.model == "gpt-4o")
    assert Decimal(by_model["gpt-4o"]["observed_usd"]) == observed
    assert abs(Decimal(by_model["gpt-4o"]["billed_usd"]) - observed) < Decimal("0.0000001")

    bypass = by_model["gpt-4o-mini"]
    assert not bypass["ok"] and bypass["cause"] == "bypassed"
    assert bypass["billed_requests"] == 5 and bypass["observed_requests"] == 2
    assert "3 more request(s)" in bypass["explanation"]
    assert Decimal(bypass["billed_usd"]) > 2 * Decimal(bypass["observed_usd"])

    unpriced = by_model[PRIVATE]
    assert not unpriced["ok"] and unpriced["cause"] == "unpriced" and unpriced["observed_unpriced"] == 2
    assert unpriced["billed_tokens"] == unpriced["observed_tokens"] and Decimal(unpriced["observed_usd"]) == 0
    assert "costops reprice" in unpriced["explanation"]

    code, found = run(db, skewed_sim, "anthropic")
    assert code == 1 and len(found) == 1
    price = found[0]
    assert price["model"] == "claude-haiku-4-5" and price["cause"] == "price_change"
    assert price["billed_tokens"] == price["observed_tokens"]
    assert Decimal(price["billed_usd"]) / Decimal(price["observed_usd"]) == pytest.approx(Decimal("1.25"), rel=Decimal("1e-6"))
    assert "1.250 x" in price["explanation"]


def test_a_saved_bill_reads_like_a_live_one_and_bad_input_is_explained(pinned_gateway, skewed_sim, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/ledger.db"
    gw = pinned_gateway("", db=db, env={"OPENAI_BASE_URL": f"{skewed_sim.url}/v1", "ANTHROPIC_BASE_URL": skewed_sim.url})
    drive(gw)
    gw.records()
    saved = tmp_path / "bill.json"
    _, live = run(db, skewed_sim, "openai", "--save-bill", str(saved))
    _, again = run(db, skewed_sim, "openai", "--bill", str(saved))
    assert again == live
    _, elsewhere = run(db, skewed_sim, "openai", "--bill", str(saved), "--deployment", "azure")
    assert {f["cause"] for f in elsewhere} == {"bypassed"}  # no call went through "azure": all billed, none seen
    runner = CliRunner()
    result = runner.invoke(main, ["reconcile", "--provider", "openai", "--db", db, "--base-url", skewed_sim.url],
                           env={"OPENAI_ADMIN_KEY": ""})
    assert result.exit_code == 2 and "OPENAI_ADMIN_KEY" in result.output
    (tmp_path / "junk.json").write_text('{"usage": [{"data": [{"start_time": "x"}]}]}')
    result = runner.invoke(main, ["reconcile", "--provider", "openai", "--db", db, "--bill", str(tmp_path / "junk.json")])
    assert result.exit_code == 1 and "could not be read" in result.output
    result = runner.invoke(main, ["reconcile", "--provider", "openai", "--db", db, "--bill", str(saved),
                                  "--tolerance-pct", "-3"])
    assert result.exit_code == 2 and "at least 0" in result.output


def test_parsers_follow_the_public_shapes() -> None:
    openai_lines = parse_openai(
        [{"data": [{"start_time": 1764028800, "results": [{"model": "gpt-4o-mini-2024-07-18", "input_tokens": 100,
                                                          "input_cached_tokens": 40, "output_tokens": 20,
                                                          "num_model_requests": 3}]}]}],
        [{"data": [{"start_time": 1764028800, "results": [
            {"amount": {"value": Decimal("0.0012"), "currency": "usd"}, "line_item": "gpt-4o-mini-2024-07-18, input"},
            {"amount": {"value": Decimal("0.0030"), "currency": "usd"}, "line_item": "gpt-4o-mini-2024-07-18, output"}]}]}],
    )
    assert [(x.day, x.model, x.tokens, x.requests, x.cost) for x in openai_lines] == [
        ("2025-11-25", "gpt-4o-mini-2024-07-18", 120, 3, Decimal("0.0042"))]
    anthropic_lines = parse_anthropic(
        [{"data": [{"starting_at": "2025-11-25T00:00:00Z", "results": [
            {"model": "claude-haiku-4-5", "uncached_input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7,
             "cache_creation": {"ephemeral_5m_input_tokens": 2, "ephemeral_1h_input_tokens": 1}}]}]}],
        [{"data": [{"starting_at": "2025-11-25T00:00:00Z", "results": [
            {"model": "claude-haiku-4-5", "amount": "123.45", "currency": "USD", "token_type": "output_tokens"}]}]}],
    )
    assert [(x.day, x.tokens, x.requests, x.cost) for x in anthropic_lines] == [
        ("2025-11-25", 25, None, Decimal("1.2345"))]  # the cost report's amount is in cents
    assert base_model("gpt-4o-mini-2024-07-18") == "gpt-4o-mini" and base_model("claude-3-5-haiku-20241022") == "claude-3-5-haiku"


def test_causes_from_the_two_sides() -> None:
    seen = Side(Decimal("1.00"), 1000, 10)
    assert explain(Side(Decimal("1.50"), 1500, 15), seen, True, True)[0] == "bypassed"
    assert explain(Side(Decimal("1.50"), 1000, 10), seen, True, True)[0] == "price_change"
    assert explain(Side(Decimal("1.50"), 1000, 10), Side(Decimal("1.00"), 1000, 10, unpriced=2), True, True)[0] == "unpriced"
    assert explain(Side(Decimal("0.50"), 500, 5), seen, True, True)[0] == "not_billed"
    assert explain(Side(Decimal("0.50"), 500), Side(), False, True)[0] == "bypassed"
    findings = reconcile({("2025-11-25", "m"): Side(Decimal("1.005"), 1000)}, {("2025-11-25", "m"): seen},
                         Tolerance(Decimal("0.001"), Decimal("1")))
    assert findings[0].ok and findings[0].difference == Decimal("0.005")  # 0.5 %: within 1 %
