"""``costops report`` and ``costops reprice`` on a real SQLite file, through click's runner."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from costops.cli.reading import parse_when
from costops.cli.report import report_command, reprice_command
from costops.ledger.query import Filters
from costops.ledger.store import open_store
from costops.pricing import CostBreakdown
from costops.usage import Usage
from tests.ledger_fixtures import DAY, T0, make_record


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/ledger.db"
    store = open_store(url)
    store.migrate()
    store.write(
        [
            make_record(1, cost=CostBreakdown(output=Decimal("0.123456789")), tags={"feature": "search"}),
            make_record(2, ts=T0 + DAY, model="gpt-4o", cost=CostBreakdown(input=Decimal("2")), tags={"feature": "chat"}),
            make_record(3, ts=T0 + 2 * DAY, tenant="beta", cost=CostBreakdown(input=Decimal("0.5")), tags={}),
        ]
    )
    store.close()
    return url


def _run(command, args: list[str]):
    result = CliRunner().invoke(command, args, env={"COSTOPS_DB": None}, catch_exceptions=False)
    return result


def test_report_json(db: str) -> None:
    result = _run(report_command, ["--db", db, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["requests"] == 3
    assert report["total_cost_usd"] == "2.623456789"
    assert {m["model"]: m["cost_usd"] for m in report["by_model"]} == {"gpt-4o-mini": "0.623456789", "gpt-4o": "2"}
    assert {g["value"] for g in report["by_tag"]["feature"]} == {"search", "chat", None}


def test_report_filters_and_extra_breakdowns(db: str) -> None:
    result = _run(
        report_command,
        ["--db", db, "--json", "--since", "2026-11-02", "--until", "2026-11-02", "--tag", "feature=chat", "--by", "user"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["requests"] == 1 and report["total_cost_usd"] == "2"
    assert report["filters"] == {"since": "2026-11-02T00:00:00Z", "until": "2026-11-03T00:00:00Z", "tags": {"feature": "chat"}}
    assert report["by_user"][0]["user"] is None
    only_beta = json.loads(_run(report_command, ["--db", db, "--json", "--tenant", "beta"]).output)
    assert only_beta["total_cost_usd"] == "0.5"


def test_report_table(db: str) -> None:
    result = _run(report_command, ["--db", db])
    assert result.exit_code == 0, result.output
    assert "By model" in result.output and "gpt-4o-mini" in result.output and "$2.6235" in result.output


def test_report_on_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    result = _run(report_command, ["--db", f"sqlite:///{tmp_path}/none.db"])
    assert result.exit_code == 1
    assert "no ledger database at" in result.output and "costops serve" in result.output
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "mysql://x/y"], "sqlite:///"),
        (["--since", "last tuesday"], "7d"),
        (["--tag", "novalue"], "KEY=VALUE"),
        (["--by", "colour"], "tag:<name>"),
    ],
)
def test_report_bad_input_is_a_message_not_a_traceback(db: str, args: list[str], message: str) -> None:
    result = _run(report_command, ["--db", db, *args] if args[0] != "--db" else args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_parse_when() -> None:
    now = T0 + 0.5
    assert parse_when("7d", now=now) == now - 7 * DAY
    assert parse_when("90m", now=now) == now - 5400
    assert parse_when("2026-11-01", now=now) == T0
    assert parse_when("2026-11-01", now=now, end_of_day=True) == T0 + DAY
    assert parse_when("2026-11-01T06:00:00Z", now=now) == T0 + 6 * 3600
    assert parse_when("2026-11-01T06:00", now=now) == T0 + 6 * 3600
    assert parse_when("2026-11-01T07:00+01:00", now=now) == T0 + 6 * 3600


PRICES = """
prices:
  - model: acme-private-7b
    input: 0.35
    output: "1.4"
"""


def test_reprice_prices_what_had_no_price(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    store = open_store(url)
    store.migrate()
    unpriced = dict(model="acme-private-7b", deployment="local-vllm", priced=False, price_source=None,
                    cost=CostBreakdown(), list_cost=CostBreakdown())
    store.write(
        [
            make_record(1, usage=Usage(input_tokens=1000, output_tokens=500), **unpriced),
            make_record(2, usage=Usage(input_tokens=1, output_tokens=1), **unpriced),
            make_record(3, cost=CostBreakdown(input=Decimal("0.25")), list_cost=CostBreakdown(input=Decimal("0.25"))),
        ]
    )
    store.close()
    config = tmp_path / "costops.yaml"
    config.write_text(PRICES)

    before = json.loads(_run(report_command, ["--db", url, "--json"]).output)
    assert before["unpriced_requests"] == 2 and "costops reprice" in before["unpriced"]["message"]

    result = _run(reprice_command, ["--db", url, "--config", str(config)])
    assert result.exit_code == 0, result.output
    # 1000 x 0.35 + 500 x 1.4 per million = 0.00105; 1 x 0.35 + 1 x 1.4 per million = 0.00000175
    assert "Re-priced 2 record(s): 2 changed." in result.output
    assert "Total cost now $0.25105175" in result.output

    store = open_store(url)
    records = {r.request_id: r for r in store.iter_records(Filters())}
    store.close()
    r1 = records["req-1"]
    assert r1.priced and r1.price_source == "config"
    assert r1.cost.total == Decimal("0.00105") and r1.list_cost.total == Decimal("0.00105")
    assert r1.cost.input == Decimal("0.00035") and r1.cost.output == Decimal("0.0007")
    assert records["req-3"].cost.total == Decimal("0.25")  # priced rows untouched by --unpriced-only

    after = json.loads(_run(report_command, ["--db", url, "--json"]).output)
    assert after["unpriced"] is None and after["total_cost_usd"] == "0.25105175"

    again = _run(reprice_command, ["--db", url, "--config", str(config)])
    assert "Re-priced 0 record(s): 0 changed." in again.output


def test_reprice_all_and_what_is_still_unpriced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    store = open_store(url)
    store.migrate()
    wrong = CostBreakdown(input=Decimal("9"))
    store.write(
        [
            make_record(1, model="acme-private-7b", usage=Usage(input_tokens=1_000_000), cost=wrong, list_cost=wrong),
            make_record(2, model="nobody-knows-me", priced=False, price_source=None, cost=CostBreakdown(), list_cost=CostBreakdown()),
        ]
    )
    store.close()
    config = tmp_path / "costops.yaml"
    config.write_text(PRICES)
    only = _run(reprice_command, ["--db", url, "--config", str(config)])
    assert "Re-priced 1 record(s): 0 changed." in only.output
    assert "Still without a price: nobody-knows-me (1)" in only.output
    everything = _run(reprice_command, ["--db", url, "--config", str(config), "--all"])
    assert everything.exit_code == 0, everything.output
    assert "Re-priced 2 record(s): 1 changed." in everything.output
    assert "Total cost now $0.35 " in everything.output


def test_reprice_uses_the_config_files_ledger_when_no_db_is_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/from-config.db"
    store = open_store(url)
    store.migrate()
    store.write([make_record(1, model="acme-private-7b", priced=False, cost=CostBreakdown(), list_cost=CostBreakdown())])
    store.close()
    config = tmp_path / "costops.yaml"
    config.write_text(PRICES + f"ledger:\n  db: {url}\n")
    result = _run(reprice_command, ["--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "1 changed" in result.output


def test_reprice_never_makes_a_call_without_reported_usage_free(tmp_path: Path) -> None:
    """A model with a price, but the provider said nothing of the tokens: repricing has nothing
    to price, so the row stays unpriced (not $0) and the report says why, apart from the rows a
    price would fix; a row whose tokens costops counted keeps saying so after a reprice."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    store = open_store(url)
    store.migrate()
    none = dict(priced=False, cost=CostBreakdown(), list_cost=CostBreakdown())
    estimated = "config; tokens estimated (the stream broke off: counted what was delivered)"
    store.write(
        [
            make_record(1, model="gpt-4o-mini", usage=Usage(), price_source="no usage reported by the provider", **none),
            make_record(2, model="gpt-4o-mini", usage=Usage(), price_source="no usage reported by the provider", **none),
            make_record(3, model="acme-private-7b", usage=Usage(input_tokens=1000), price_source=None, **none),
            make_record(4, model="acme-private-7b", usage=Usage(output_tokens=1000), price_source=estimated),
        ]
    )
    store.close()
    config = tmp_path / "costops.yaml"
    config.write_text(PRICES)

    before = json.loads(_run(report_command, ["--db", url, "--json"]).output)["unpriced"]
    assert before["requests"] == 3
    assert {c["cause"]: c["requests"] for c in before["causes"]} == {"no_usage": 2, "no_price": 1}
    assert "gpt-4o-mini (2)" in before["message"] and "no token usage" in before["message"]
    no_price = next(c for c in before["causes"] if c["cause"] == "no_price")
    assert no_price["models"] == [{"model": "acme-private-7b", "requests": 1}]
    assert "add a price under `prices:`" in no_price["message"] and "gpt-4o-mini" not in no_price["message"]

    result = _run(reprice_command, ["--db", url, "--config", str(config), "--all"])
    assert result.exit_code == 0, result.output
    assert "Re-priced 4 record(s): 2 changed." in result.output
    assert "No usage reported by the provider: gpt-4o-mini (2)" in result.output
    assert "Still without a price" not in result.output

    store = open_store(url)
    records = {r.request_id: r for r in store.iter_records(Filters())}
    totals = store.totals(Filters())
    store.close()
    assert not records["req-1"].priced and records["req-1"].price_source == "no usage reported by the provider"
    assert totals["unpriced"] == 2
    assert records["req-3"].priced and records["req-3"].cost.total == Decimal("0.00035")
    assert records["req-4"].cost.total == Decimal("0.0014")
    assert records["req-4"].price_source == estimated
    after = json.loads(_run(report_command, ["--db", url, "--json"]).output)
    assert after["unpriced"]["requests"] == 2 and [c["cause"] for c in after["unpriced"]["causes"]] == ["no_usage"]
    assert "add a price" not in after["unpriced"]["message"]
    table = _run(report_command, ["--db", url]).output
    assert "no token usage" in table and "gpt-4o-mini (2)" in table
