"""What the crash journal costs on the request path: CPU per ``Journal.append`` (encode one
record, one ``write()`` to an O_APPEND file), against the same record's encode alone.

    .venv/bin/python bench/journal.py [-n 50000] [--dir DIR]

It runs in process and measures CPU time (``time.process_time``), which a busy machine disturbs
far less than wall time; compare it with the gateway's CPU per request (``bench/gateway.py``
prints it) to see its share.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal

from costops.ledger.journal import Journal, encode
from costops.ledger.record import UsageRecord
from costops.pricing import CostBreakdown
from costops.usage import Usage


def record(i: int) -> UsageRecord:
    cost = CostBreakdown(Decimal("0.0000225"), Decimal(0), Decimal(0), Decimal("0.000036"))
    return UsageRecord(
        request_id=f"bench-{i:012x}", ts=1_750_000_000.0 + i, endpoint="chat.completions",
        model_requested="gpt-4o-mini", model="gpt-4o-mini", deployment="openai", provider="openai",
        tenant="acme", key_id="team-a", tags={"feature": "search", "env": "prod"},
        usage=Usage(input_tokens=150, output_tokens=60), price_source="genai-prices 0.0.x: openai/gpt-4o-mini",
        list_cost=cost, cost=cost, latency_ms=1.25, ttft_ms=1.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50_000)
    parser.add_argument("--dir", default=None, help="where the journal goes (default: a temporary directory)")
    args = parser.parse_args()
    records = [record(i) for i in range(args.n)]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        journal = Journal(tmp)
        started = time.process_time()
        for r in records:
            encode(r)
        encode_us = (time.process_time() - started) / args.n * 1e6
        started = time.process_time()
        for r in records:
            journal.append(r)
        append_us = (time.process_time() - started) / args.n * 1e6
        started = time.process_time()
        journal.done(records)
        done_us = (time.process_time() - started) / args.n * 1e6
        journal.close()
    print(f"records: {args.n:,}  line: {len(encode(records[0]))} bytes")
    print(f"encode only      {encode_us:6.2f} us CPU per record")
    print(f"append (encode + write)  {append_us:6.2f} us CPU per record")
    print(f"done (release)   {done_us:6.2f} us CPU per record")
    print(f"journal total    {append_us + done_us:6.2f} us CPU per call")


if __name__ == "__main__":
    main()
