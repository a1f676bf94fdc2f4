"""The priority queue over real HTTP: order (high first, then earliest deadline), deadlines and a
full queue answered with clear errors, and a request admitted as soon as a refund frees tokens.

Each gateway runs on a test clock: stopped where no time must pass (then only a freed slot or a
refund can let a waiter in), running on in real time where a deadline must expire."""

from __future__ import annotations

import re
import threading
import time

import openai
import pytest

from tests import rawhttp
from tests.clock import Clock

KEYS = "keys:\n  - {id: bot, key: sk-bot, tenant: acme}\n"
HI = [{"role": "user", "content": "hi"}]


def oa(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-bot", max_retries=0, timeout=30)  # fail, never hang


def status(gw) -> dict:
    return rawhttp.get(f"{gw.url}/admin/limits/status").json()


def until(what: str, done) -> None:
    """Poll the gateway until ``done()``, with a deadline generous enough for a loaded machine."""
    deadline = time.monotonic() + 10
    while not done():
        assert time.monotonic() < deadline, f"the gateway never showed {what}"
        time.sleep(0.01)


def start_blocker(gw, client: openai.OpenAI, seconds: float) -> threading.Thread:
    """A call holding the key's only slot for ``seconds``, once the gateway says it holds it."""
    slow = [{"role": "user", "content": f"hi [[sim:delay={seconds}]]"}]
    thread = threading.Thread(target=lambda: client.chat.completions.create(model="gpt-4o-mini", messages=slow))
    thread.start()
    until("the blocking call in its slot", lambda: any(r.get("in_use") for r in status(gw)["limits"]))
    return thread


def until_queued(gw, n: int) -> None:
    until(f"{n} requests in the queue", lambda: status(gw)["queue"]["depth"] == n)


def record_admissions(gw) -> list[str]:
    """The names (tag ``test``) of queued requests in the order the gateway's queue lets them
    in. The clients' own finishing order would do only as long as no client thread is held up by
    more than one upstream call: a loaded machine breaks that."""
    [stage] = [s for s in gw.gateway.stages if s.name == "limits"]
    queue, admitted = stage.queue, []
    let_in = queue.wait

    async def wait(attempt, verdict, headers, *args, **kw) -> None:
        await let_in(attempt, verdict, headers, *args, **kw)
        admitted.append(headers.get("x-costops-tags", "").removeprefix("test="))

    queue.wait = wait
    return admitted


def test_high_priority_first_then_earliest_deadline(make_gateway) -> None:
    clock = Clock()  # stopped: no deadline passes, no waiter ages; only the freed slot lets one in
    gw = make_gateway(KEYS + "limits:\n  - {scope: key, id: bot, concurrent: 1}\nqueue: {max_size: 10, max_wait_s: 10}\n",
                      clock=clock)
    admitted = record_admissions(gw)
    client = oa(gw)
    blocker = start_blocker(gw, client, 2)
    served: list[str] = []

    def send(name: str, headers: dict[str, str]) -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=HI, extra_headers={**headers, "x-costops-tags": f"test={name}"})
        served.append(name)

    waiting = [
        ("low", {"x-costops-priority": "low"}),
        ("normal-deadline-9s", {"x-costops-deadline": "9"}),
        ("normal-deadline-5s", {"x-costops-deadline": str(int((clock() + 5) * 1000))}),  # Unix ms
        ("high", {"x-costops-priority": "high"}),
    ]
    threads = []
    for n, (name, headers) in enumerate(waiting, 1):  # each in line before the next arrives
        threads.append(threading.Thread(target=send, args=(name, headers)))
        threads[-1].start()
        until_queued(gw, n)
    assert blocker.is_alive(), "the blocker let go before all four waited: the order below proves nothing"
    blocker.join()
    for t in threads:
        t.join()
    assert sorted(served) == sorted(name for name, _ in waiting)
    assert admitted == ["high", "normal-deadline-5s", "normal-deadline-9s", "low"]  # the reverse of arrival


def test_deadline_expiry_and_full_queue_get_clear_errors(make_gateway) -> None:
    gw = make_gateway(
        KEYS
        + """limits:
  - {scope: key, id: bot, concurrent: 1}
  - {scope: tenant, id: acme, rpm: 3}
queue: {max_size: 2, max_wait_s: 10}
""",
        clock=Clock(ticking=True),  # a deadline must pass
    )
    client = oa(gw)
    blocker = start_blocker(gw, client, 2)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as exc:  # the slot frees in 2 s: the deadline comes first
        client.chat.completions.create(model="gpt-4o-mini", messages=HI, extra_headers={"x-costops-deadline": "0.3"})
    assert time.monotonic() - started >= 0.3  # it waited for its deadline, not refused on arrival
    assert exc.value.code == "queue_deadline_exceeded"
    message = re.fullmatch(
        r"rate limit reached for key bot: 1 concurrent requests; waited (\d+\.\d)s in the queue and its "
        r"x-costops-deadline passes before a slot frees up", exc.value.body["message"]
    )
    assert message and float(message[1]) >= 0.3, exc.value.body["message"]
    fillers = [threading.Thread(target=lambda: client.chat.completions.create(model="gpt-4o-mini", messages=HI)) for _ in range(2)]
    for t in fillers:
        t.start()
    until_queued(gw, 2)
    with pytest.raises(openai.InternalServerError) as full:
        client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert full.value.status_code == 503 and full.value.code == "queue_full"
    assert full.value.body["message"] == (
        "rate limit reached for key bot: 1 concurrent requests, and the gateway's queue is full "
        "(2 requests waiting, queue.max_size); retry later"
    )
    assert full.value.response.headers["retry-after"] == "1"
    blocker.join()
    for t in fillers:
        t.join()  # both queued requests were served
    # the tenant's 3 requests a minute are spent: up to 20s of refill is past max_wait_s, so no
    # waiting (the gateway says it waited 0.0 s)
    with pytest.raises(openai.RateLimitError, match=r"tenant acme: 3 requests per minute; waited 0.0s in the queue and "
                       r"queue.max_wait_s \(10s\) runs out before the limit frees up \(in \d+\.\ds\)") as spent:
        client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    refill = float(re.search(r"\(in (\d+\.\d)s\)", spent.value.body["message"])[1])
    assert 10 < refill <= 20  # past max_wait_s, within one token's 20 s
    assert [r.status for r in gw.records(6)].count(200) == 3


def test_a_queued_request_goes_as_soon_as_a_settled_call_refunds_its_estimate(make_gateway) -> None:
    # the clock stands still, so the bucket never refills: only the first call's refund (it
    # reserves 900 tokens and uses far fewer) can let the second in
    gw = make_gateway(KEYS + "limits:\n  - {scope: key, id: bot, tpm: 1000}\nqueue: {max_size: 10, max_wait_s: 10}\n",
                      clock=Clock())
    client = oa(gw)
    big = [{"role": "user", "content": "hi [[sim:delay=1]]"}]
    first = threading.Thread(target=lambda: client.chat.completions.create(model="gpt-4o-mini", messages=big, max_tokens=900))
    first.start()
    until("the first call's reservation", lambda: any(r["level"] < 150 for r in status(gw)["limits"]))
    served: list[str] = []
    second = threading.Thread(target=lambda: served.append(
        client.chat.completions.create(model="gpt-4o-mini", messages=HI, max_tokens=150).id))
    second.start()
    until_queued(gw, 1)  # it waits for tokens the first call holds
    first.join()
    second.join()
    assert served and status(gw)["queue"]["depth"] == 0
