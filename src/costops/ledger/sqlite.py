"""The embedded ledger: one SQLite file in WAL mode, no setup.

One connection, shared by the writer's thread and readers under a lock
(``check_same_thread=False``); WAL lets other processes (``costops report`` while the gateway
runs) read while it writes, and ``synchronous=NORMAL`` is durable across application crashes
(WAL fsyncs at checkpoints), which is what a ledger fed by a flushing queue needs.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

from costops.ledger.migrations import apply_sqlite
from costops.ledger.query import SQLITE
from costops.ledger.record import UsageRecord
from costops.ledger.sql_store import STORE_COLUMNS, SqlLedger, store_values

BUSY_TIMEOUT_MS = 10_000
# SQLite binds at most 32,766 parameters per statement (3.32+); statements take power-of-two row
# counts, so however batches vary only a dozen distinct statements are ever prepared (sqlite3
# caches prepared statements, and one of several hundred rows is a large program).
_USAGE_MAX_ROWS = 512  # x 47 columns = 24,064 parameters
_TAG_MAX_ROWS = 4096  # x 3
_USAGE_HEAD = f"INSERT INTO usage ({', '.join(STORE_COLUMNS)}) VALUES "
_TAGS_HEAD = "INSERT INTO usage_tags (request_id, key, value) VALUES "


@lru_cache(maxsize=32)
def _insert(head: str, width: int, rows: int, conflict: str) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return head + ", ".join([row] * rows) + f" ON CONFLICT ({conflict}) DO NOTHING"


def _null(value: None) -> None:
    return value


def bind_nulls_directly() -> None:
    """Without an adapter for ``None`` the sqlite3 module looks up ``__adapt__`` and
    ``__conform__`` for every NULL it binds, failing twice (an AttributeError raised and cleared);
    a usage row has a dozen NULLs, so that was about a quarter of the insert's CPU (3 of 11 us a
    row). Registered, the lookup finds this function and binds the same NULL. Process-wide, and
    harmless to any other sqlite3 user: None still binds as NULL, only sooner."""
    sqlite3.register_adapter(type(None), _null)


def _retry_busy(step: Any, attempts: int = 50) -> None:
    """Switching to WAL needs a moment of exclusive access and does not wait on the busy timeout:
    two replicas opening one new ledger at once would otherwise see 'database is locked'."""
    for attempt in range(attempts):
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _chunks(n: int, largest: int) -> list[int]:
    """``n`` as power-of-two chunk sizes, largest first: 700 -> [512, 128, 32, 16, 8, 4]."""
    sizes = []
    size = largest
    while n:
        while size > n:
            size //= 2
        sizes.append(size)
        n -= size
    return sizes


def _insert_rows(cur: Any, head: str, width: int, conflict: str, rows: list[Any], largest: int) -> None:
    """The rows' values flattened in C (``chain``), not by a Python loop over every value: this
    thread holds the GIL while it builds them, and the event loop waits for it."""
    start = 0
    for size in _chunks(len(rows), largest):
        chunk = rows if size == len(rows) else rows[start : start + size]
        cur.execute(_insert(head, width, size, conflict), list(chain.from_iterable(chunk)))
        start += size


class SqliteLedger(SqlLedger):
    dialect = SQLITE

    def __init__(self, path: str, *, must_exist: bool = False) -> None:
        self.path = path
        memory = path == ":memory:"
        if not memory:
            file = Path(path)
            if must_exist and not file.exists():
                raise FileNotFoundError(f"no ledger database at {file.resolve()}")
            file.parent.mkdir(parents=True, exist_ok=True)
            self.spill_hint = str(file.with_name(file.name + ".spill.jsonl"))
        self._lock = threading.Lock()
        bind_nulls_directly()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a batch is exactly one transaction
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not memory:
            _retry_busy(lambda: self._conn.execute("PRAGMA journal_mode = WAL"))
        self._conn.execute("PRAGMA synchronous = NORMAL")

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Multi-row ``INSERT ... VALUES (...), (...)``: one statement per chunk of rows. With
        ``executemany`` the sqlite3 module releases and re-takes the GIL on every row, and a busy
        event loop makes each re-take wait for its switch interval: under load the writer then
        falls behind the requests it records. One step per chunk takes the GIL back once."""
        if not records:
            return
        rows = [store_values(r) for r in records]
        tags = [(r.request_id, str(k), str(v)) for r in records for k, v in r.tags.items()]
        with self._tx() as cur:
            _insert_rows(cur, _USAGE_HEAD, len(STORE_COLUMNS), "request_id", rows, _USAGE_MAX_ROWS)
            _insert_rows(cur, _TAGS_HEAD, 3, "request_id, key", tags, _TAG_MAX_ROWS)

    def migrate(self) -> list[int]:
        with self._lock:
            return apply_sqlite(self._conn)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SqliteLedger({self.path!r})"
