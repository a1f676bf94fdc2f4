"""The batched ledger writer: the request path hands records over, a background task stores them.

1. ``submit()`` appends to an in-memory deque: O(1), no I/O, no await (call it on the event
   loop's thread).
2. A background task takes up to ``batch_size`` records at a time and writes them with
   ``asyncio.to_thread(store.write, batch)``. A batch leaves the deque only once the store has
   accepted it; on a failure it stays, and the task retries with exponential backoff (capped).
   Writes are idempotent by ``request_id``, so a retry after an unclear failure is harmless.
3. Past ``max_buffer`` pending records, new ones go to a spill file instead of memory (one
   line per record, the journal's format);
   once the store accepts writes again the file is replayed and then truncated. A spill file
   found at ``start()`` (left by a crash or by a shutdown while the store was down) is replayed
   the same way.
4. ``close()`` writes everything before it returns; if the store still refuses after
   ``close_timeout_s``, what is left goes to the spill file, so nothing is ever dropped.
5. With a :class:`~costops.ledger.journal.Journal`, what a crashed process journaled is queued at
   ``start()``, and each record's journaled copy is released once the store (or the fsync'd
   spill file) holds it: memory is no longer the only copy of an answered call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from itertools import islice
from typing import Any

import orjson

from costops.ledger.journal import Journal, decode, encode
from costops.ledger.record import UsageRecord
from costops.ledger.store import LedgerStore
from costops.pricing import CostBreakdown
from costops.usage import Usage

log = logging.getLogger("costops.ledger")

DEFAULT_SPILL = "costops-ledger.spill.jsonl"
BEHIND_AFTER_S = 5.0


# -- the spill file: the journal's lines ----------------------------------------------------------


_FIELDS = frozenset(f.name for f in dataclasses.fields(UsageRecord))


def _record_from_object(data: Mapping[str, Any]) -> UsageRecord:
    """A spill line written before the spill file took the journal's line format: one JSON
    object per record (Decimals as strings, usage and costs nested). Still read, so a spill file
    left by an older version is replayed; keys the record no longer has are ignored, fields
    added since take their defaults."""
    kwargs = {k: v for k, v in data.items() if k in _FIELDS}
    kwargs["usage"] = Usage(**kwargs.get("usage", {}))
    for name in ("cost", "list_cost"):
        kwargs[name] = CostBreakdown(**{k: Decimal(v) for k, v in kwargs.get(name, {}).items()})
    kwargs["avoided_cost"] = Decimal(kwargs.get("avoided_cost", "0"))
    return UsageRecord(**kwargs)


def spill_record(line: bytes) -> UsageRecord:
    """One spill line: the journal's line (:func:`~costops.ledger.journal.encode`), or an older
    spill's JSON object."""
    return _record_from_object(orjson.loads(line)) if line.lstrip().startswith(b"{") else decode(line)


def _read_spill(path: str, offset: int, limit: int) -> tuple[list[UsageRecord], int, int, bool]:
    """Up to ``limit`` records from byte ``offset``: (records, new offset, lines consumed, at end).
    A torn line (the process died mid-append) is skipped with a warning, not fatal."""
    records: list[UsageRecord] = []
    lines = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        while len(records) < limit:
            line = fh.readline()
            if not line:
                return records, offset, lines, True
            offset += len(line)
            if not line.strip():
                continue
            lines += 1
            try:
                records.append(spill_record(line))
            except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
                log.warning("ledger spill %s: skipping an unreadable line at byte %d: %s", path, offset - len(line), exc)
        return records, offset, lines, fh.read(1) == b""


def _append_spill(path: str, records: list[UsageRecord]) -> None:
    data = b"".join(encode(r) for r in records)
    with open(path, "ab") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _count_lines(path: str) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except FileNotFoundError:
        return 0


class LedgerWriter:
    def __init__(
        self,
        store: LedgerStore,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.25,
        max_buffer: int = 100_000,
        spill_path: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        retry_base_s: float = 0.1,
        retry_max_s: float = 5.0,
        close_timeout_s: float = 10.0,
        journal: Journal | None = None,
    ) -> None:
        self.store = store
        self.journal = journal
        self.batch_size = max(1, batch_size)
        self.flush_interval_s = flush_interval_s
        self.max_buffer = max(1, max_buffer)
        self.spill_path = spill_path or getattr(store, "spill_hint", None) or DEFAULT_SPILL
        self.clock = clock
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.close_timeout_s = close_timeout_s

        self._buffer: deque[UsageRecord] = deque()
        self._overflow: list[UsageRecord] = []
        """Past max_buffer: waiting for the task to append them to the spill file."""
        self._spill_offset = 0
        self._spilled_in_file = 0
        self._submitted: deque[float] = deque()
        """When each buffered record was submitted (the writer's clock), oldest first."""
        self._written = 0
        self._failures = 0
        self._last_error: str | None = None
        self._wake = asyncio.Event()
        self._step_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- the request path ------------------------------------------------------------------

    def submit(self, record: UsageRecord) -> None:
        """Queue ``record``; never blocks. Call it from the event loop's thread."""
        if len(self._buffer) >= self.max_buffer:
            self._overflow.append(record)
            self._wake.set()
            return
        self._buffer.append(record)
        self._submitted.append(self.clock())
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    def status(self) -> dict[str, Any]:
        pending = len(self._buffer)
        # how long the oldest unwritten record has waited: under steady load the buffer is never
        # empty, so "non-empty for a while" would not tell a writer that keeps up from one that doesn't
        waited = self.clock() - self._submitted[0] if self._submitted else 0.0
        spilled = self._spilled_in_file + len(self._overflow)
        return {
            "pending": pending,
            "spilled": spilled,
            "written": self._written,
            "last_error": self._last_error,
            "oldest_pending_s": round(waited, 3),
            "behind": bool(self._last_error) or spilled > 0 or waited > BEHIND_AFTER_S,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        self._spilled_in_file = await asyncio.to_thread(_count_lines, self.spill_path)
        self._spill_offset = 0
        if self._spilled_in_file:
            log.warning("ledger: replaying %d records from %s", self._spilled_in_file, self.spill_path)
        if self.journal is not None:
            for record in await asyncio.to_thread(self.journal.recover):
                self.submit(record)
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="costops-ledger-writer")

    async def close(self) -> None:
        """Write everything held (memory and spill file), then stop. Called on shutdown."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task
        else:  # never started: still lose nothing
            await self._drain(deadline=time.monotonic() + self.close_timeout_s)
        if self.journal is not None:  # everything is stored or spilled: the journal's copies may go
            self.journal.close()

    async def flush(self) -> None:
        """Write what is pending now (tests, and callers that want a read-your-writes point)."""
        await self._drain(deadline=None)

    # -- the background task ---------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
                self._wake.clear()
                if self._closing:
                    break
                try:
                    ok = await self._step()
                except Exception as exc:  # a bug must not silently stop the ledger: log, back off, go on
                    log.exception("ledger writer step failed")
                    self._failures += 1
                    self._last_error = f"{type(exc).__name__}: {exc}"
                    ok = False
                if not ok:
                    await self._backoff()
        finally:
            await self._drain(deadline=time.monotonic() + self.close_timeout_s)

    async def _step(self) -> bool:
        """One round: spill overflow, write the buffer, replay some spill. False on a store failure."""
        async with self._step_lock:  # flush() and the task never write the same head batch twice
            return await self._step_locked()

    async def _step_locked(self) -> bool:
        if self._overflow and not await self._spill_overflow():
            return False
        while self._buffer:
            if not await self._write_head():
                return False
            if self._overflow and not await self._spill_overflow():
                return False
        # the store takes writes: replay a chunk of the spill file (a chunk per round keeps new records flowing)
        if self._spilled_in_file and len(self._buffer) <= self.max_buffer // 2:
            return await self._replay_chunk()
        return True

    async def _drain(self, deadline: float | None = None) -> None:
        while self._buffer or self._overflow or self._spilled_in_file:
            if await self._step():
                continue
            if deadline is not None and time.monotonic() >= deadline:
                await self._spill_all()
                log.error("ledger: store unavailable at shutdown; %d records kept in %s", self._spilled_in_file, self.spill_path)
                return
            await self._backoff()

    async def _backoff(self) -> None:
        delay = min(self.retry_max_s, self.retry_base_s * 2 ** min(self._failures - 1, 30))
        await asyncio.sleep(max(delay, 0.0))

    async def _write_head(self) -> bool:
        batch = list(islice(self._buffer, self.batch_size))
        if not await self._store(batch):
            return False
        for _ in batch:
            self._buffer.popleft()
            self._submitted.popleft()
        if self.journal is not None:
            self.journal.done(batch)
        return True

    async def _store(self, batch: list[UsageRecord]) -> bool:
        try:
            await asyncio.to_thread(self.store.write, batch)
        except Exception as exc:  # any store error: keep the batch, retry later
            self._failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.warning("ledger write of %d records failed (attempt %d): %s", len(batch), self._failures, exc)
            return False
        self._failures = 0
        self._last_error = None
        self._written += len(batch)
        return True

    async def _spill_overflow(self) -> bool:
        records, self._overflow = self._overflow, []
        try:
            await asyncio.to_thread(_append_spill, self.spill_path, records)
        except OSError as exc:  # the disk refused too: keep them in memory rather than drop them
            self._overflow = records + self._overflow
            self._last_error = f"spill to {self.spill_path} failed: {exc}"
            log.error("ledger: %s", self._last_error)
            return False
        self._spilled_in_file += len(records)
        if self.journal is not None:
            self.journal.done(records)
        return True

    async def _spill_all(self) -> None:
        self._overflow = list(self._buffer) + self._overflow
        self._buffer.clear()
        self._submitted.clear()
        await self._spill_overflow()

    async def _replay_chunk(self) -> bool:
        try:
            records, offset, lines, at_end = await asyncio.to_thread(
                _read_spill, self.spill_path, self._spill_offset, self.batch_size
            )
        except OSError as exc:  # the file went away or cannot be read: nothing left we can replay
            log.error("ledger: cannot replay %s: %s", self.spill_path, exc)
            self._spilled_in_file = self._spill_offset = 0
            return True
        if records and not await self._store(records):
            return False
        self._spill_offset = offset
        self._spilled_in_file = max(0, self._spilled_in_file - lines)
        if at_end:
            # everything replayed; nothing can have been appended meanwhile (only this task appends)
            await asyncio.to_thread(_truncate, self.spill_path)
            self._spill_offset = 0
            self._spilled_in_file = 0
        return True


def _truncate(path: str) -> None:
    with contextlib.suppress(FileNotFoundError), open(path, "r+b") as fh:
        fh.truncate(0)
