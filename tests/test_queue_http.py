"""The priority queue over real HTTP: order (high first, then earliest deadline), deadlines and a
full queue answered with clear errors, and a request admitted as soon as a refund frees tokens."""

from __future__ import annotations

import threading
import time

import openai
import pytest

from tests import rawhttp

KEYS = "keys:\n  - {id: bot, key: sk-bot, tenant: acme}\n"
HI = [{"role": "user", "content": "hi"}]


def oa(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-bot", max_retries=0)


def start_blocker(gw, client: openai.OpenAI, seconds: float) -> threading.Thread:
    """A call holding the key's only slot for ``seconds``, once the gateway says it holds it."""
    slow = [{"role": "user", "content": f"hi [[sim:delay={seconds}]]"}]
    thread = threading.Thread(target=lambda: client.chat.completions.create(model="gpt-4o-mini", messages=slow))
    thread.start()
    for _ in range(200):
        rows = rawhttp.get(f"{gw.url}/admin/limits/status").json()["limits"]
        if any(r.get("in_use") for r in rows):
            return thread
        time.sleep(0.01)
    raise AssertionError("the blocking call never took its slot")


def test_high_priority_first_then_earliest_deadline(make_gateway) -> None:
    gw = make_gateway(KEYS + "limits:\n  - {scope: key, id: bot, concurrent: 1}\nqueue: {max_size: 10, max_wait_s: 10}\n")
    client = oa(gw)
    blocker = start_blocker(gw, client, 0.8)
    finished: list[str] = []

    def send(name: str, headers: dict[str, str]) -> None:
        # 50 ms upstream each, so the order they finish in is the order they were let in
        slow = [{"role": "user", "content": "hi [[sim:delay=0.05]]"}]
        client.chat.completions.create(model="gpt-4o-mini", messages=slow, extra_headers=headers)
        finished.append(name)

    waiting = [
        ("low", {"x-costops-priority": "low"}),
        ("normal, deadline in 9s", {"x-costops-deadline": "9"}),
        ("normal, deadline in 5s", {"x-costops-deadline": str(int((time.time() + 5) * 1000))}),  # Unix ms
        ("high", {"x-costops-priority": "high"}),
    ]
    threads = []
    for name, headers in waiting:
        threads.append(threading.Thread(target=send, args=(name, headers)))
        threads[-1].start()
        time.sleep(0.05)
    blocker.join()
    for t in threads:
        t.join()
    assert finished == ["high", "normal, deadline in 5s", "normal, deadline in 9s", "low"]


def test_deadline_expiry_and_full_queue_get_clear_errors(make_gateway) -> None:
    gw = make_gateway(
        KEYS
        + """limits:
  - {scope: key, id: bot, concurrent: 1}
  - {scope: tenant, id: acme, rpm: 3}
queue: {max_size: 2, max_wait_s: 10}
"""
    )
    client = oa(gw)
    blocker = start_blocker(gw, client, 1.0)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=HI, extra_headers={"x-costops-deadline": "0.3"})
    assert 0.25 < time.monotonic() - started < 0.8
    assert exc.value.code == "queue_deadline_exceeded"
    assert exc.value.body["message"] == (
        "rate limit reached for key bot: 1 concurrent requests; waited 0.3s in the queue and its x-costops-deadline "
        "passes before a slot frees up"
    )
    fillers = [threading.Thread(target=lambda: client.chat.completions.create(model="gpt-4o-mini", messages=HI)) for _ in range(2)]
    for t in fillers:
        t.start()
    time.sleep(0.1)
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
    # the tenant's 3 requests a minute are spent: 20s of refill is past max_wait_s, so no waiting
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError, match=r"tenant acme: 3 requests per minute; waited 0.0s in the queue and "
                       r"queue.max_wait_s \(10s\) runs out before the limit frees up \(in 1\d\.\ds\)"):
        client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert time.monotonic() - started < 0.5
    assert [r.status for r in gw.records(6)].count(200) == 3


def test_a_queued_request_goes_as_soon_as_a_settled_call_refunds_its_estimate(make_gateway) -> None:
    gw = make_gateway(KEYS + "limits:\n  - {scope: key, id: bot, tpm: 1000}\nqueue: {max_size: 10, max_wait_s: 10}\n")
    client = oa(gw)
    big = [{"role": "user", "content": "hi [[sim:delay=0.5]]"}]
    first = threading.Thread(target=lambda: client.chat.completions.create(model="gpt-4o-mini", messages=big, max_tokens=900))
    first.start()
    time.sleep(0.15)
    started = time.monotonic()
    client.chat.completions.create(model="gpt-4o-mini", messages=HI, max_tokens=150)  # ~4s of refill short
    assert time.monotonic() - started < 1.5
    first.join()
