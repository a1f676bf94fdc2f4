"""The spend report: its JSON shape, exact money strings, unpriced calls named, text tables."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from costops.analysis.report import build_report, money, render_json, render_table, table
from costops.ledger.query import Filters
from costops.ledger.store import LedgerStore
from costops.pricing import CostBreakdown
from costops.usage import Usage
from tests.ledger_fixtures import DAY, T0, ledger_fixture, make_record, pg_server_fixture, pg_url_fixture  # noqa: F401


def _fill(store: LedgerStore) -> None:
    store.write(
        [
            make_record(1, model="gpt-4o", cost=CostBreakdown(output=Decimal("12.345678901")), tags={"feature": "search"}),
            make_record(2, model="gpt-4o", cost=CostBreakdown(input=Decimal("0.000000001")), tags={"feature": "chat", "env": "prod"}),
            make_record(3, ts=T0 + DAY, model="claude-haiku-4", provider="anthropic", tenant="beta", project=None,
                        cost=CostBreakdown(input=Decimal("1.5")), list_cost=CostBreakdown(input=Decimal("2")), tags={}),
            make_record(4, ts=T0 + DAY, model="acme-private", priced=False, cost=CostBreakdown(), list_cost=CostBreakdown(),
                        usage=Usage(input_tokens=7, output_tokens=3)),
            make_record(5, ts=T0 + DAY, model="acme-private", priced=False, cost=CostBreakdown(), list_cost=CostBreakdown()),
            make_record(6, model="gpt-4o", status=500, priced=False, cost=CostBreakdown(), list_cost=CostBreakdown(), usage=Usage()),
            make_record(7, model="gpt-4o", cache="exact", cost=CostBreakdown(), list_cost=CostBreakdown(),
                        avoided_cost=Decimal("0.004"), usage=Usage()),
        ]
    )


def test_report_json_shape_and_exact_money(ledger: LedgerStore) -> None:
    _fill(ledger)
    report = json.loads(render_json(build_report(ledger, Filters())))
    assert report["requests"] == 7 and report["errors"] == 1 and report["unpriced_requests"] == 2
    assert report["cache_hits"] == 1
    assert report["total_cost_usd"] == "13.845678902"
    assert report["list_cost_usd"] == "2.0000555"  # 2 + two records' default list cost of 0.00002775
    assert report["saved_usd"] == "0.004"
    assert set(report["tokens"]) == {"input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning", "total"}
    assert [m["model"] for m in report["by_model"]] == ["gpt-4o", "claude-haiku-4", "acme-private"]
    gpt = report["by_model"][0]
    assert gpt["cost_usd"] == "12.345678902" and gpt["requests"] == 4 and gpt["errors"] == 1
    assert gpt["tokens"]["output"] == 21 + 22
    assert {p["provider"]: p["cost_usd"] for p in report["by_provider"]} == {"openai": "12.345678902", "anthropic": "1.5"}
    assert {t["tenant"] for t in report["by_tenant"]} == {"acme", "beta"}
    assert {p["project"] for p in report["by_project"]} == {"search", None}
    assert [d["day"] for d in report["by_day"]] == ["2026-11-01", "2026-11-02"]
    assert set(report["by_tag"]) == {"env", "feature"}
    feature = {g["value"]: g["cost_usd"] for g in report["by_tag"]["feature"]}
    assert feature == {"search": "12.345678901", "chat": "0.000000001", "summarize": "0", None: "1.5"}
    assert report["filters"] == {"since": None, "until": None}


def test_unpriced_calls_are_named_with_what_to_do(ledger: LedgerStore) -> None:
    _fill(ledger)
    report = build_report(ledger, Filters())
    unpriced = report["unpriced"]
    assert unpriced["requests"] == 2  # the failed call (status 500) is not "unpriced", it is an error
    assert unpriced["models"] == [{"model": "acme-private", "requests": 2}]
    assert "add a price under `prices:` in the config and run `costops reprice`" in unpriced["message"]
    assert "acme-private (2)" in render_table(report)


def test_no_unpriced_section_when_everything_is_priced(ledger: LedgerStore) -> None:
    ledger.write([make_record(1)])
    assert build_report(ledger, Filters())["unpriced"] is None


def test_report_respects_filters_and_dims(ledger: LedgerStore) -> None:
    _fill(ledger)
    report = build_report(ledger, Filters(since=T0 + DAY, tags={}), dims=["model", "team", "tag:feature"])
    assert report["requests"] == 3
    assert "by_provider" not in report and "by_team" in report
    assert report["filters"]["since"] == "2026-11-02T00:00:00Z"
    with pytest.raises(ValueError, match="cannot group by"):
        build_report(ledger, Filters(), dims=["colour"])


def test_render_table_is_aligned_plain_text(ledger: LedgerStore) -> None:
    _fill(ledger)
    text = render_table(build_report(ledger, Filters()))
    assert "cost $13.8457" in text
    assert "By model" in text and "By tag feature" in text and "By day" in text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    widths = {len(line) for line in lines[header : header + 5]}
    assert len(widths) == 1  # every row of the table is as wide as its header


def test_money_for_people() -> None:
    assert money("0") == "$0"
    assert money("0.00000001") == "<$0.0001"
    assert money("1234.56789") == "$1,234.5679"
    assert table(("a", "n"), [["x", "1"], ["long", "100"]]).splitlines() == ["a       n", "----  ---", "x       1", "long  100"]
