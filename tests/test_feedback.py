"""POST /v1/feedback over real HTTP: a score for an answered call lands in the ledger; an unknown
id (or another tenant's) is a 404, a score out of range a 400, in OpenAI's error shape."""

from __future__ import annotations

import openai
import pytest

from tests import rawhttp

KEYS = """
keys:
  - {id: a, key: sk-acme, tenant: acme}
  - {id: g, key: sk-globex, tenant: globex}
"""


def _feedback(gw, body, key="sk-acme"):
    return rawhttp.post(f"{gw.url}/v1/feedback", json=body, headers={"authorization": f"Bearer {key}"})


@pytest.fixture
def answered(make_gateway):
    gw = make_gateway(KEYS)
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", max_retries=0)
    raw = oa.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    return gw, raw.headers["x-costops-request-id"]


def test_a_score_is_recorded_and_a_later_one_replaces_it(answered) -> None:
    gw, request_id = answered
    first = _feedback(gw, {"request_id": request_id, "score": 0.25})  # before the row is even written
    assert first.status == 200 and first.json() == {"request_id": request_id, "score": 0.25, "recorded": True}
    gw.records(1)
    assert _feedback(gw, {"request_id": request_id, "score": 1, "comment": "good after all"}).status == 200
    assert gw.gateway.store.feedback(request_id) == 1.0


def test_known_only_to_the_ledger_still_counts(answered) -> None:
    gw, request_id = answered
    gw.records(1)
    gw.gateway.recent = type(gw.gateway.recent)()  # as after a restart: only the ledger knows the id
    assert _feedback(gw, {"request_id": request_id, "score": 0.5}).status == 200


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"request_id": "no-such-id", "score": 0.5}, 404, "no call with request id 'no-such-id'"),
        ({"score": 0.5}, 400, "'request_id' must be"),
        ({"request_id": "x", "score": 1.5}, 400, "'score' must be from 0 to 1, not 1.5"),
        ({"request_id": "x", "score": "good"}, 400, "'score' must be a number"),
        ({"request_id": "x", "score": True}, 400, "'score' must be a number"),
    ],
)
def test_bad_feedback_is_refused_in_openai_shape(answered, body, status, says) -> None:
    gw, _ = answered
    reply = _feedback(gw, body)
    assert reply.status == status and says in reply.json()["error"]["message"]


def test_another_tenant_cannot_score_my_calls(answered) -> None:
    gw, request_id = answered
    reply = _feedback(gw, {"request_id": request_id, "score": 0.0}, key="sk-globex")
    assert reply.status == 404
    assert _feedback(gw, {"request_id": request_id, "score": 0.0}, key="sk-wrong").status == 401
