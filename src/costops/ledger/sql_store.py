"""The SQL both ledger dialects share (:mod:`costops.ledger.sqlite`, :mod:`costops.ledger.postgres`):
the ``usage`` table's columns, a record's row in them and back, and :class:`SqlLedger`, which a
dialect subclasses with only its connection handling. Below :mod:`costops.ledger.store`, which
picks a dialect by URL."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from costops.ledger.query import Dialect, Filters, aggregate_sql, shape, tag_keys_sql, where
from costops.ledger.record import ROW_COLUMNS, UsageRecord
from costops.money import from_nanos, to_nanos
from costops.pricing import CostBreakdown
from costops.usage import Usage

LIST_PART_COLUMNS = (
    "list_input_cost_nanos",
    "list_cache_read_cost_nanos",
    "list_cache_write_cost_nanos",
    "list_output_cost_nanos",
)
STORE_COLUMNS: tuple[str, ...] = ROW_COLUMNS + LIST_PART_COLUMNS
"""The ``usage`` table's columns: the record's row plus the parts of its list cost."""

COST_COLUMNS = (
    "list_cost_nanos",
    "input_cost_nanos",
    "cache_read_cost_nanos",
    "cache_write_cost_nanos",
    "output_cost_nanos",
    "cost_nanos",
)
"""A price's six nano-dollar columns, in the order both the re-pricing update and the analytics
engines' copy (:data:`costops.analysis.sql.MONEY_COLUMNS`) list them; one tuple so the two agree."""

PRICE_COLUMNS = ("priced", "price_source", *COST_COLUMNS, *LIST_PART_COLUMNS)
"""What re-pricing rewrites; token counts and attribution never change after the fact."""

def store_values(r: UsageRecord) -> list[Any]:
    """The ``usage`` row in ``STORE_COLUMNS`` order, built directly: this runs once per call on
    the writer's hot loop, so no intermediate dict and each cost rounded once."""
    u = r.usage
    ei, er, ew, eo = eff = r.cost.parts_nanos()  # rounded once per cost, shared with the budgets
    li, lr, lw, lo = eff if r.list_cost is r.cost else r.list_cost.parts_nanos()
    return [
        r.request_id, r.ts, r.endpoint, r.model_requested, r.model, r.deployment, r.provider,
        r.tenant, r.team, r.project, r.user, r.key_id, int(r.stream), r.status, r.error_type, r.error_message,
        u.input_tokens, u.cache_read_tokens, u.cache_write_5m_tokens, u.cache_write_1h_tokens,
        u.output_tokens, u.reasoning_tokens, r.service_tier, int(r.priced), r.price_source,
        li + lr + lw + lo, ei, er, ew, eo, ei + er + ew + eo, r.latency_ms, r.ttft_ms, r.cache,
        to_nanos(r.avoided_cost) if r.avoided_cost else 0,
        r.parent_id, r.attempt, r.attempt_reason, r.route, r.policy, r.arm, r.task,
        None if r.accepted is None else int(r.accepted), li, lr, lw, lo,
    ]


def store_row(record: UsageRecord) -> dict[str, Any]:
    row = record.row()
    parts = record.list_cost.nanos()
    for column in LIST_PART_COLUMNS:
        row[column] = parts[column[len("list_") :]]
    return row


def record_from_row(row: Mapping[str, Any], tags: Mapping[str, str]) -> UsageRecord:
    def cost(prefix: str) -> CostBreakdown:
        return CostBreakdown(
            *(from_nanos(row[f"{prefix}{kind}_cost_nanos"]) for kind in ("input", "cache_read", "cache_write", "output"))
        )

    return UsageRecord(
        request_id=row["request_id"],
        ts=float(row["ts"]),
        endpoint=row["endpoint"],
        model_requested=row["model_requested"],
        model=row["model"],
        deployment=row["deployment"],
        provider=row["provider"],
        tenant=row["tenant"],
        team=row["team"],
        project=row["project"],
        user=row["user_id"],
        key_id=row["key_id"],
        tags=dict(tags),
        stream=bool(row["stream"]),
        status=int(row["status"]),
        error_type=row["error_type"],
        error_message=row["error_message"],
        usage=Usage(
            input_tokens=int(row["input_tokens"]),
            cache_read_tokens=int(row["cache_read_tokens"]),
            cache_write_5m_tokens=int(row["cache_write_5m_tokens"]),
            cache_write_1h_tokens=int(row["cache_write_1h_tokens"]),
            output_tokens=int(row["output_tokens"]),
            reasoning_tokens=int(row["reasoning_tokens"]),
        ),
        service_tier=row["service_tier"],
        priced=bool(row["priced"]),
        price_source=row["price_source"],
        list_cost=cost("list_"),
        cost=cost(""),
        latency_ms=row["latency_ms"],
        ttft_ms=row["ttft_ms"],
        cache=row["cache"],
        avoided_cost=from_nanos(row["avoided_cost_nanos"]),
        parent_id=row.get("parent_id"),
        attempt=int(row.get("attempt") or 1),
        attempt_reason=row.get("attempt_reason"),
        route=row.get("route"),
        policy=row.get("policy"),
        arm=row.get("arm"),
        task=row.get("task"),
        accepted=None if row.get("accepted") is None else bool(row["accepted"]),
    )


class SqlLedger:
    """Shared SQL over a DB-API cursor; subclasses give ``dialect`` and ``_tx()``."""

    dialect: Dialect
    spill_hint: str | None = None
    page_size = 500

    def _tx(self) -> AbstractContextManager[Any]:
        """A cursor inside one transaction, committed on exit, rolled back on error."""
        raise NotImplementedError

    def _phs(self, n: int) -> str:
        return ", ".join([self.dialect.ph] * n)

    def _text(self, value: Any) -> Any:
        """A value as the driver should bind it (PostgreSQL overrides: its text cannot hold NUL)."""
        return value

    def write(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        t = self._text
        rows = [store_row(r) for r in records]
        tags = [(t(r.request_id), t(str(k)), t(str(v))) for r in records for k, v in r.tags.items()]
        insert = (
            f"INSERT INTO usage ({', '.join(STORE_COLUMNS)}) VALUES ({self._phs(len(STORE_COLUMNS))}) "
            "ON CONFLICT (request_id) DO NOTHING"
        )
        with self._tx() as cur:
            cur.executemany(insert, [tuple(t(row[c]) for c in STORE_COLUMNS) for row in rows])
            if tags:
                cur.executemany(
                    f"INSERT INTO usage_tags (request_id, key, value) VALUES ({self._phs(3)}) "
                    "ON CONFLICT (request_id, key) DO NOTHING",
                    tags,
                )

    def aggregate(self, group_by: Sequence[str], filters: Filters) -> list[dict[str, Any]]:
        sql, params = aggregate_sql(list(group_by), filters, self.dialect)
        with self._tx() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        return [shape(row, list(group_by)) for row in rows]

    def totals(self, filters: Filters) -> dict[str, Any]:
        return self.aggregate((), filters)[0]

    def tag_keys(self, filters: Filters) -> list[str]:
        sql, params = tag_keys_sql(filters, self.dialect)
        with self._tx() as cur:
            cur.execute(sql, params)
            return [row[0] for row in cur.fetchall()]

    def iter_records(self, filters: Filters) -> Iterator[UsageRecord]:
        """Every matching record in (ts, request_id) order, read a page at a time (keyset paging,
        so no transaction stays open between pages and writers are never held up)."""
        where_sql, params = where(filters, self.dialect)
        ph = self.dialect.ph
        after = f"(u.ts > {ph} OR (u.ts = {ph} AND u.request_id > {ph}))"
        columns = ", ".join(f"u.{c}" for c in STORE_COLUMNS)
        cursor_key: tuple[float, str] | None = None
        while True:
            sql = f"SELECT {columns} FROM usage u{where_sql}"
            page_params = list(params)
            if cursor_key is not None:
                sql += (" AND " if where_sql else " WHERE ") + after
                page_params += [cursor_key[0], cursor_key[0], cursor_key[1]]
            sql += f" ORDER BY u.ts, u.request_id LIMIT {int(self.page_size)}"
            with self._tx() as cur:
                cur.execute(sql, page_params)
                rows = [dict(zip(STORE_COLUMNS, row, strict=True)) for row in cur.fetchall()]
                tags: dict[str, dict[str, str]] = {}
                if rows:
                    ids = [row["request_id"] for row in rows]
                    cur.execute(
                        f"SELECT request_id, key, value FROM usage_tags WHERE request_id IN ({self._phs(len(ids))})",
                        ids,
                    )
                    for request_id, key, value in cur.fetchall():
                        tags.setdefault(request_id, {})[key] = value
            for row in rows:
                yield record_from_row(row, tags.get(row["request_id"], {}))
            if len(rows) < self.page_size:
                return
            cursor_key = (rows[-1]["ts"], rows[-1]["request_id"])

    def write_feedback(self, request_id: str, ts: float, score: float, comment: str | None, source: str | None) -> None:
        """One score per request: a later one replaces the earlier."""
        ph = self.dialect.ph
        t = self._text
        with self._tx() as cur:
            cur.execute(
                f"INSERT INTO feedback (request_id, ts, score, comment, source) VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) "
                "ON CONFLICT (request_id) DO UPDATE SET ts = excluded.ts, score = excluded.score, "
                "comment = excluded.comment, source = excluded.source",
                (t(request_id), ts, score, t(comment), t(source)),
            )

    def feedback(self, request_id: str) -> float | None:
        with self._tx() as cur:
            cur.execute(f"SELECT score FROM feedback WHERE request_id = {self.dialect.ph}", (request_id,))
            row = cur.fetchone()
        return None if row is None else float(row[0])

    def request_tenant(self, request_id: str) -> str | None:
        """The tenant of a logical request in the books, or None."""
        with self._tx() as cur:
            cur.execute(
                f"SELECT tenant FROM usage WHERE request_id = {self.dialect.ph} AND parent_id IS NULL", (request_id,)
            )
            row = cur.fetchone()
        return None if row is None else str(row[0])

    def arms(self, filters: Filters, policy: str | None = None) -> list[dict[str, Any]]:
        """Per (policy, arm, task): what experiments and bandits served (:mod:`costops.ledger.arms`)."""
        from costops.ledger.arms import arms_sql
        from costops.ledger.arms import shape as shape_arm

        sql, params = arms_sql(filters, self.dialect, policy)
        with self._tx() as cur:
            cur.execute(sql, params)
            return [shape_arm(row) for row in cur.fetchall()]

    def request_arm(self, request_id: str) -> dict[str, Any] | None:
        """A logical request's policy, task, arm and automatic verdict, with the score it has."""
        ph = self.dialect.ph
        with self._tx() as cur:
            cur.execute(
                "SELECT u.policy, u.task, u.arm, u.accepted, f.score FROM usage u "
                f"LEFT JOIN feedback f ON f.request_id = u.request_id WHERE u.request_id = {ph} AND u.parent_id IS NULL",
                (request_id,),
            )
            row = cur.fetchone()
        if row is None or row[2] is None:
            return None
        return {"policy": row[0], "task": row[1], "arm": row[2], "accepted": row[3], "score": row[4]}

    def update_costs(self, records: Iterable[UsageRecord]) -> None:
        """Rewrite the price columns of stored rows from these (re-priced) records, in one
        transaction, and log their hours (``usage_changes``) for the analytics engines' copies."""
        params = []
        hours = set()
        for record in records:
            row = store_row(record)
            params.append((*(row[c] for c in PRICE_COLUMNS), record.request_id))
            hours.add(math.floor(record.ts) // 3600)  # the engines' hour: exact, as theirs
        if not params:
            return
        assignments = ", ".join(f"{c} = {self.dialect.ph}" for c in PRICE_COLUMNS)
        with self._tx() as cur:
            cur.executemany(f"UPDATE usage SET {assignments} WHERE request_id = {self.dialect.ph}", params)
            cur.executemany(f"INSERT INTO usage_changes (hour) VALUES ({self.dialect.ph})", [(h,) for h in sorted(hours)])
