"""Chargeback statements add up to the ledger to the nano-dollar, however shared costs are split."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from costops.analysis.chargeback import Policy, allocate, render_csv, render_markdown, statements
from costops.analysis.engine import open_engine
from costops.cli import main
from costops.ledger.query import Filters
from costops.ledger.store import open_store
from costops.money import to_nanos
from tests.analytics_fixtures import fill
from tests.ledger_fixtures import DAY, T0


@given(st.integers(0, 10**15), st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 10**12), min_size=1, max_size=12))
@settings(max_examples=300, deadline=None)
def test_allocation_is_exact_and_proportional(total: int, weights: dict[str, int]) -> None:
    parts = allocate(total, weights)
    whole = sum(weights.values())
    assert set(parts) == set(weights)
    if whole == 0:
        assert set(parts.values()) == {0}
        return
    assert sum(parts.values()) == total
    for k, w in weights.items():
        assert abs(parts[k] - Decimal(total) * w / whole) < 1  # never more than a nano from its exact share


@pytest.fixture(params=["duckdb://", "chdb://"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path}/l.db")
    store.migrate()
    fill(store)
    e = open_engine(request.param, f"sqlite:///{tmp_path}/l.db")
    e.sync()
    yield e, store
    e.close()
    store.close()


PERIOD = Filters(since=T0 + 2 * DAY, until=T0 + 16 * DAY)


@pytest.mark.parametrize("by", ["tenant", "team", "project"])
def test_statements_reconcile_with_the_ledger(engine, by: str) -> None:
    e, store = engine
    policy = Policy(by=by, markups={"acme": Decimal("0.15"), "core": Decimal("-0.05")},
                    shared_costs={"cache servers": Decimal("12.345678901")})
    out = statements(e, PERIOD, policy)
    basis = sum(Decimal(s["cost_basis_usd"]) for s in out["statements"])
    ledger = Decimal(to_nanos(Decimal(out["ledger_total_usd"])))
    assert out["ledger_total_usd"] == str(Decimal(store.totals(PERIOD)["cost_nanos"]) / 10**9).rstrip("0").rstrip(".")
    assert to_nanos(basis) == ledger + to_nanos(Decimal("12.345678901"))
    assert out["reconciles"] is True
    # each owner's direct spend is the ledger's own for that owner
    ledger_by = {r[by]: r["cost_nanos"] for r in store.aggregate([by], PERIOD)}
    for s in out["statements"]:
        assert to_nanos(Decimal(s["direct_usd"])) == ledger_by[s[by]]
        assert Decimal(s["total_usd"]) == Decimal(s["cost_basis_usd"]) + Decimal(s["markup_usd"])
    unowned = sum(n for owner, n in ledger_by.items() if owner in (None, "", "default"))
    assert to_nanos(Decimal(out["shared"]["unowned_usd"])) == unowned


def test_markup_and_discount_and_fixed_shares(engine) -> None:
    e, store = engine
    policy = Policy(by="tenant", allocate="fixed", shares={"acme": Decimal(3), "beta": Decimal(1)},
                    markups={"acme": Decimal("0.10"), "beta": Decimal("-0.20")})
    out = statements(e, PERIOD, policy)
    rows = {s["tenant"]: s for s in out["statements"]}
    shared = to_nanos(Decimal(out["shared"]["total_usd"]))
    assert to_nanos(Decimal(rows["acme"]["shared_usd"])) + to_nanos(Decimal(rows["beta"]["shared_usd"])) == shared
    assert abs(to_nanos(Decimal(rows["acme"]["shared_usd"])) - 3 * shared / 4) <= 1
    assert rows["gamma"]["shared_usd"] == "0"
    acme_basis = Decimal(rows["acme"]["cost_basis_usd"])
    assert Decimal(rows["acme"]["markup_usd"]) == (acme_basis * Decimal("0.10")).quantize(Decimal("1e-9"))
    assert Decimal(rows["beta"]["total_usd"]) < Decimal(rows["beta"]["cost_basis_usd"])
    assert out["reconciles"] is True


def test_policy_errors_say_what_to_write() -> None:
    with pytest.raises(ValueError, match="per tenant, team, project"):
        Policy(by="model")
    with pytest.raises(ValueError, match="--share OWNER=WEIGHT"):
        Policy(allocate="fixed")
    with pytest.raises(ValueError, match="cannot reach 100 %"):
        Policy(markups={"acme": Decimal("-1")})


def test_csv_and_markdown_carry_every_statement(engine) -> None:
    e, _ = engine
    out = statements(e, PERIOD, Policy(by="project", shared_costs={"cache | redis": Decimal("1")}))
    rows = list(csv.DictReader(io.StringIO(render_csv(out))))
    totals = [r for r in rows if r["line"] == "total"]
    assert sum(Decimal(r["amount_usd"]) for r in totals) == Decimal(out["billed_total_usd"])
    md = render_markdown(out)
    assert "reconciles: yes" in md and "cache \\| redis" in md
    assert md.count("\n## ") == len(out["statements"])


def test_cli_chargeback(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/l.db")
    store.migrate()
    fill(store)
    total = store.totals(Filters(since=T0, until=T0 + 30 * DAY))["cost_nanos"]
    store.close()
    db = f"sqlite:///{tmp_path}/l.db"
    r = CliRunner().invoke(main, ["chargeback", "--db", db, "--since", "2026-11-01", "--until", "2026-11-30",
                                  "--markup", "acme=0.1", "--shared-cost", "cache=2.5", "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["reconciles"] is True
    assert to_nanos(Decimal(out["cost_basis_total_usd"])) == total + to_nanos(Decimal("2.5"))
    bad = CliRunner().invoke(main, ["chargeback", "--db", db, "--markup", "acme"])
    assert bad.exit_code == 2 and "NAME=NUMBER" in bad.output
    md = CliRunner().invoke(main, ["chargeback", "--db", db, "--by", "team", "--format", "md"])
    assert md.exit_code == 0 and md.output.startswith("# Chargeback by team")
