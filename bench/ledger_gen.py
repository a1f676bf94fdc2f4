"""A generated SQLite ledger of any size, for the analytics bench (never committed: /tmp).

DuckDB writes it, vectorized, through its SQLite extension into a ledger that costops itself
created and migrated, so the schema is the real one. Every value is a hash of the row number,
so the same N gives the same ledger. The shape (printed by ``describe()``):

- ``days`` (default 90) of traffic ending at 2026-11-30, a weekly pattern (weekends at 60 %)
  and a daily one (nights at 30 %), and from day 80 one tenant spending 8x (an anomaly to find);
- 40 models over 6 providers and 12 deployments, 200 tenants, 30 teams, 100 projects,
  50,000 users, 2,000 keys; tags ``feature`` (30 values, 80 % of rows) and ``env`` (3, 50 %);
- 3 % errors (429 budget / rate limit, 500), 1 % unpriced, 20 % exact or semantic cache hits,
  5 % extra attempts pointing at a parent, routes, policies and arms on a third of the rows;
- costs of 1 to 20 million nano-dollars per call in integer nano-dollars, parts adding up;
- written in time order, as a gateway appends them, except 1 % written last (late rows, as a
  journal replay delivers them: out of time order).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

SHAPE_VERSION = 2
"""Bumped when the generated ledger changes: a ledger left in /tmp by an older one is made again."""
END = 1_796_083_200  # 2026-12-01T00:00:00Z

SHAPE = {
    "models": 40, "providers": 6, "deployments": 12, "tenants": 200, "teams": 30, "projects": 100,
    "users": 50_000, "keys": 2_000, "features": 30,
}


def describe(rows: int, days: int = 90) -> str:
    return (
        f"{rows:,} calls over {days} days to 2026-11-30; " + ", ".join(f"{v:,} {k}" for k, v in SHAPE.items())
        + "; tags feature on 80 %, env on 50 %; 3 % errors, 1 % unpriced, 20 % cache hits, 5 % retried attempts"
        + "; in time order but 1 % late rows"
    )


def _h(i: str, salt: int, mod: int) -> str:
    return f"(hash({i}, {salt}) % {mod})"


def generate(path: str, rows: int, days: int = 90) -> float:
    """Write ``rows`` calls into a fresh ledger at ``path``; returns seconds taken."""
    import duckdb

    from costops.analysis.duck_ingest import _extension
    from costops.ledger.store import open_store

    started = time.perf_counter()
    if os.path.exists(path):
        os.remove(path)
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    # bulk load: indexes dropped and rebuilt afterwards (a sort, not 10M B-tree inserts each),
    # rollback journal instead of WAL while loading; the ledger ends in WAL with every index
    import sqlite3

    lite = sqlite3.connect(path, isolation_level=None)
    indexes = [sql for (sql,) in lite.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")]
    for (name,) in lite.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall():
        lite.execute(f"DROP INDEX {name}")
    lite.execute("PRAGMA journal_mode = DELETE")
    lite.close()
    con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False, "threads": 1})
    con.execute(f"LOAD '{_extension('sqlite_scanner')}'")
    con.execute(f"ATTACH '{path}' AS l (TYPE sqlite)")
    start = END - days * 86400
    # time: uniform over the period, thinned by weekday and hour (accept-by-hash keeps it vectorized)
    i = "r.i"
    ts = f"({start} + ({_h(i, 1, days * 86400 * 1000)}) / 1000.0)"
    cost = f"(1000000 + {_h(i, 9, 19000000)})"
    tenant = f"'t' || {_h(i, 4, SHAPE['tenants'])}"
    select = f"""
      SELECT 'r' || {i} AS request_id, {ts} AS ts, 'chat.completions' AS endpoint,
        'm' || {_h(i, 2, SHAPE['models'])} AS model_requested, 'm' || {_h(i, 2, SHAPE['models'])} AS model,
        'd' || {_h(i, 3, SHAPE['deployments'])} AS deployment, 'p' || ({_h(i, 2, SHAPE['models'])} % {SHAPE['providers']}) AS provider,
        {tenant} AS tenant, 'team' || {_h(i, 5, SHAPE['teams'])} AS team, 'proj' || {_h(i, 6, SHAPE['projects'])} AS project,
        'u' || {_h(i, 7, SHAPE['users'])} AS user_id, 'k' || {_h(i, 8, SHAPE['keys'])} AS key_id, 0 AS stream,
        CASE WHEN {_h(i, 10, 100)} < 1 THEN 429 WHEN {_h(i, 10, 100)} < 3 THEN 500 ELSE 200 END AS status,
        CASE WHEN {_h(i, 10, 100)} < 1 THEN (CASE WHEN {_h(i, 11, 2)} = 0 THEN 'budget_exceeded' ELSE 'rate_limited' END)
             WHEN {_h(i, 10, 100)} < 3 THEN 'upstream_error' END AS error_type,
        NULL AS error_message,
        {_h(i, 12, 4000)} AS input_tokens, {_h(i, 13, 800)} AS cache_read_tokens, 0 AS cache_write_5m_tokens,
        0 AS cache_write_1h_tokens, {_h(i, 14, 900)} AS output_tokens, 0 AS reasoning_tokens, NULL AS service_tier,
        CASE WHEN {_h(i, 15, 100)} = 0 THEN 0 ELSE 1 END AS priced, 'bench' AS price_source,
        {cost} AS c, CASE WHEN {_h(i, 16, 10)} < 2 THEN (CASE WHEN {_h(i, 17, 2)} = 0 THEN 'exact' ELSE 'semantic' END)
             ELSE 'miss' END AS cache,
        CASE WHEN {_h(i, 18, 100)} < 5 AND {i} > 0 THEN 'r' || ({i} - 1) END AS parent_id,
        CASE WHEN {_h(i, 19, 3)} = 0 THEN 'route' || {_h(i, 20, 4)} END AS route,
        CASE WHEN {_h(i, 19, 3)} = 0 THEN 'cascade' END AS policy,
        CASE WHEN {_h(i, 19, 3)} = 0 THEN (CASE WHEN {_h(i, 21, 2)} = 0 THEN 'a' ELSE 'b' END) END AS arm,
        100 + {_h(i, 22, 900)} AS latency_ms
      FROM range({rows * 3 // 2}) r(i)
      WHERE {_h(i, 23, 10)} < CASE WHEN dayofweek(make_timestamp(CAST({ts} * 1000000 AS BIGINT))) IN (0, 6) THEN 6 ELSE 10 END
      LIMIT {rows}
    """
    # the anomaly: from day 80 tenant t7's calls cost 8x
    spike = f"CASE WHEN tenant = 't7' AND ts >= {start + 80 * 86400} THEN 8 ELSE 1 END"
    con.execute(f"CREATE TEMP TABLE g AS {select}")
    con.execute(f"""
      INSERT INTO l.usage (request_id, ts, endpoint, model_requested, model, deployment, provider, tenant, team,
        project, user_id, key_id, stream, status, error_type, error_message, input_tokens, cache_read_tokens,
        cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, service_tier, priced,
        price_source, list_cost_nanos, input_cost_nanos, cache_read_cost_nanos, cache_write_cost_nanos,
        output_cost_nanos, cost_nanos, latency_ms, ttft_ms, cache, avoided_cost_nanos, list_input_cost_nanos,
        list_cache_read_cost_nanos, list_cache_write_cost_nanos, list_output_cost_nanos, parent_id, attempt,
        attempt_reason, route, policy, arm)
      SELECT request_id, ts, endpoint, model_requested, model, deployment, provider, tenant, team, project, user_id,
        key_id, stream, status, error_type, error_message, input_tokens, cache_read_tokens, cache_write_5m_tokens,
        cache_write_1h_tokens, output_tokens, reasoning_tokens, service_tier, priced, price_source,
        k * 11 // 10, k * 6 // 10, k // 10, 0, k - k * 6 // 10 - k // 10, k, latency_ms, NULL, cache,
        CASE WHEN cache IN ('exact', 'semantic') THEN c ELSE 0 END,
        k * 11 * 6 // 100, k * 11 // 100, 0, k * 11 // 10 - k * 11 * 6 // 100 - k * 11 // 100,
        parent_id, CASE WHEN parent_id IS NULL THEN 1 ELSE 2 END, CASE WHEN parent_id IS NULL THEN 'primary' ELSE 'retry' END,
        route, policy, arm
      FROM (SELECT *, CASE WHEN priced = 0 OR cache IN ('exact', 'semantic') OR status >= 400 THEN 0 ELSE c * ({spike}) END AS k FROM g)
      ORDER BY hash(request_id, 40) % 100 = 0, ts
    """)
    con.execute(f"""
      INSERT INTO l.usage_tags (request_id, key, value)
      SELECT request_id, 'feature', 'f' || (hash(request_id, 30) % {SHAPE['features']}) FROM g WHERE hash(request_id, 31) % 10 < 8
      UNION ALL
      SELECT request_id, 'env', CASE hash(request_id, 32) % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'staging' ELSE 'dev' END
      FROM g WHERE hash(request_id, 33) % 2 = 0
    """)
    n = con.execute("SELECT count(*) FROM g").fetchone()[0]  # type: ignore[index]
    con.close()
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA cache_size = -1000000")
    for sql in indexes:
        lite.execute(sql)
    lite.execute("PRAGMA journal_mode = WAL")
    lite.close()
    print(f"generated {n:,} rows in {time.perf_counter() - started:.1f} s at {path}", file=sys.stderr)
    return time.perf_counter() - started


def ensure(path: str, rows: int) -> str:
    """The ledger at ``path``, generated if it is missing (its size is in a side file)."""
    marker = Path(path + ".rows")
    if not (Path(path).exists() and marker.exists() and marker.read_text() == f"{rows} v{SHAPE_VERSION}"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        generate(path, rows)
        marker.write_text(f"{rows} v{SHAPE_VERSION}")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    os.nice(5)  # other engineers share the 2 cores
    generate(args.path, args.rows)
    print(describe(args.rows))
