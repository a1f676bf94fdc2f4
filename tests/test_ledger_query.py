"""Aggregates computed by the database, on both backends: dimensions, filters, exact sums."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costops.ledger.query import DIMENSIONS, MEASURES, Filters
from costops.ledger.record import UsageRecord
from costops.ledger.store import LedgerStore
from costops.pricing import CostBreakdown
from costops.usage import Usage
from tests.ledger_fixtures import DAY, T0, ledger_fixture, make_record, pg_server_fixture, pg_url_fixture  # noqa: F401


def _traffic() -> list[UsageRecord]:
    return [
        make_record(1, model="gpt-4o", provider="openai", tenant="acme", team="t1", user="ann", key_id="k1", tags={"feature": "search", "env": "prod"}),
        make_record(2, model="gpt-4o", provider="openai", tenant="acme", team="t1", user="bob", key_id="k1", tags={"feature": "chat"}),
        make_record(3, ts=T0 + DAY + 5, model="claude-sonnet-4", provider="anthropic", deployment="anthropic", tenant="beta",
                    project="ops", endpoint="messages", tags={"feature": "search"}),
        make_record(4, ts=T0 + DAY + 6, model="claude-sonnet-4", provider="anthropic", status=429, error_type="rate_limit",
                    usage=Usage(), cost=CostBreakdown(), list_cost=CostBreakdown(), tags={}),
        make_record(5, ts=T0 + 2 * DAY, model="private-llm", provider="openai", priced=False, cost=CostBreakdown(),
                    list_cost=CostBreakdown(), tags={"feature": "chat"}, cache="exact", avoided_cost=Decimal("0.25")),
    ]


@pytest.fixture
def filled(ledger: LedgerStore) -> LedgerStore:
    ledger.write(_traffic())
    return ledger


def _by(store: LedgerStore, dim: str, filters: Filters | None = None) -> dict:
    return {row[dim]: row for row in store.aggregate([dim], filters or Filters())}


def test_totals_measures(filled: LedgerStore) -> None:
    t = filled.totals(Filters())
    assert set(t) == set(MEASURES)
    assert (t["requests"], t["errors"], t["unpriced"], t["cache_hits"]) == (5, 1, 1, 1)
    assert t["input_tokens"] == 101 + 102 + 103 + 105
    assert t["cost_nanos"] == 3 * 24_975
    assert t["list_cost_nanos"] == 3 * 27_750
    assert t["avoided_cost_nanos"] == 250_000_000
    assert t["avg_latency_ms"] == pytest.approx(103.0)
    assert all(isinstance(t[m], int) for m in MEASURES if m != "avg_latency_ms")


@pytest.mark.parametrize("dim", [d for d in DIMENSIONS])
def test_every_dimension_groups_and_sums_to_the_total(filled: LedgerStore, dim: str) -> None:
    rows = filled.aggregate([dim], Filters())
    assert sum(r["requests"] for r in rows) == 5
    assert sum(r["cost_nanos"] for r in rows) == filled.totals(Filters())["cost_nanos"]


def test_dimension_values(filled: LedgerStore) -> None:
    assert {k: v["requests"] for k, v in _by(filled, "model").items()} == {"gpt-4o": 2, "claude-sonnet-4": 2, "private-llm": 1}
    assert set(_by(filled, "provider")) == {"openai", "anthropic"}
    assert set(_by(filled, "user")) == {"ann", "bob", None}
    assert set(_by(filled, "key")) == {"k1", None}
    assert set(_by(filled, "status")) == {200, 429}
    assert _by(filled, "status")[429]["errors"] == 1
    assert set(_by(filled, "endpoint")) == {"chat.completions", "messages"}
    days = _by(filled, "day")
    assert {k: v["requests"] for k, v in days.items()} == {"2026-11-01": 2, "2026-11-02": 2, "2026-11-03": 1}


def test_group_by_tag_joins_without_duplicating_rows(filled: LedgerStore) -> None:
    by_feature = _by(filled, "tag:feature")
    assert {k: v["requests"] for k, v in by_feature.items()} == {"search": 2, "chat": 2, None: 1}
    assert by_feature["search"]["cost_nanos"] == 2 * 24_975
    two = filled.aggregate(["tag:feature", "tag:env"], Filters())
    assert sum(r["requests"] for r in two) == 5
    assert {(r["tag:feature"], r["tag:env"]) for r in two} == {("search", "prod"), ("chat", None), ("search", None), (None, None)}


def test_group_by_two_dimensions(filled: LedgerStore) -> None:
    rows = filled.aggregate(["provider", "day"], Filters())
    assert {(r["provider"], r["day"]): r["requests"] for r in rows} == {
        ("openai", "2026-11-01"): 2,
        ("anthropic", "2026-11-02"): 2,
        ("openai", "2026-11-03"): 1,
    }


def test_filters(filled: LedgerStore) -> None:
    def n(**kw) -> int:
        return filled.totals(Filters(**kw))["requests"]

    assert n(since=T0 + DAY) == 3
    assert n(until=T0 + DAY) == 2
    assert n(since=T0 + DAY, until=T0 + 2 * DAY) == 2
    assert n(tenant="beta") == 1
    assert n(project="ops") == 1
    assert n(model="gpt-4o") == 2
    assert n(provider="anthropic") == 2
    assert n(tags={"feature": "search"}) == 2
    assert n(tags={"feature": "search", "env": "prod"}) == 1
    assert n(tags={"feature": "nope"}) == 0
    assert n(priced=False) == 1
    assert n(model="gpt-4o", tags={"feature": "chat"}) == 1
    assert filled.tag_keys(Filters()) == ["env", "feature"]
    assert filled.tag_keys(Filters(tenant="beta")) == ["feature"]


def test_unknown_dimension_is_a_clear_error(filled: LedgerStore) -> None:
    with pytest.raises(ValueError, match="tag:<name>"):
        filled.aggregate(["colour"], Filters())


def test_big_money_sums_stay_exact(ledger: LedgerStore) -> None:
    """Past 2**53 nanos (~$9M) a float sum would round; integer sums must not."""
    big = CostBreakdown(output=Decimal("4000000.000000001"))
    ledger.write([make_record(i, cost=big, list_cost=big) for i in range(3)])
    t = ledger.totals(Filters())
    assert t["cost_nanos"] == 3 * 4_000_000_000_000_001
    assert type(t["cost_nanos"]) is int


# -- properties -------------------------------------------------------------------------------

_money = st.decimals(min_value=0, max_value=Decimal("3"), places=12, allow_nan=False, allow_infinity=False)
_costs = st.builds(CostBreakdown, _money, _money, _money, _money)


@st.composite
def _records(draw: st.DrawFn, tenant: str) -> list[UsageRecord]:
    n = draw(st.integers(1, 25))
    out = []
    for i in range(n):
        out.append(
            make_record(
                i,
                request_id=f"{tenant}-{i}",
                tenant=tenant,
                ts=T0 + draw(st.floats(0, 5 * DAY)),
                model=draw(st.sampled_from(["a", "b", "c"])),
                status=draw(st.sampled_from([200, 200, 400, 500])),
                priced=draw(st.booleans()),
                tags=draw(st.dictionaries(st.sampled_from(["feature", "team"]), st.sampled_from(["x", "y"]))),
                cost=draw(_costs),
                list_cost=draw(_costs),
                avoided_cost=draw(_money),
            )
        )
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_group_sums_add_up_exactly_to_the_total(ledger: LedgerStore, data: st.DataObject) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"  # each example reads only its own rows
    records = data.draw(_records(tenant))
    ledger.write(records)
    only = Filters(tenant=tenant)
    total = ledger.totals(only)
    assert total["cost_nanos"] == sum(r.row()["cost_nanos"] for r in records)
    assert total["list_cost_nanos"] == sum(r.row()["list_cost_nanos"] for r in records)
    for dim in ("model", "day", "status", "tag:feature"):
        groups = ledger.aggregate([dim], only)
        for measure in ("requests", "cost_nanos", "list_cost_nanos", "avoided_cost_nanos", "output_tokens"):
            assert sum(g[measure] for g in groups) == total[measure], (dim, measure)
    with ledger._tx() as cur:  # type: ignore[attr-defined]  # each stored row's parts sum to its total
        cur.execute(
            "SELECT cost_nanos, input_cost_nanos + cache_read_cost_nanos + cache_write_cost_nanos + output_cost_nanos, "
            "list_cost_nanos, list_input_cost_nanos + list_cache_read_cost_nanos + list_cache_write_cost_nanos "
            "+ list_output_cost_nanos FROM usage WHERE tenant = " + ledger.dialect.ph,  # type: ignore[attr-defined]
            [tenant],
        )
        rows = cur.fetchall()
    assert len(rows) == len(records)
    for cost, parts, list_cost, list_parts in rows:
        assert cost == parts and list_cost == list_parts
