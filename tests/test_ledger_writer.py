"""The batched writer: batches, retries, spills, and loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import orjson

from costops.ledger.journal import decode, encode
from costops.ledger.query import Filters
from costops.ledger.record import UsageRecord
from costops.ledger.store import open_store
from costops.ledger.writer import LedgerWriter, spill_record
from costops.pricing import CostBreakdown
from costops.usage import Usage
from tests.ledger_fixtures import make_record


class FlakyStore:
    """A real SQLite store behind a switch: ``fail_next`` writes raise; ``commit_then_fail``
    writes land and *then* raise, the unclear failure a lost network reply looks like."""

    def __init__(self, fail_next: int = 0, *, commit_then_fail: int = 0) -> None:
        self.inner = open_store("sqlite:///:memory:")
        self.inner.migrate()
        self.fail_next = fail_next
        self.commit_then_fail = commit_then_fail
        self.down = False
        self.batches: list[list[str]] = []
        self.attempts = 0
        self.spill_hint = None

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.attempts += 1
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise ConnectionError("ledger database unavailable")
        self.inner.write(records)
        self.batches.append([r.request_id for r in records])
        if self.commit_then_fail > 0:
            self.commit_then_fail -= 1
            raise TimeoutError("reply lost after commit")

    def count(self) -> int:
        return self.inner.totals(Filters())["requests"]

    def ids(self) -> list[str]:
        return [r.request_id for r in self.inner.iter_records(Filters())]


def _records(n: int, prefix: str = "r") -> list[UsageRecord]:
    return [make_record(i, request_id=f"{prefix}{i}") for i in range(n)]


async def _until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


def test_many_submits_make_few_batched_writes(tmp_path: Path) -> None:
    store = FlakyStore()

    async def main() -> None:
        writer = LedgerWriter(store, batch_size=100, flush_interval_s=0.01, spill_path=str(tmp_path / "s.jsonl"))
        await writer.start()
        for r in _records(1000):
            writer.submit(r)
        await writer.close()
        assert writer.status() == {"pending": 0, "spilled": 0, "written": 1000, "last_error": None,
                                   "oldest_pending_s": 0.0, "behind": False}

    asyncio.run(main())
    assert store.count() == 1000
    assert len(store.batches) <= 12 and max(len(b) for b in store.batches) == 100


def test_close_flushes_everything_before_returning(tmp_path: Path) -> None:
    store = FlakyStore()

    async def main() -> None:
        writer = LedgerWriter(store, batch_size=500, flush_interval_s=3600, spill_path=str(tmp_path / "s.jsonl"))
        await writer.start()
        for r in _records(37):
            writer.submit(r)
        assert store.count() == 0  # below batch size, long interval: still queued
        await writer.close()

    asyncio.run(main())
    assert store.count() == 37


def test_close_without_start_still_writes(tmp_path: Path) -> None:
    store = FlakyStore()
    writer = LedgerWriter(store, spill_path=str(tmp_path / "s.jsonl"))
    for r in _records(3):
        writer.submit(r)
    asyncio.run(writer.close())
    assert store.count() == 3


def test_a_failing_store_is_retried_until_every_record_lands_once(tmp_path: Path) -> None:
    store = FlakyStore(fail_next=4, commit_then_fail=1)

    async def main() -> LedgerWriter:
        writer = LedgerWriter(store, batch_size=50, flush_interval_s=0.005, retry_base_s=0.001, spill_path=str(tmp_path / "s.jsonl"))
        await writer.start()
        for r in _records(120):
            writer.submit(r)
        await _until(lambda: store.attempts >= 2)
        assert writer.status()["last_error"] == "ConnectionError: ledger database unavailable"
        assert writer.status()["behind"] is True
        await writer.close()
        return writer

    writer = asyncio.run(main())
    ids = store.ids()
    assert sorted(ids) == sorted(f"r{i}" for i in range(120))  # all there, none twice
    assert store.attempts >= 4 + 3
    assert writer.status()["last_error"] is None and writer.status()["pending"] == 0


def test_overflow_spills_to_disk_and_is_replayed_when_the_store_recovers(tmp_path: Path) -> None:
    spill = tmp_path / "ledger.spill.jsonl"
    store = FlakyStore()
    store.down = True

    async def main() -> None:
        writer = LedgerWriter(
            store, batch_size=5, flush_interval_s=0.005, max_buffer=10, spill_path=str(spill), retry_base_s=0.001, retry_max_s=0.01
        )
        await writer.start()
        for r in _records(50):
            writer.submit(r)
        await _until(
            lambda: spill.exists() and len(spill.read_bytes().splitlines()) == 40 and writer.status()["spilled"] == 40
        )
        status = writer.status()
        assert (status["pending"], status["spilled"], status["behind"]) == (10, 40, True)
        store.down = False
        await _until(lambda: writer.status()["written"] == 50 and spill.stat().st_size == 0)  # truncated once replayed
        assert writer.status()["spilled"] == 0
        await writer.close()

    asyncio.run(main())
    assert sorted(store.ids()) == sorted(f"r{i}" for i in range(50))


def test_a_spill_file_left_by_a_crash_is_replayed_at_start(tmp_path: Path) -> None:
    spill = tmp_path / "ledger.spill.jsonl"
    spill.write_bytes(b"".join(encode(r) for r in _records(7, prefix="crash-")) + b'[1, "torn')  # died mid-append
    store = FlakyStore()

    async def main() -> None:
        writer = LedgerWriter(store, flush_interval_s=0.005, spill_path=str(spill))
        await writer.start()
        writer.submit(make_record(99, request_id="live"))
        await writer.close()

    asyncio.run(main())
    assert sorted(store.ids()) == sorted([*(f"crash-{i}" for i in range(7)), "live"])
    assert spill.stat().st_size == 0


def test_shutdown_while_the_store_is_down_spills_and_the_next_start_replays(tmp_path: Path) -> None:
    spill = tmp_path / "ledger.spill.jsonl"
    down = FlakyStore()
    down.down = True

    async def first_run() -> None:
        writer = LedgerWriter(down, flush_interval_s=0.005, spill_path=str(spill), retry_base_s=0.001, close_timeout_s=0.05)
        await writer.start()
        for r in _records(20):
            writer.submit(r)
        await writer.close()

    asyncio.run(first_run())
    assert down.count() == 0 and len(spill.read_bytes().splitlines()) == 20

    store = FlakyStore()

    async def second_run() -> None:
        writer = LedgerWriter(store, flush_interval_s=0.005, spill_path=str(spill))
        await writer.start()
        await writer.close()

    asyncio.run(second_run())
    assert store.count() == 20


def test_default_spill_path_sits_next_to_the_sqlite_file(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/ledger.db")
    assert LedgerWriter(store).spill_path == f"{tmp_path}/ledger.db.spill.jsonl"
    store.close()
    assert LedgerWriter(FlakyStore()).spill_path == "costops-ledger.spill.jsonl"


def test_behind_when_records_wait_too_long() -> None:
    now = [1000.0]
    writer = LedgerWriter(FlakyStore(), clock=lambda: now[0])
    writer.submit(make_record(1))
    assert writer.status()["behind"] is False
    now[0] += 10
    assert writer.status() == {"pending": 1, "spilled": 0, "written": 0, "last_error": None,
                               "oldest_pending_s": 10.0, "behind": True}  # /metrics' write lag


def test_the_spill_file_holds_journal_lines_and_an_older_spill_s_json_objects_still_replay(tmp_path: Path) -> None:
    record = make_record(
        3,
        tags={"feature": "ünïcode", "n": "1"},
        usage=Usage(1, 2, 3, 4, 9, 7),
        list_cost=CostBreakdown(Decimal("0.000000000123456789"), Decimal("1E-18"), Decimal("3"), Decimal("12345.678901234567")),
        cost=CostBreakdown(output=Decimal("0.1")),
        avoided_cost=Decimal("0.0000015"),
        ts=1_793_491_200.123456,
        latency_ms=None,
        stream=True,
    )
    # a line as the spill wrote it before it took the journal's format, with a key since removed
    older = orjson.dumps({
        "request_id": "old-1", "ts": 1_793_491_200.5, "endpoint": "chat.completions", "model_requested": "gpt-4o",
        "model": "gpt-4o", "tenant": "acme", "tags": {"feature": "chat"}, "status": 200, "priced": True,
        "usage": {"input_tokens": 10, "cache_read_tokens": 0, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0,
                  "output_tokens": 5, "reasoning_tokens": 0},
        "cost": {"input": "0.000025", "cache_read": "0", "cache_write": "0", "output": "0.00005"},
        "list_cost": {"input": "0.000025", "cache_read": "0", "cache_write": "0", "output": "0.00005"},
        "avoided_cost": "0", "a_field_since_removed": 1,
    })
    spill = tmp_path / "ledger.spill.jsonl"
    spill.write_bytes(older + b"\n")
    store = FlakyStore()
    store.down = True
    lines: list[bytes] = []

    async def main() -> None:
        writer = LedgerWriter(store, flush_interval_s=0.005, spill_path=str(spill), max_buffer=1, retry_base_s=0.001)
        await writer.start()
        writer.submit(make_record(1, request_id="held"))
        writer.submit(record)  # past max_buffer: to the spill file
        await _until(lambda: len(spill.read_bytes().splitlines()) == 2)
        lines.extend(spill.read_bytes().splitlines(keepends=True))
        store.down = False
        await writer.close()

    asyncio.run(main())
    assert lines == [older + b"\n", encode(record)]  # appended after the older line, in the journal's format
    assert sorted(store.ids()) == sorted(["old-1", "held", record.request_id])
    back = spill_record(encode(record))
    assert back == record and decode(encode(record)) == back
    assert back.list_cost.input == Decimal("0.000000000123456789") and back.row() == record.row()
    old = spill_record(older)
    assert (old.request_id, old.tenant, old.usage.output_tokens, old.cost.total) == ("old-1", "acme", 5, Decimal("0.000075"))
    assert old.tags == {"feature": "chat"} and old.attempt == 1  # a field the old line lacks takes its default
