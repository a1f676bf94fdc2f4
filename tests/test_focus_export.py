"""costops export focus: calls made through the gateway with the SDKs, exported as FOCUS 1.2
CSV and Parquet, passed by the FinOps Foundation's focus-validator (offline, its bundled 1.2
rules), and their money equal to the ledger's to the nano-dollar."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner

from costops.analysis.focus import COLUMNS
from costops.cli import main
from costops.ledger.query import Filters
from costops.money import from_nanos

REPO = Path(__file__).resolve().parent.parent
VALIDATOR = Path(os.environ.get("COSTOPS_FOCUS_VALIDATOR", REPO / ".venv-focus/bin/focus-validator"))
CRITERIA = "USAGE_MEASUREMENT_SUPPORTED,TAGGING_SUPPORTED,SUB_ACCOUNT_SUPPORTED,ACCOUNT_NAMING_SUPPORTED,RESOURCE_TYPE_ASSIGNMENT_SUPPORTED"
CONFIG = """
keys:
  - {id: k-acme, key: sk-acme, tenant: acme, team: search, project: web, tags: {env: prod}}
  - {id: k-globex, key: sk-globex, tenant: globex}
"""


def validate(path: Path) -> str:
    """Run focus-validator on ``path`` and return its report; it must find no failure.

    Its exit status is 0 whatever it finds, so the report is read: a rule counts as failed
    unless it is one branch of an OR rule that passed (FOCUS 1.2's InvoiceId rules are such an
    OR: "null when not invoiced" or "not null when invoiced"; the validator checks each branch
    on every row and prints the branch not taken as a failure)."""
    assert VALIDATOR.exists(), f"{VALIDATOR} is missing: run `make focus-validator` (needs Python 3.12+)"
    package = Path(subprocess.run(
        [VALIDATOR.parent / "python", "-c", "import focus_validator, os; print(os.path.dirname(focus_validator.__file__))"],
        capture_output=True, text=True, check=True).stdout.strip())
    done = subprocess.run(  # cwd: it reads its currency table by a path relative to its package's parent
        [VALIDATOR, "--data-file", str(path), "--validate-version", "1.2", "--block-download",
         "--focus-dataset", "CostAndUsage", "--applicability-criteria", CRITERIA, "--show-violations"],
        capture_output=True, text=True, cwd=package.parent, timeout=300,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-3000:]
    counts = re.search(r"Total: (\d+) \| Pass: (\d+) \| Fail: (\d+)", report)
    assert counts is not None, report[-3000:]
    total, passed = int(counts.group(1)), int(counts.group(2))
    assert passed >= 100 and total > passed
    outcome = dict(re.findall(r"^\S+ ([A-Za-z]+-[A-Z]-\d{3}-[A-Z]): (PASS|FAIL|SKIPPED)", report, re.M))
    rules = json.loads(next((package / "rules").glob("model-1.2*.json")).read_text())["ModelRules"]
    branch_of_passed_or = {
        item["ModelRuleId"]
        for rule_id, rule in rules.items()
        if outcome.get(rule_id) == "PASS" and (rule.get("ValidationCriteria") or {}).get("Requirement", {}).get("CheckFunction") == "OR"
        for item in rule["ValidationCriteria"]["Requirement"].get("Items", ())
        if item.get("CheckFunction") == "CheckModelRule"
    }
    failed = [rule_id for rule_id, result in outcome.items() if result == "FAIL" and rule_id not in branch_of_passed_or]
    assert failed == [], "\n".join(line for line in report.splitlines() if any(f in line for f in failed))
    return report


def drive(gw: Any) -> None:
    acme = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", max_retries=0, timeout=30)
    globex = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-globex", max_retries=0, timeout=30)
    for i in range(3):
        acme.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{i} [[sim:tokens=25]]"}],
                                     extra_headers={"x-costops-tags": "feature=search"})
    globex.chat.completions.create(model="claude-3-5-haiku-20241022",
                                   messages=[{"role": "user", "content": "hello [[sim:tokens=12]]"}])
    acme.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "s [[sim:tokens=9]]"}])
    with pytest.raises(openai.APIStatusError):  # retried twice, then failed: three rows with no cost
        acme.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x [[sim:error=500]]"}])


def export(db: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["export", "focus", "--db", db, "--since", "2026-11-01", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_focus_csv_and_parquet_pass_the_validator_and_add_up_to_the_ledger(pinned_gateway, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/ledger.db"
    gw = pinned_gateway(CONFIG, db=db)
    drive(gw)
    rows = gw.records()
    ledger = gw.gateway.store.totals(Filters())
    assert ledger["cost_nanos"] > 0

    text = export(db, "--until", "2026-12-31")
    table = list(csv.DictReader(io.StringIO(text)))
    assert tuple(table[0]) == COLUMNS
    billed = sum(Decimal(r["BilledCost"]) for r in table)
    assert billed == from_nanos(ledger["cost_nanos"])  # exact, to the nano-dollar
    assert sum(Decimal(r["ListCost"]) for r in table) == from_nanos(ledger["list_cost_nanos"])
    assert all(r["EffectiveCost"] == r["BilledCost"] == r["ContractedCost"] for r in table)
    assert sum(Decimal(r["ConsumedQuantity"]) for r in table) == sum(
        r.usage.input_tokens + r.usage.cache_read_tokens + r.usage.cache_write_5m_tokens
        + r.usage.cache_write_1h_tokens + r.usage.output_tokens for r in rows)
    answered = [r for r in rows if r.parent_id is None and r.status < 400]
    assert len(answered) == 5 and sum(int(r["x_CostopsRequests"]) for r in table) == len(answered)
    acme = next(r for r in table if r["SubAccountId"] == "acme" and r["SkuMeter"] == "Output Tokens")
    assert acme["ProviderName"] == "OpenAI" and acme["ResourceId"] == "openai" and acme["ConsumedUnit"] == "Tokens"
    assert acme["ChargePeriodStart"] == "2026-11-25T12:00:00Z" and acme["ChargePeriodEnd"] == "2026-11-25T13:00:00Z"
    assert acme["BillingPeriodStart"] == "2026-11-01T00:00:00Z" and acme["BillingPeriodEnd"] == "2026-12-01T00:00:00Z"
    tags = json.loads(acme["Tags"])
    assert tags["env"] == "prod" and tags["costops/team"] == "search" and tags["costops/key"] == "k-acme"
    assert {r["ProviderName"] for r in table} == {"OpenAI", "Anthropic"}
    (tmp_path / "focus.csv").write_text(text)
    validate(tmp_path / "focus.csv")

    out = tmp_path / "focus.parquet"
    result = CliRunner().invoke(main, ["export", "focus", "--db", db, "--since", "2026-11-01", "--format", "parquet",
                                       "--granularity", "hour", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    hourly = pq.read_table(out)
    assert str(hourly.schema.field("BilledCost").type) == "decimal128(38, 9)"
    assert sum(hourly.column("BilledCost").to_pylist()) == from_nanos(ledger["cost_nanos"])
    assert hourly.num_rows < len(table)  # three acme calls of one hour and kind became one row
    validate(out)
    # summed by the engine (the default, DuckDB, and ClickHouse in process) as the calls add up here
    per_call = _sums(table)
    assert _sums(hourly.to_pylist()) == per_call
    by_hand = _hourly(db, tmp_path / "ledger.parquet", "--engine", "ledger")
    assert _rows(hourly.to_pylist()) == _rows(by_hand)
    assert _rows(_hourly(db, tmp_path / "chdb.parquet", "--engine", f"chdb://{tmp_path / 'chdb'}")) == _rows(by_hand)


def _hourly(db: str, out: Path, *more: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    result = CliRunner().invoke(main, ["export", "focus", "--db", db, "--since", "2026-11-01", "--format", "parquet",
                                       "--granularity", "hour", "--out", str(out), *more])
    assert result.exit_code == 0, result.output
    return pq.read_table(out).to_pylist()


def _sums(rows: list[dict[str, Any]]) -> tuple[Decimal, ...]:
    """The money, tokens and requests a FOCUS file adds up to (CSV strings or Parquet values)."""
    return tuple(sum((Decimal(str(r[c])) for r in rows), Decimal(0))
                 for c in ("BilledCost", "ListCost", "ConsumedQuantity", "x_CostopsRequests"))


def _rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(str(v) for v in r.values()) for r in rows)


def test_bad_options_say_what_to_do(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["export", "focus", "--db", f"sqlite:///{tmp_path}/none.db"])
    assert result.exit_code != 0 and "nothing has been recorded there yet" in result.output
    result = runner.invoke(main, ["export", "focus", "--format", "parquet"])
    assert result.exit_code != 0 and "--out PATH.parquet" in result.output
    result = runner.invoke(main, ["export", "focus", "--since", "yesterday-ish"])
    assert result.exit_code != 0 and "duration back from now" in result.output
