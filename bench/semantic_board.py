"""What cross-replica semantic single-flight adds to a semantic miss, on the real Redis.

A leading miss used to make one ``SET NX PX`` (the text claim); now it makes one script that
claims, reads its scope's board and posts itself (``Claims.lead``), and ``after`` takes it off
(``Claims.resign``, which replaced the claim's release). Printed: p50/p95 microseconds of the
old claim + release, of lead + resign with 0 and 32 leaders on the board, and of judging a full
board in-process (decode 32 float16 vectors, the cosine gate, the judge on the nearest 2).

    .venv/bin/python bench/semantic_board.py [--n 2000] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from costops.cache.flights import BOARD_SIZE, Claims
from costops.cache.semantic.config import parse_semantic
from costops.cache.semantic.scope import Lookup
from costops.cache.semantic.stage import SemanticCacheStage, _board_item


def pct(samples: list[float]) -> str:
    s = sorted(samples)
    return f"p50 {statistics.median(s):7.1f} us   p95 {s[int(len(s) * 0.95)]:7.1f} us"


async def run(n: int, url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url)
    prefix = f"costops:bench:{uuid.uuid4().hex[:8]}:"
    claims = Claims(lambda: client, prefix)
    stage = SemanticCacheStage(parse_semantic({}), time.time, exact_cache=False)
    stage.claims = claims
    vector = stage.embedder.embed("How do I upgrade my subscription to the annual plan?")

    async def timed(fn) -> list[float]:  # noqa: ANN001
        out = []
        for i in range(n):
            t = time.perf_counter()
            await fn(i)
            out.append((time.perf_counter() - t) * 1e6)
        return out

    async def old(i: int) -> None:
        await claims.claim(f"s:{i}", "t", 30)
        await claims.release(f"s:{i}", "t")

    def lead_on(board: str):  # noqa: ANN202
        async def lead(i: int) -> None:
            item = _board_item(f"s:{i}", vector, 30)
            await claims.lead(f"s:{i}", "t", 30, board, item, "How do I upgrade my subscription?")
            await claims.resign(f"s:{i}", "t", board, item)
        return lead

    print(f"claim + release (before)       {pct(await timed(old))}")
    print(f"lead + resign, empty board     {pct(await timed(lead_on('b:empty')))}")
    for k in range(BOARD_SIZE):  # a full board: 32 other leaders in flight in the scope
        await claims.lead(f"other:{k}", "t", 300, "b:full", _board_item(f"other:{k}", vector, 300),
                          f"How do I upgrade seat {k} of my subscription to the annual plan?")
    print(f"lead + resign, {BOARD_SIZE} on the board  {pct(await timed(lead_on('b:full')))}")
    posted = [_board_item(f"other:{k}", stage.embedder.embed(f"How do I upgrade seat {k} of my subscription to the annual plan?"), 300)
              for k in range(BOARD_SIZE)]
    lookup = Lookup(scope="s", text="Hi! How can I upgrade my subscription to the annual plan? Thanks")
    judged = await timed(lambda i: stage._posted_leader(lookup, vector, posted, 0.5, None))
    print(f"judge a full board (+ MGET)    {pct(judged)}")
    keys = await client.keys(prefix + "*")
    if keys:
        await client.delete(*keys)
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    asyncio.run(run(args.n, args.redis))


if __name__ == "__main__":
    main()
