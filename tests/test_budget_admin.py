"""The budgets admin API and the ``costops budgets`` command, against a running gateway."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from click.testing import CliRunner

from costops.cli import main
from tests.pinned import PINNED
from tests.test_budget_gateway import chat, client


def call(gw: Any, method: str, path: str, body: Any = None, key: str = "sekret") -> tuple[int, Any]:
    request = urllib.request.Request(f"{gw.url}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_create_update_and_status_over_the_admin_api(pinned_gateway):
    gw = pinned_gateway(
        "server: {admin_key: sekret}\nbudgets:\n  list:\n    - {name: everything, limit_usd: 100, window: monthly}\n"
    )
    assert call(gw, "GET", "/admin/budgets", key="wrong")[0] == 401
    status, made = call(gw, "POST", "/admin/budgets",
                        {"name": "search", "limit_usd": 0.00009, "window": "daily", "scope": {"tag": {"feature": "search"}}})
    assert status == 201 and made["limit_usd"] == "0.00009" and made["scope_text"] == "tag:feature=search"
    assert call(gw, "POST", "/admin/budgets", {"name": "search", "limit_usd": 1})[0] == 409
    status, error = call(gw, "POST", "/admin/budgets", {"name": "bad", "limit_usd": 1, "window": "yearly"})
    assert status == 400 and "window: 'yearly' is not one of daily" in error["error"]["message"]

    c = client(gw, "x")
    tagged = {"extra_headers": {"x-costops-tags": "feature=search"}}
    assert chat(c, **tagged)[0] == 200
    assert chat(c, **tagged)[0] == 429  # the new budget is in force at once
    assert chat(c)[0] == 200  # untagged traffic is not in its scope

    status, changed = call(gw, "PATCH", "/admin/budgets?name=search", {"limit_usd": 1})
    assert status == 200 and changed["limit_usd"] == "1" and changed["window"] == "daily"
    assert chat(c, **tagged)[0] == 200
    gw.records(4)  # a changed window starts from the ledger, which holds what was flushed
    status, replaced = call(gw, "PUT", "/admin/budgets?name=everything", {"limit_usd": 50, "window": "weekly"})
    assert status == 200 and replaced["window"] == "weekly"

    status, listing = call(gw, "GET", "/admin/budgets")
    budgets = {b["name"]: b for b in listing["budgets"]}
    assert set(budgets) == {"everything", "search"}
    assert budgets["search"]["definition"]["limit_usd"] == 1 and budgets["search"]["source"] == "admin"
    status, now = call(gw, "GET", "/admin/budgets/status")
    row = {b["name"]: b for b in now["budgets"]}["everything"]
    assert row["spent_usd"] != "0" and row["reserved_usd"] == "0" and row["resets_at"]
    assert set(row) >= {"spent_usd", "reserved_usd", "limit_usd", "forecast_usd", "resets_at", "pct"}

    result = CliRunner().invoke(main, ["budgets", "--url", gw.url, "--admin-key", "sekret"])
    assert result.exit_code == 0, result.output
    header, _, *lines = result.output.splitlines()
    assert header.split() == ["budget", "scope", "window", "spent", "reserved", "limit", "used", "forecast", "resets"]
    assert lines[0].split()[:3] == ["everything", "global", "weekly"] and "$50.0000" in lines[0]
    as_json = json.loads(CliRunner().invoke(main, ["budgets", "--url", gw.url, "--admin-key", "sekret", "--json"]).output)
    assert {r["name"] for r in as_json} == {"everything", "search"}
    refused = CliRunner().invoke(main, ["budgets", "--url", gw.url, "--admin-key", "nope"])
    assert refused.exit_code == 1 and "admin key was refused" in refused.output

    assert call(gw, "DELETE", "/admin/budgets?name=search")[0] == 200
    assert chat(c, **tagged)[0] == 200
    assert call(gw, "PATCH", "/admin/budgets?name=search", {"limit_usd": 2})[0] == 404


def test_cli_reads_the_ledger_offline(make_gateway, tmp_path):
    # the wall clock on both sides: the offline command reads the window it is in now, and takes no clock
    config = PINNED + "budgets:\n  list:\n    - {name: monthly, limit_usd: 1}\n    - {name: acme, limit_usd: 1, scope: {tenant: acme}}\n"
    gw = make_gateway(config)
    assert chat(client(gw, "x"), model="gpt-4o", tokens=300)[0] == 200
    gw.records(1)
    path = tmp_path / "budgets.yaml"
    path.write_text(config)
    result = CliRunner().invoke(main, ["budgets", "--db", gw.gateway.config.ledger.db, "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["monthly"]["spent_usd"].startswith("0.003") and rows["acme"]["spent_usd"] == "0"
