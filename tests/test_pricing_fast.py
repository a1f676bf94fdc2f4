"""The request path's pricing shortcuts give exactly what the plain Decimal math gives: calls
priced at their own timestamp (no clock read), zero kinds skipped, an integer estimate where a
table allows it, and a cost's nanos rounded once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

import costops.pricing.table as table_mod
from costops.config import load_config
from costops.ledger.journal import decode, encode
from costops.ledger.record import UsageRecord
from costops.money import to_nanos
from costops.pipeline.attempt import Settler
from costops.pricing import PriceCatalog, PriceOverride, PriceTable, Rate
from costops.pricing.quote import Pricer, Tables
from costops.pricing.table import CostBreakdown
from costops.usage import Usage

D = Decimal
TS_2024 = datetime(2024, 3, 5, 23, 59, tzinfo=UTC).timestamp()


class Recording(PriceCatalog):
    """A catalog that prices every model at 1 / 2 USD per MTok and remembers when it was asked."""

    def __init__(self) -> None:
        super().__init__(use_genai_prices=False)
        self.asked: list[datetime] = []

    def lookup(self, model, provider, *, service_tier=None, at=None):  # type: ignore[override]
        self.asked.append(at)
        return PriceTable(Rate(D(1)), Rate(D(2)), source="test")


def test_a_call_is_priced_at_its_own_timestamp_not_the_clock() -> None:
    catalog = Recording()
    pricer = Pricer(catalog)
    q = pricer.quote(None, "m", Usage(input_tokens=10), at=TS_2024)
    assert q.priced and catalog.asked == [datetime(2024, 3, 5, 23, 59, tzinfo=UTC)]
    pricer.quote(None, "m", Usage(input_tokens=10), at=TS_2024 + 30)  # same UTC day: tables reused
    assert len(catalog.asked) == 1
    pricer.quote(None, "m", Usage(input_tokens=10), at=TS_2024 + 120)  # past midnight UTC: the next day's
    assert catalog.asked[-1].date() == datetime(2024, 3, 6, tzinfo=UTC).date()


def test_the_settler_prices_a_live_call_at_record_ts_as_reprice_does(tmp_path) -> None:
    """issue 9: a live row and a repriced row use the same moment's prices."""
    path = tmp_path / "c.yaml"
    path.write_text("{}\n")
    catalog = Recording()
    settle = Settler(load_config(path, env={"OPENAI_API_KEY": "sk"}), Pricer(catalog))
    record = UsageRecord(request_id="r", ts=TS_2024, endpoint="chat.completions", model_requested="m")
    record.model = "m"
    settle(record, Usage(input_tokens=1_000, output_tokens=10))
    assert catalog.asked == [datetime.fromtimestamp(TS_2024, UTC)]
    assert record.cost.total == D("0.00102")


rates = st.decimals(min_value=0, max_value=200, places=4, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=3_000_000)
tiers = st.lists(st.tuples(st.integers(1, 400_000), rates), max_size=2).map(lambda t: tuple(sorted(t)))


def reference_cost(table: PriceTable, u: Usage) -> CostBreakdown:
    """The cost as it was computed before the shortcuts: every kind multiplied."""
    n, M = u.prompt_tokens, D(1_000_000)
    read, w5 = table.cache_read or table.input, table.cache_write_5m or table.input
    w1 = table.cache_write_1h or w5
    return CostBreakdown(u.input_tokens * table.input.at(n) / M, u.cache_read_tokens * read.at(n) / M,
                         (u.cache_write_5m_tokens * w5.at(n) + u.cache_write_1h_tokens * w1.at(n)) / M,
                         u.output_tokens * table.output.at(n) / M)


@given(rates, rates, tiers, counts, counts, counts, counts, counts)
def test_skipping_zero_kinds_changes_no_cost(ri, ro, ti, ni, no, nr, nw, nw1) -> None:
    table = PriceTable(Rate(ri, ti), Rate(ro), Rate(ri / 10), None, Rate(ro))
    u = Usage(ni, nr, nw, nw1, no)
    cost, ref = table.cost(u), reference_cost(table, u)
    assert cost == ref and cost.total == ref.total and cost.nanos() == ref.nanos()


@given(rates, rates, st.booleans(), counts, counts)
def test_the_integer_estimate_equals_the_rounded_decimal_cost(ri, ro, tiered, ni, no) -> None:
    table = PriceTable(Rate(ri, ((100_000, ri * 2),) if tiered else ()), Rate(ro))
    tables = Tables(table, table, "test")
    exact = to_nanos(table.cost(Usage(input_tokens=ni, output_tokens=no)).total)
    assert tables.estimate_nanos(ni, no) == exact


def test_integer_rates_only_where_they_are_exact_and_untiered() -> None:
    assert PriceTable(Rate(D("0.15")), Rate(D("0.6"))).integer_rates() == (150, 600)
    assert PriceTable(Rate(D("0.0375")), Rate(D("0.6"))).integer_rates() is None  # 37.5 nanos a token
    assert PriceTable(Rate(D(3), ((200_000, D(6)),)), Rate(D(15))).integer_rates() is None
    discounted = PriceTable(Rate(D("0.15")), Rate(D("0.6"))).scaled(D("0.9"))
    assert Tables(discounted, discounted, "t").rates == (135, 540)


def test_the_estimate_comes_from_the_effective_table() -> None:
    catalog = PriceCatalog([PriceOverride("m", PriceTable(Rate(D("0.15")), Rate(D("0.6"))))],
                           use_genai_prices=False)
    pricer = Pricer(catalog)
    assert pricer.estimate_nanos(None, "m", 1_000, 100, at=TS_2024) == 150_000 + 60_000
    assert pricer.estimate_nanos(None, "unknown", 1_000, 100, at=TS_2024) is None


def test_a_costs_nanos_are_rounded_once_and_each_caller_gets_its_own_dict(monkeypatch) -> None:
    calls = []
    real = table_mod.to_nanos
    monkeypatch.setattr(table_mod, "to_nanos", lambda usd: calls.append(usd) or real(usd))
    cost = CostBreakdown(D("0.0000015"), D(0), D("0.00000025"), D("0.000004"))
    first = cost.nanos()
    first["extra"] = 1
    second = cost.nanos()
    assert len(calls) == 4
    assert second == {"input_cost_nanos": 1500, "cache_read_cost_nanos": 0, "cache_write_cost_nanos": 250,
                      "output_cost_nanos": 4000, "cost_nanos": 5750}
    assert cost.total_nanos() == 5750 and len(calls) == 4
    assert cost == CostBreakdown(D("0.0000015"), D(0), D("0.00000025"), D("0.000004"))  # the memo is not compared


def test_a_record_with_computed_nanos_still_round_trips_through_the_journal_line() -> None:
    record = UsageRecord(request_id="r", ts=TS_2024, endpoint="chat.completions", model_requested="m")
    record.cost = CostBreakdown(D("0.0000015"), D(0), D(0), D("0.000004"))
    record.cost.nanos()
    back = decode(encode(record))
    assert back.cost == record.cost and back.cost.nanos() == record.cost.nanos()


def test_the_ledger_row_takes_the_costs_rounded_parts() -> None:
    from costops.ledger.sql_store import STORE_COLUMNS, store_values

    record = UsageRecord(request_id="r", ts=TS_2024, endpoint="chat.completions", model_requested="m")
    record.cost = CostBreakdown(D("0.0000015"), D("0.00000025"), D(0), D("0.000004"))
    record.list_cost = CostBreakdown(D("0.000003"), D(0), D(0), D("0.000008"))
    row = dict(zip(STORE_COLUMNS, store_values(record), strict=True))
    assert record.cost.parts_nanos() == (1500, 250, 0, 4000)
    assert (row["cost_nanos"], row["input_cost_nanos"], row["list_cost_nanos"], row["list_input_cost_nanos"]) == (
        5750, 1500, 11000, 3000)
    assert row["avoided_cost_nanos"] == 0


@given(rates, rates, tiers, st.sampled_from([0, 1, 7, 128_000, 3_000_000]), counts)
def test_plain_input_and_output_priced_the_short_way_are_the_same_decimals(ri, ro, ti, ni, no) -> None:
    """Usage with no cache tokens at untiered rates skips the rate lookups; each part is the same
    Decimal as before, down to its exponent (the journal line writes its string)."""
    for table in (PriceTable(Rate(ri), Rate(ro)), PriceTable(Rate(ri, ti), Rate(ro)), PriceTable(Rate(ri), Rate(ro, ti))):
        u = Usage(input_tokens=ni, output_tokens=no)
        cost, ref = table.cost(u), reference_cost(table, u)
        ref = CostBreakdown(*(part if count else D(0) for part, count in
                              zip((ref.input, ref.cache_read, ref.cache_write, ref.output), (ni, 0, 0, no), strict=True)))
        assert [str(p) for p in (cost.input, cost.cache_read, cost.cache_write, cost.output)] == [
            str(p) for p in (ref.input, ref.cache_read, ref.cache_write, ref.output)]
        assert cost.nanos() == ref.nanos()
