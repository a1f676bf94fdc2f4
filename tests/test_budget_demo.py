"""The demo's budgeted policy: the code-assistant tenant is alerted, downgraded, then blocked."""

from __future__ import annotations

import dataclasses
import io

from costops.demo.policies import BUDGETED
from costops.demo.run import render_comparison, run_demo
from costops.demo.workload import generate
from tests.pinned import PINNED_PRICES


def test_budgeted_policy_downgrades_then_blocks_globex(tmp_path):
    config = dict(BUDGETED.config)
    budget = {**config["budgets"]["list"][0], "limit_usd": 0.4}  # the same budget, scaled to a short run
    policy = dataclasses.replace(BUDGETED, config={**config, "budgets": {"list": [budget]}, "price_files": [str(PINNED_PRICES)]})
    [run] = run_demo(list(generate(500, seed=7)), db=f"sqlite:///{tmp_path}/demo.db", policies=[policy],
                     out=io.StringIO())
    assert run.blocked > 0 and run.downgraded > 0
    by_tenant = {t["tenant"]: t for t in run.report["by_tenant"]}
    assert by_tenant["globex"]["errors"] >= run.blocked and by_tenant["acme"]["errors"] <= 5  # others untouched
    table = render_comparison([run])
    assert "budget-blocked" in table and f"{run.blocked:,}" in table.splitlines()[-1]
