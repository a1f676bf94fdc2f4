"""The demo's routed and cascade policies against its baseline, on a short run: every answer is
graded by the simulator, the routed policy's bandits learn from those grades sent as feedback,
and the table shows quality next to spend."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal

from costops.demo.policies import BASELINE, CASCADE, ROUTED
from costops.demo.run import render_comparison, routing_targets, run_demo
from costops.demo.workload import generate
from costops.ledger.query import Filters
from costops.ledger.store import open_store
from tests.pinned import PINNED_PRICES


def test_routed_and_cascade_policies_report_spend_and_graded_quality(tmp_path) -> None:
    pinned = {"price_files": [str(PINNED_PRICES)]}
    policies = [dataclasses.replace(p, config={**p.config, **pinned}) for p in (BASELINE, ROUTED, CASCADE)]
    db = f"sqlite:///{tmp_path}/demo.db"
    runs = run_demo(list(generate(240, seed=7)), db=db, policies=policies, out=io.StringIO())
    base, routed, cascade = runs
    for run in runs:  # every answer the clients got was graded
        answered = sum(n for status, n in run.statuses.items() if status == 200)
        assert len(run.scores) == answered > 200 and run.quality is not None and 0 < run.quality < 100
    store = open_store(db)
    try:
        rows = list(store.iter_records(Filters(tags={"policy": "routed"})))
        logical = [r for r in rows if r.parent_id is None and r.status == 200]
        assert {r.route for r in logical} == {"bandit"} and all(r.arm and r.task for r in logical)
        assert {r.task for r in logical} >= {"faq", "completion", "summaries"}  # one bandit per feature
        scored = sum(store.feedback(r.request_id) is not None for r in logical)
        assert scored == len(routed.scores)  # each grade went to POST /v1/feedback
        arms = store.arms(Filters(tags={"policy": "routed"}))
        assert sum(a["quality_n"] for a in arms) == scored
        cascaded = list(store.iter_records(Filters(tags={"policy": "cascade"})))
        assert any(r.attempt_reason == "escalation" for r in cascaded)  # rejected cheap answers escalated
    finally:
        store.close()
    assert Decimal(routed.report["total_cost_usd"]) < Decimal(base.report["total_cost_usd"])
    table = render_comparison(runs)
    assert "quality" in table and f"{routed.quality:.1f}" in table and f"{cascade.quality:.1f}" in table
    lines = routing_targets(runs)
    assert [line.split(":")[0] for line in lines] == ["routed", "cascade"] and all("target" in line for line in lines)
