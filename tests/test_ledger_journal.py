"""The crash journal: every call whose answer a client received is in the books, even after
``kill -9``, with SQLite and with PostgreSQL mid-outage."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from costops.ledger.journal import Journal, decode, encode
from costops.ledger.query import Filters
from costops.ledger.record import UsageRecord
from costops.ledger.store import open_store
from costops.pricing import CostBreakdown
from costops.usage import Usage
from tests import rawhttp
from tests.ledger_fixtures import pg_server_fixture, pg_url_fixture  # noqa: F401
from tests.replicas import Replica


def _record(i: int) -> UsageRecord:
    return UsageRecord(request_id=f"r{i}", ts=1_750_000_000.0 + i, endpoint="chat.completions", model_requested="m")


def test_a_record_survives_the_journal_exactly() -> None:
    full = UsageRecord(
        request_id="req-1", ts=1_750_000_000.25, endpoint="messages", model_requested="alias", model="claude-x",
        deployment="anthropic", provider="anthropic", tenant="acme", team="t", project="p", user="u", key_id="k",
        tags={"feature": "search"}, stream=True, status=502, error_type="stream_interrupted", error_message="cut",
        usage=Usage(1, 2, 3, 4, 6, 5), service_tier="priority", priced=False, price_source="src",
        list_cost=CostBreakdown(Decimal("0.1"), Decimal("0.02"), Decimal("0.003"), Decimal("0.0004")),
        cost=CostBreakdown(Decimal("0.00000005"), Decimal(0), Decimal("1E-9"), Decimal("7")),
        latency_ms=12.5, ttft_ms=3.25, cache="miss", avoided_cost=Decimal("0.123456789"),
    )
    assert decode(encode(full)) == full  # every field: a field added to the record must be added here too
    assert decode(encode(_record(1))) == _record(1)


def test_done_records_leave_the_journal_and_full_segments_are_deleted(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096)
    records = [_record(i) for i in range(200)]
    for r in records:
        journal.append(r)
    segments = sorted(tmp_path.glob("*.journal"))
    assert len(segments) > 3 and journal.pending == 200
    journal.done(records[:150])
    left = sorted(tmp_path.glob("*.journal"))
    assert 0 < len(left) < len(segments) and journal.pending == 50
    lines = b"".join(p.read_bytes() for p in left).splitlines()
    assert {decode(line).request_id for line in lines} >= {r.request_id for r in records[150:]}
    journal.done(records[150:])
    journal.close()
    assert list(tmp_path.glob("*.journal")) == []


def test_recovery_takes_a_dead_process_segments_but_never_a_live_ones(tmp_path: Path) -> None:
    live = Journal(tmp_path)
    live.append(_record(1))
    # a dead process's segment, its last line torn by the kill
    (tmp_path / "999-dead-000001.journal").write_bytes(encode(_record(2)) + encode(_record(3)) + b'[1, "r4", 17')

    other = Journal(tmp_path)
    recovered = other.recover()
    assert [r.request_id for r in recovered] == ["r2", "r3"]
    assert (tmp_path / "999-dead-000001.journal").exists()  # until the store has them
    other.done(recovered)
    assert not (tmp_path / "999-dead-000001.journal").exists()
    assert Journal(tmp_path).recover() == []  # the live journal's segment is locked: not taken
    live.done([_record(1)])
    live.close()


# -- kill -9 under load -------------------------------------------------------------------------


def _load(url: str, stop: threading.Event, answered: list[str], threads: int = 8) -> list[threading.Thread]:
    """Clients that keep calling and note the request id of every answer they receive in full."""

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"client {n} call {i}"}],
                    "stream": i % 2 == 0}
            try:
                reply = rawhttp.post(f"{url}/v1/chat/completions", orjson.dumps(body), timeout=5)
            except (OSError, http.client.HTTPException):
                continue  # the server died mid-call: this answer was never received
            if reply.status == 200 and (not body["stream"] or b"[DONE]" in reply.body):
                answered.append(reply.headers["x-costops-request-id"])

    workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    return workers


def _kill_under_load(url: str, replica: Replica, seconds: float) -> list[str]:
    stop, answered = threading.Event(), []
    workers = _load(url, stop, answered)
    deadline = time.monotonic() + 60
    while len(answered) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(seconds)
    os.kill(replica.proc.pid, signal.SIGKILL)
    replica.proc.wait(10)
    stop.set()
    for w in workers:
        w.join(10)
    replica.log.close()
    assert len(answered) >= 300, "the load never got going"
    return answered


def _ledger_ids(db: str) -> set[str]:
    store = open_store(db)
    try:
        return {r.request_id for r in store.iter_records(Filters())}
    finally:
        store.close()


def test_kill_9_under_load_loses_no_answered_call(simulator, tmp_path: Path) -> None:
    config = tmp_path / "costops.yaml"
    config.write_text("ledger: {flush_interval_s: 5, batch_size: 100000}\n")  # rows wait in memory: the worst case
    db = f"sqlite:///{tmp_path}/ledger.db"
    first = Replica(config, simulator.url, tmp_path, 1, db=db).wait_ready()
    answered = _kill_under_load(first.url, first, 0.5)
    assert len(_ledger_ids(db) & set(answered)) < len(answered), "nothing was waiting in memory: the test proves nothing"

    second = Replica(config, simulator.url, tmp_path, 2, db=db).wait_ready()
    second.stop()  # a graceful stop flushes what the restart recovered
    missing = set(answered) - _ledger_ids(db)
    assert not missing, f"{len(missing)} of {len(answered)} answered calls are not in the ledger"
    assert list((tmp_path / "ledger.db.journal").glob("*.journal")) == []


@pytest.mark.postgres
def test_kill_9_during_a_postgres_outage_loses_no_answered_call(simulator, pg_url, tmp_path: Path) -> None:
    from tests.tcp_proxy import TcpProxy

    proxy = TcpProxy(5432)
    db = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    config = tmp_path / "costops.yaml"
    config.write_text(f"ledger: {{journal_dir: {tmp_path / 'journal'}, spill_path: {tmp_path / 'spill.jsonl'}}}\n")
    first = Replica(config, simulator.url, tmp_path, 1, db=db).wait_ready()
    proxy.down()
    answered = _kill_under_load(first.url, first, 1.0)
    proxy.up()
    second = Replica(config, simulator.url, tmp_path, 2, db=db).wait_ready()
    second.stop()
    missing = set(answered) - _ledger_ids(pg_url)
    assert not missing, f"{len(missing)} of {len(answered)} answered calls are not in the ledger"


def test_a_clean_stop_leaves_no_journal_behind(make_gateway, tmp_path: Path) -> None:
    gw = make_gateway(f"ledger: {{journal_dir: '{tmp_path / 'j'}'}}\n")
    rawhttp.post(f"{gw.url}/v1/chat/completions", orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
    gw.records(1)
    assert list((tmp_path / "j").glob("*.journal"))  # the open segment, its record released but the file still held
    gw.server.stop()
    assert not (tmp_path / "j").exists()
