"""Where the ledger lives: one small protocol, a SQLite and a PostgreSQL implementation.

Stores are synchronous and thread-safe; the async :class:`~costops.ledger.writer.LedgerWriter`
calls them through ``asyncio.to_thread``. Writes are idempotent by ``request_id``
(``INSERT ... ON CONFLICT DO NOTHING``), so a batch retried after an unclear failure never
counts a call twice. The SQL both dialects share lives in
:class:`~costops.ledger.sql_store.SqlLedger`; a dialect adds only its connection handling.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from costops.ledger.postgres import PostgresLedger
from costops.ledger.query import Filters
from costops.ledger.record import UsageRecord
from costops.ledger.sqlite import SqliteLedger

URL_FORMS = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db, sqlite:///:memory:, "
    "or postgresql://user[:password]@host[:port]/dbname[?schema=name]"
)


@runtime_checkable
class LedgerStore(Protocol):
    spill_hint: str | None
    """Where the writer should spill by default (next to a SQLite file), or None."""

    def migrate(self) -> list[int]: ...
    def write(self, records: Sequence[UsageRecord]) -> None: ...
    def aggregate(self, group_by: Sequence[str], filters: Filters) -> list[dict[str, Any]]: ...
    def totals(self, filters: Filters) -> dict[str, Any]: ...
    def tag_keys(self, filters: Filters) -> list[str]: ...
    def iter_records(self, filters: Filters) -> Iterator[UsageRecord]: ...
    def update_costs(self, records: Sequence[UsageRecord]) -> None: ...
    def write_feedback(self, request_id: str, ts: float, score: float, comment: str | None, source: str | None) -> None: ...
    def feedback(self, request_id: str) -> float | None: ...
    def request_tenant(self, request_id: str) -> str | None: ...
    def arms(self, filters: Filters, policy: str | None = None) -> list[dict[str, Any]]: ...
    def request_arm(self, request_id: str) -> dict[str, Any] | None: ...
    def close(self) -> None: ...


def open_store(url: str, *, must_exist: bool = False) -> LedgerStore:
    """Open (not migrate) the ledger at ``url``. ``must_exist`` refuses to create a new SQLite file."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise ValueError(f"ledger URL {url!r} names no file; use {URL_FORMS}")
        return SqliteLedger(path, must_exist=must_exist)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresLedger(url)
    raise ValueError(f"unsupported ledger URL {_mask(url)!r}: use {URL_FORMS}")


def _mask(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)
