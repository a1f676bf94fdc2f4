"""Single-flight: identical concurrent cacheable requests make one upstream call.

The first request for a cache key (the *leader*) goes upstream. A request for the same key that
arrives while the leader is in flight (a *follower*) waits for the leader's answer instead of
paying for its own, for at most ``wait_s``; then, or at once if the leader fails, it goes
upstream itself. Followers are answered as cache hits (``x-costops-cache: exact`` or
``semantic``, the ledger row's ``cache`` the same, the cost avoided booked), with
``x-costops-cache-wait-ms`` saying how long they waited.

Across replicas, best effort: the leader also *claims* the key in Redis (``SET NX PX wait_s``).
A request on another replica that finds the key claimed leads there only for its own replica:
it polls the shared tier for the answer until the answer is there, the claim is gone or its wait
is over. If Redis is down every replica acts alone.

The semantic cache also posts each leader on a *board* per scope (:meth:`Claims.lead`, in the
same round trip as the claim): the 32 latest leaders' claims, deadlines and vectors, and each
one's question under a key of its own. A request on another replica that its judge would serve
from one of them (as it would a cached entry) withdraws its own claim and polls for that
leader's answer. Two paraphrases that lead at the same moment both see the board only as it was
before them: the later one sees the earlier one, never the reverse, so at most one of a pair
follows the other; a chain (C saw B, B saw A) ends in C going upstream once B's claim is gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("costops.cache")

WAIT_HEADER = b"x-costops-cache-wait-ms"
TIMED_OUT = "flight-timed-out"
"""``call.state`` key set by a cache stage whose follower waited in vain: the next cache stage
(semantic after exact) does not make the request wait a second time."""
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
BOARD_SIZE = 32
"""Leaders a board keeps per scope (the latest): what a follower on another replica reads and judges."""
_LEAD = """
if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
local others = redis.call('lrange', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('set', KEYS[3], ARGV[4], 'PX', ARGV[2])
redis.call('lpush', KEYS[2], ARGV[3])
redis.call('ltrim', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('pexpire', KEYS[2], ARGV[2])
return others
"""
"""KEYS: the claim, the scope's board, the leader's question; ARGV: token, ms, board item, question, size."""
_RESIGN = """
redis.call('lrem', KEYS[2], 1, ARGV[2])
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1], KEYS[3]) end
return 0
"""


class Flights:
    """The leaders in flight in this process, by key. A leader's slot holds None until a follower
    arrives, which puts there the future it and later followers await: a leader nobody follows
    (nearly every miss) costs one dict insert and one pop, no future."""

    def __init__(self) -> None:
        self._leaders: dict[str, asyncio.Future[Any] | None] = {}
        self.waiting = 0
        """Followers waiting right now (the stage's stats show it)."""

    def __contains__(self, key: str) -> bool:
        return key in self._leaders

    def lead(self, key: str) -> None:
        """Make the caller the leader for ``key``; nothing may be awaited between the check
        that no one leads and this call, so two requests never both lead in one process."""
        assert key not in self._leaders, key
        self._leaders[key] = None

    def try_lead(self, key: str) -> bool:
        """Lead for ``key`` unless someone here already does: the check and :meth:`lead` in one step."""
        leaders = self._leaders
        if key in leaders:
            return False
        leaders[key] = None
        return True

    def land(self, key: str, answer: Any) -> None:
        """The leader is done: its followers get ``answer`` (None: go upstream yourselves)."""
        future = self._leaders.pop(key, None)
        if future is not None and not future.done():
            future.set_result(answer)

    async def follow(self, key: str, wait_s: float) -> Any:
        """The leader's answer, or None after ``wait_s`` or when the leader failed."""
        future = self._leaders[key]
        if future is None:  # the first follower: the future every follower of this leader awaits
            future = self._leaders[key] = asyncio.get_running_loop().create_future()
        try:
            return await self.waiting_for(asyncio.wait_for(asyncio.shield(future), wait_s))
        except asyncio.TimeoutError:
            return None

    async def waiting_for(self, answer: Awaitable[Any]) -> Any:
        """``answer`` awaited as a follower (of a leader here, or on another replica)."""
        self.waiting += 1
        try:
            return await answer
        finally:
            self.waiting -= 1


class Claims:
    """Leaders' claims shared by the replicas through Redis; every failure reads as 'not claimed'
    (a request goes upstream as it would without single-flight)."""

    def __init__(self, client: Callable[[], Any], prefix: str) -> None:
        self._client, self.prefix = client, prefix
        self.errors = 0

    async def claim(self, key: str, token: str, wait_s: float) -> bool:
        """True when this request may lead (or Redis cannot say otherwise)."""
        try:
            return bool(await self._client().set(self.prefix + key, token, nx=True, px=max(1, int(wait_s * 1000))))
        except Exception as exc:
            self._failed("claim", exc)
            return True

    async def held(self, key: str) -> bool:
        try:
            return bool(await self._client().exists(self.prefix + key))
        except Exception as exc:
            self._failed("read a claim", exc)
            return False

    async def release(self, key: str, token: str) -> None:
        try:
            await self._client().eval(_RELEASE, 1, self.prefix + key, token)
        except Exception as exc:
            self._failed("release a claim", exc)

    async def lead(self, key: str, token: str, wait_s: float, board: str, item: bytes, question: str) -> list[bytes] | None:
        """Claim ``key`` and post ``item`` on ``board`` (its question kept beside it): the items
        that were on the board before (this request leads), or None when ``key`` is claimed
        already (the same text leads on another replica). Redis failing: leads, alone."""
        try:
            others = await self._client().eval(
                _LEAD, 3, self.prefix + key, self.prefix + board, self.question_key(key),
                token, max(1, int(wait_s * 1000)), item, question, BOARD_SIZE)
        except Exception as exc:
            self._failed("claim and post a leader", exc)
            return []
        return None if others is None else list(others)

    async def resign(self, key: str, token: str, board: str, item: bytes) -> None:
        """Take a leader off the board and give up its claim (it follows another, or it is done)."""
        try:
            await self._client().eval(_RESIGN, 3, self.prefix + key, self.prefix + board, self.question_key(key),
                                      token, item)
        except Exception as exc:
            self._failed("take a leader off the board", exc)

    async def questions(self, keys: list[str]) -> list[bytes | None]:
        """The posted leaders' questions (None: that leader is gone)."""
        try:
            return list(await self._client().mget([self.question_key(k) for k in keys]))
        except Exception as exc:
            self._failed("read leaders' questions", exc)
            return [None] * len(keys)

    def question_key(self, key: str) -> str:
        return self.prefix + "q:" + key

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 1000 == 0:
            log.warning("single-flight: Redis could not %s (%s errors so far): %s", what, self.errors, exc)


async def poll(find: Callable[[], Awaitable[Any]], claimed: Callable[[], Awaitable[bool]], wait_s: float) -> Any:
    """What another replica's leader stored, found by ``find`` (None while absent), polled with a
    growing pause until found, the claim is released (one last look) or ``wait_s`` is over."""
    deadline = time.monotonic() + wait_s
    pause = 0.02
    while True:
        found = await find()
        if found is not None:
            return found
        if time.monotonic() + pause > deadline:
            return None
        if not await claimed():
            await asyncio.sleep(pause)  # the answer is stored before the claim goes, but it may be travelling
            return await find()
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.25)


def wait_header(started: float) -> tuple[bytes, bytes]:
    return WAIT_HEADER, str(int((time.perf_counter() - started) * 1000)).encode()
