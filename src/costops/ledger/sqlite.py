"""The embedded ledger: one SQLite file in WAL mode, no setup.

One connection, shared by the writer's thread and readers under a lock
(``check_same_thread=False``); WAL lets other processes (``costops report`` while the gateway
runs) read while it writes, and ``synchronous=NORMAL`` is durable across application crashes
(WAL fsyncs at checkpoints), which is what a ledger fed by a flushing queue needs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from costops.ledger.migrations import apply_sqlite
from costops.ledger.query import SQLITE
from costops.ledger.store import SqlLedger

BUSY_TIMEOUT_MS = 10_000


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
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a batch is exactly one transaction
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not memory:
            self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")

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
