"""The crash journal: a record is in the operating system's hands before its response ends.

The ledger writer batches records in memory, so a ``kill -9`` (or an OOM kill) would lose the
rows of calls whose answers the clients already have. The gateway therefore appends each record
here, one ``write()`` to a file opened ``O_APPEND``, before the last byte of its response goes
out. The kernel keeps what was written when the process dies, so no ``fsync`` is paid per call
(a power cut is the one thing not covered: the ledger store and the spill file fsync, this does
not).

1. ``append()`` on the request path: one small JSON line, one syscall, no await.
2. ``done()`` from the writer, once the store (or the fsync'd spill file) holds those records.
3. Files rotate at ``segment_bytes``; a closed segment whose records are all done is deleted,
   so the journal holds only what the store does not have yet.
4. ``recover()`` at start reads the segments a dead process left behind. Each live process
   holds an exclusive ``flock`` on its segments, so replicas sharing a directory never take each
   other's. Replay is safe however often it runs: store writes are idempotent by request id, and
   the journaled copy of a record that was also written later is ignored by the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
from collections.abc import Iterable
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

import orjson

from costops.ledger.record import UsageRecord
from costops.pricing import CostBreakdown
from costops.usage import Usage

log = logging.getLogger("costops.ledger")

SEGMENT_BYTES = 16 * 1024 * 1024
SUFFIX = ".journal"


FORMAT = 1


_HEAD = attrgetter(
    "request_id", "ts", "endpoint", "model_requested", "model", "deployment", "provider", "tenant", "team",
    "project", "user", "key_id", "tags", "stream", "status", "error_type", "error_message",
)
_TOKENS = attrgetter(
    "input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens",
    "reasoning_tokens",
)
_PRICE = attrgetter("service_tier", "priced", "price_source")
_PARTS = attrgetter("input", "cache_read", "cache_write", "output")
_TIMES = attrgetter("latency_ms", "ttft_ms", "cache")
_TAIL = attrgetter("parent_id", "attempt", "attempt_reason", "route", "policy", "arm", "task", "accepted")


def encode(r: UsageRecord) -> bytes:
    """One line, a flat array (the request path pays for this: a few microseconds, where a generic
    dataclass-to-JSON costs several times more); Decimals go out as exact strings. The fields are
    read by ``attrgetter``s, which build their tuples in C (a field each in bytecode was half the cost)."""
    c, lc = r.cost, r.list_cost
    cost = tuple(map(str, _PARTS(c)))
    return orjson.dumps(
        (
            FORMAT, *_HEAD(r), *_TOKENS(r.usage), *_PRICE(r), *cost, *(cost if lc is c else map(str, _PARTS(lc))),
            *_TIMES(r), str(r.avoided_cost), *_TAIL(r),
        ),
        option=orjson.OPT_APPEND_NEWLINE,
    )


def decode(line: bytes) -> UsageRecord:
    """The inverse of :func:`encode`."""
    v = orjson.loads(line)
    if not isinstance(v, list) or not v or v[0] != FORMAT:
        raise ValueError(f"not a journal line of format {FORMAT}")
    money = [Decimal(x) for x in v[27:35]]
    return UsageRecord(
        request_id=v[1], ts=v[2], endpoint=v[3], model_requested=v[4], model=v[5], deployment=v[6],
        provider=v[7], tenant=v[8], team=v[9], project=v[10], user=v[11], key_id=v[12], tags=v[13],
        stream=v[14], status=v[15], error_type=v[16], error_message=v[17],
        usage=Usage(
            input_tokens=v[18], cache_read_tokens=v[19], cache_write_5m_tokens=v[20],
            cache_write_1h_tokens=v[21], output_tokens=v[22], reasoning_tokens=v[23],
        ), service_tier=v[24], priced=v[25], price_source=v[26],
        cost=CostBreakdown(*money[:4]), list_cost=CostBreakdown(*money[4:]),
        latency_ms=v[35], ttft_ms=v[36], cache=v[37], avoided_cost=Decimal(v[38]), parent_id=v[39],
        attempt=v[40], attempt_reason=v[41], route=v[42], policy=v[43], arm=v[44],
        task=v[45] if len(v) > 45 else None, accepted=v[46] if len(v) > 46 else None,
    )


def default_directory(store: object, configured: str | None, url: str) -> str | None:
    """Beside a SQLite ledger file; for a server ledger, in the working directory under a name
    made from its URL, so a journal is only ever replayed into the database it was written for;
    none for an in-memory ledger (nothing it holds survives the process anyway)."""
    if configured:
        return configured
    if getattr(store, "path", None) == ":memory:":
        return None
    hint = getattr(store, "spill_hint", None)
    if hint:
        return hint.removesuffix(".spill.jsonl") + SUFFIX
    return f"costops-ledger-{hashlib.sha256(url.encode()).hexdigest()[:16]}{SUFFIX}"


class _Segment:
    __slots__ = ("path", "fd", "size", "pending", "closed")

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd
        self.size = 0
        self.pending = 0
        self.closed = False


class Journal:
    def __init__(self, directory: str | os.PathLike[str], *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.segment_bytes = max(4096, segment_bytes)
        self._prefix = f"{os.getpid()}-{secrets.token_hex(4)}-"
        self._number = 0
        self._current: _Segment | None = None
        self._segments: dict[str, _Segment] = {}
        """Every segment this process holds, by file name: open (and locked) until deleted."""
        self._where: dict[str, _Segment] = {}
        """request id -> the segment holding its journaled copy, until the writer says it is stored."""

    # -- start ------------------------------------------------------------------------------

    def recover(self) -> list[UsageRecord]:
        """The records a dead process journaled, each charged to its segment until ``done``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        records: list[UsageRecord] = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            if path.name in self._segments:
                continue
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a live replica's segment
                os.close(fd)
                continue
            segment = _Segment(path, fd)
            segment.closed = True
            with open(path, "rb") as fh:
                data = fh.read()
            for number, line in enumerate(data.splitlines()):
                if not line.strip():
                    continue
                try:
                    record = decode(line)
                except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, ArithmeticError) as exc:  # a torn line
                    log.warning("ledger journal %s: skipping unreadable line %d: %s", path, number + 1, exc)
                    continue
                if record.request_id in self._where:
                    continue
                records.append(record)
                self._where[record.request_id] = segment
                segment.pending += 1
            self._segments[path.name] = segment
            if segment.pending == 0:
                self._delete(segment)
        if records:
            log.warning("ledger: recovered %d records from the crash journal in %s", len(records), self.directory)
        return records

    # -- the request path -------------------------------------------------------------------

    def append(self, record: UsageRecord) -> None:
        """Hand ``record`` to the kernel. A full disk must not fail the call: it is logged, and the
        record still reaches the writer's queue as before."""
        if record.request_id in self._where:
            return
        segment = self._current
        if segment is None or segment.size >= self.segment_bytes:
            segment = self._rotate()
        line = encode(record)
        try:
            os.write(segment.fd, line)
        except OSError as exc:
            log.error("ledger journal: cannot append to %s: %s", segment.path, exc)
            return
        segment.size += len(line)
        segment.pending += 1
        self._where[record.request_id] = segment

    # -- the writer -------------------------------------------------------------------------

    def done(self, records: Iterable[UsageRecord]) -> None:
        """These records are durable elsewhere now: their journaled copies may go."""
        where = self._where
        for record in records:
            segment = where.pop(record.request_id, None)
            if segment is not None:
                segment.pending -= 1
                if segment.pending == 0 and segment.closed:
                    self._delete(segment)

    @property
    def pending(self) -> int:
        return len(self._where)

    def close(self) -> None:
        """At a clean shutdown the writer has stored (or spilled) everything: delete what is done."""
        for segment in list(self._segments.values()):
            segment.closed = True
            if segment.pending == 0:
                self._delete(segment)
            else:
                with contextlib.suppress(OSError):
                    os.close(segment.fd)
        self._segments.clear()
        self._current = None
        with contextlib.suppress(OSError):  # an empty directory is not left behind
            self.directory.rmdir()

    # -- segments ---------------------------------------------------------------------------

    def _rotate(self) -> _Segment:
        if self._current is not None:
            self._current.closed = True
            if self._current.pending == 0:
                self._delete(self._current)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._number += 1
        path = self.directory / f"{self._prefix}{self._number:06d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        segment = _Segment(path, fd)
        self._segments[path.name] = segment
        self._current = segment
        return segment

    def _delete(self, segment: _Segment) -> None:
        with contextlib.suppress(FileNotFoundError):
            segment.path.unlink()
        with contextlib.suppress(OSError):
            os.close(segment.fd)
        self._segments.pop(segment.path.name, None)
        if self._current is segment:
            self._current = None
