"""Analytics at scale: every report over a generated ledger on the analytics engine, against the
targets of issue 12 (<= 2 s each over 10 million rows, <= 100 ms over 1,000; ingestion >= 50,000
rows/s), and beside the same reports asked of the SQLite ledger directly.

    .venv/bin/python bench/analytics_scale.py                      # 10M (generated once in /tmp) and 1,000 rows
    .venv/bin/python bench/analytics_scale.py --rows 1000000 --sqlite-all
    .venv/bin/python bench/analytics_scale.py --clickhouse-rows 1000000   # + chdb ingestion and reports

Each report is timed ``--repeat`` times (best and median wall time, and the process's CPU time,
which counts DuckDB's worker threads too); the machine is shared, so the CPU column is the
steadier one. The ledger's shape is printed (bench/ledger_gen.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_gen import END, describe, ensure  # noqa: E402

from costops.analysis import experiments, spend  # noqa: E402
from costops.analysis.chargeback import Policy, statements  # noqa: E402
from costops.analysis.report import build_report  # noqa: E402
from costops.ledger.query import Filters  # noqa: E402
from costops.web.panels import panels  # noqa: E402

NOW = END - 6 * 3600  # the last generated day, 18:00 UTC
DAY = 86400
LAST_30 = Filters(since=NOW - 30 * DAY, until=NOW)


def reports(engine_only: bool) -> dict[str, Callable[[Any], Any]]:
    """Every report the product has, by name; those the ledger store cannot answer (feedback
    joins, extra measures) only on an engine."""
    out: dict[str, Callable[[Any], Any]] = {
        "costops report (all breakdowns, 90 d)": lambda r: build_report(r, Filters()),
        "spend by model, 30 d": lambda r: spend.by(r, "model", LAST_30),
        "spend by tenant, 30 d": lambda r: spend.by(r, "tenant", LAST_30),
        "spend by user (50k), 30 d": lambda r: spend.by(r, "user", LAST_30, top=20),
        "spend by key, 30 d": lambda r: spend.by(r, "key", LAST_30, top=20),
        "spend by tag:feature, 30 d": lambda r: spend.by(r, "tag:feature", LAST_30),
        "spend by cache kind, 30 d": lambda r: spend.by(r, "cache", LAST_30),
        "spend by route/policy/arm, 30 d": lambda r: [spend.by(r, d, LAST_30) for d in ("route", "policy", "arm")],
        "daily series stacked by model, 90 d": lambda r: spend.series(r, Filters(), stack="model"),
        "forecast (56 d history, 14 d ahead)": lambda r: spend.forecast(r, Filters(), now=NOW),
        "anomalies by tenant (28 d baseline)": lambda r: spend.anomalies(r, "tenant", Filters(), now=NOW),
        "filtered: tenant t7 + tag env=prod, by model": lambda r: spend.by(r, "model", Filters(tenant="t7", tags={"env": "prod"})),
    }
    if engine_only:
        out.update({
            "hourly series, tenant t7, 2 d": lambda r: spend.series(r, Filters(since=NOW - 2 * DAY, tenant="t7"), bucket="hour"),
            "unit economics by tag:feature, 30 d": lambda r: spend.unit_economics(r, "tag:feature", LAST_30),
            "chargeback by tenant, 30 d": lambda r: statements(r, LAST_30, Policy(by="tenant")),
            "experiments per policy and arm, 30 d": lambda r: experiments.build(r.arms(LAST_30)),
            "dashboard: every panel, 30 d": lambda r: panels(r, LAST_30, now=NOW),
        })
    return out


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"best_s": min(walls), "median_s": statistics.median(walls), "cpu_s": min(cpus)}


def ingest(ledger: str, engine_url: str) -> tuple[Any, dict[str, float]]:
    from costops.analysis.engine import open_engine

    c, w = time.process_time(), time.perf_counter()
    engine = open_engine(engine_url, f"sqlite:///{ledger}")
    n = engine.sync()
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    return engine, {"rows": n, "wall_s": wall, "cpu_s": cpu, "rows_per_s": n / wall if wall else 0.0}


def run(label: str, ledger: str, rows: int, target_s: float, repeat: int, sqlite: str, out: dict[str, Any],
        engine_url: str = "duckdb://") -> None:
    from costops.ledger.store import open_store

    engine, ing = ingest(ledger, engine_url)
    print(f"\n== {label}: {describe(rows)}")
    judged = rows >= 1_000_000  # a small ledger's ingestion is the engine's start-up, not a rate
    verdict = ("PASS" if ing["rows_per_s"] >= 50_000 else "FAIL") if judged else "start-up cost, not judged"
    print(f"ingestion into {engine.name}: {ing['rows']:,} rows in {ing['wall_s']:.2f} s wall, {ing['cpu_s']:.2f} s CPU "
          f"= {ing['rows_per_s']:,.0f} rows/s  [{verdict}; target >= 50,000]")
    section: dict[str, Any] = {"ingestion": ing, "reports": {}, "sqlite_direct": {}}
    print(f"{'report':48} {'best':>9} {'median':>9} {'cpu':>9}  target")
    for name, fn in reports(engine_only=True).items():
        t = timed(lambda fn=fn: fn(engine), repeat)
        section["reports"][name] = t
        verdict = ("PASS" if t["best_s"] <= target_s else "FAIL") + ("" if t["cpu_s"] > target_s else " (cpu ok)")
        print(f"{name:48} {t['best_s'] * 1000:8.1f}ms {t['median_s'] * 1000:8.1f}ms {t['cpu_s'] * 1000:8.1f}ms  {verdict}",
              flush=True)
    engine.close()
    # the same reports asked of the SQLite ledger itself (one run each: they are slow at scale;
    # "some" asks only the full report on small ledgers and one 30-day breakdown on large ones)
    if sqlite == "none":
        out[label] = section
        return
    store = open_store(f"sqlite:///{ledger}", must_exist=True)
    picked = [n for n in reports(engine_only=False)
              if sqlite == "all" or n.startswith("spend by model") or (n.startswith("costops report") and rows <= 100_000)]
    print(f"{'the same on the SQLite ledger directly':48} {'wall':>9} {'':>9} {'cpu':>9}  engine is")
    for name in picked:
        d = timed(lambda name=name: reports(False)[name](store), 1)
        section["sqlite_direct"][name] = d
        ratio = d["best_s"] / section["reports"][name]["best_s"]
        verdict = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
        print(f"{name:48} {d['best_s'] * 1000:8.1f}ms {'':>9} {d['cpu_s'] * 1000:8.1f}ms  {verdict}", flush=True)
    store.close()
    out[label] = section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--dir", default="/tmp/costops-bench")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite", choices=["none", "some", "all"], default="some",
                        help="the same reports on the SQLite ledger directly: none, the three main ones, or all")
    parser.add_argument("--engine-dir", help="keep the big ledger's DuckDB copy here (a rerun ingests nothing new)")
    parser.add_argument("--clickhouse-rows", type=int, default=0, help="also ingest and report this many rows with chdb")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    os.nice(5)
    out: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "now": NOW}
    small = ensure(f"{args.dir}/ledger-{args.small}.db", args.small)
    run(f"{args.small:,} rows", small, args.small, 0.100, max(args.repeat, 5), args.sqlite, out)
    big = ensure(f"{args.dir}/ledger-{args.rows}.db", args.rows)
    kept = f"duckdb:///{args.engine_dir}/analytics-{args.rows}.duckdb" if args.engine_dir else "duckdb://"
    run(f"{args.rows:,} rows", big, args.rows, 2.0, args.repeat, args.sqlite, out, engine_url=kept)
    if args.clickhouse_rows:
        ch = ensure(f"{args.dir}/ledger-{args.clickhouse_rows}.db", args.clickhouse_rows)
        path = f"{args.dir}/chdb-{args.clickhouse_rows}"
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        run(f"{args.clickhouse_rows:,} rows on ClickHouse (chdb)", ch, args.clickhouse_rows,
            2.0 if args.clickhouse_rows > 1000 else 0.1, args.repeat, "none", out, engine_url=f"chdb://{path}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
