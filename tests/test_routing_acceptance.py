"""A cascade's two costly checks, over real HTTP: logprob confidence (the simulator's logprobs
follow its hidden grade, so confidence carries signal) and a judge model whose call is an
attempt row of its own, counted in the logical request."""

from __future__ import annotations

import json
from decimal import Decimal

import openai
import pytest

from costops.analysis.report import build_report
from costops.config import ConfigError
from costops.routing.acceptance import (
    Acceptance,
    Judge,
    confidence,
    judge,
    judge_request,
    judge_score,
    parse_acceptance,
)
from costops.serving import BackgroundServer
from tests.asgi_body import request_body
from tests.test_simulator_grading import grade_of, pinned_catalog, prompts

# -- pure decisions ------------------------------------------------------------------------------


def _with_logprobs(values: list[float]) -> bytes:
    content = [{"token": "w ", "logprob": v, "bytes": [119, 32], "top_logprobs": []} for v in values]
    return json.dumps({"choices": [{"message": {"content": "Paris is the capital."}, "finish_reason": "stop",
                                    "logprobs": {"content": content, "refusal": None}}]}).encode()


def test_confidence_is_the_geometric_mean_token_probability() -> None:
    body = _with_logprobs([-0.1, -0.3])
    assert confidence(body) == pytest.approx(0.8187, abs=1e-4)  # exp(-0.2)
    assert confidence(b'{"choices": [{"message": {"content": "x"}, "logprobs": null}]}') is None
    assert not judge(Acceptance(min_confidence=0.9), "openai", {}, body).ok
    assert judge(Acceptance(min_confidence=0.8), "openai", {}, body).ok
    # a provider that gives no logprobs is not judged on them
    assert judge(Acceptance(min_confidence=0.99), "openai", {}, b'{"choices": [{"message": {"content": "Paris."}}]}').ok


@pytest.mark.parametrize(("reply", "ok"), [("8", True), ("Grade: 7/10", True), ("6", False), ("10", True), ("none", False)])
def test_the_judges_grade_is_the_first_number_in_its_reply(reply, ok) -> None:
    body = json.dumps({"choices": [{"message": {"content": reply}, "finish_reason": "stop"}]}).encode()
    assert judge_score("openai", body, Judge("gpt-4o-mini", 7)).ok is ok


def test_the_judge_request_carries_the_prompt_and_the_answer_in_the_clients_format() -> None:
    request = {"system": "Be brief.", "messages": [{"role": "user", "content": "Capital of France?"}]}
    body = judge_request("anthropic", request, "Paris.", Judge("claude-haiku-4-5", max_tokens=4))
    assert body["max_tokens"] == 4 and "grade" in body["system"]
    assert "Capital of France?" in body["messages"][0]["content"] and "Paris." in body["messages"][0]["content"]


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"accept.min_confidence"):
        parse_acceptance({"min_confidence": 2}, "accept")
    with pytest.raises(ConfigError, match=r"accept.judge.min_score"):
        parse_acceptance({"judge": {"model": "m", "min_score": 11}}, "accept")
    assert parse_acceptance({"judge": "gpt-4o-mini"}, "accept").judge == Judge("gpt-4o-mini")


# -- the simulator's logprobs --------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded():
    from costops.providers.simulator import Grading, SimConfig, create_simulator

    config = SimConfig(latency_scale=0, grading=Grading(detectable=0.0))  # every failure reads like a good answer
    with BackgroundServer(create_simulator(config, catalog=pinned_catalog())) as srv:
        yield srv


def test_the_simulator_gives_logprobs_only_when_asked_and_they_follow_the_grade(graded) -> None:
    oa = openai.OpenAI(base_url=f"{graded.url}/v1", api_key="x", max_retries=0)
    plain = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi there."}])
    assert plain.choices[0].logprobs is None
    sure = {True: [], False: []}
    for text in prompts(80, " (confidence)"):
        answer = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}], logprobs=True)
        tokens = answer.choices[0].logprobs.content
        assert tokens and "".join(t.token for t in tokens) == answer.choices[0].message.content
        sure[grade_of(graded.url, answer.id)["passed"]].append(confidence(answer.model_dump_json().encode()))
    assert len(sure[True]) >= 10 and len(sure[False]) >= 10  # both kinds occur
    mean = {k: sum(v) / len(v) for k, v in sure.items()}
    print(f"\nconfidence: passing answers {mean[True]:.3f} (n={len(sure[True])}), failing {mean[False]:.3f} (n={len(sure[False])})")
    assert mean[True] - mean[False] > 0.1  # the ranges overlap, the means do not


# -- through the gateway -------------------------------------------------------------------------


def test_a_cascade_on_confidence_keeps_the_surer_cheap_answers(make_gateway, graded) -> None:
    gw = make_gateway(f"""
deployments:
  - {{name: sim, kind: openai, base_url: "{graded.url}/v1", api_key: x, models: ["gpt-4o*"]}}
routing:
  policies:
    sure: {{kind: cascade, models: [gpt-4o-mini, gpt-4o], accept: {{min_confidence: 0.75}}}}
""")
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    kept, baseline = [], []
    for text in prompts(60, " (cascade)"):
        answer = oa.chat.completions.create(model="sure", messages=[{"role": "user", "content": text}])
        assert answer.choices[0].logprobs is None  # the cascade asked for them; the client did not
        if answer.model.startswith("gpt-4o-mini"):
            kept.append(grade_of(graded.url, answer.id)["passed"])
        plain = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text + " again"}])
        baseline.append(grade_of(graded.url, plain.id)["passed"])
    rows = gw.records(60 * 3 - len(kept))
    rejected = [r for r in rows if r.error_type == "rejected"]
    assert rejected and all("low confidence" in r.error_message for r in rejected)
    print(f"\ncheap answers kept {len(kept)} of 60, passing {sum(kept) / len(kept):.2f}; gpt-4o-mini alone "
          f"{sum(baseline) / len(baseline):.2f}")
    assert len(kept) >= 10
    assert sum(kept) / len(kept) > sum(baseline) / len(baseline) + 0.05  # kept cheap answers pass more often


def test_a_gemini_cascade_reads_confidence_from_gemini_logprobs(make_gateway, graded) -> None:
    """Gemini answers carry ``logprobsResult`` when asked (``responseLogprobs``); the translation
    gives them to an OpenAI-format client in OpenAI's shape, and the cascade judges with them."""
    gw = make_gateway(f"""
deployments:
  - {{name: g, kind: gemini, base_url: "{graded.url}", api_key: x, models: ["gemini-*"]}}
routing:
  policies:
    sure: {{kind: cascade, models: [gemini-2.5-flash-lite, gemini-2.5-pro], accept: {{min_confidence: 0.75}}}}
""")
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    asked = oa.chat.completions.create(model="gemini-2.5-flash-lite", messages=[{"role": "user", "content": "Name a prime."}],
                                       logprobs=True)
    tokens = asked.choices[0].logprobs.content
    assert tokens and "".join(t.token for t in tokens) == asked.choices[0].message.content
    assert oa.chat.completions.create(model="gemini-2.5-flash-lite", messages=[{"role": "user", "content": "Name a prime."}]
                                      ).choices[0].logprobs is None  # not asked, none given
    for text in prompts(30, " (gemini cascade)"):
        answer = oa.chat.completions.create(model="sure", messages=[{"role": "user", "content": text}])
        assert answer.choices[0].logprobs is None  # the cascade asked for them; the client did not
    rows = gw.records(2 + 30)
    rejected = [r for r in rows if r.error_type == "rejected"]
    assert rejected and all("low confidence" in r.error_message and r.model == "gemini-2.5-flash-lite" for r in rejected)
    escalated = [r for r in rows if r.model == "gemini-2.5-pro"]
    assert len(escalated) == len(rejected) < 30  # each unsure cheap answer, and only those, went up


JUDGED = {"cheap-model": "Paris.", "strong-model": "Paris is the capital of France."}


def judging_upstream(grade: str):
    """OpenAI-compatible: ``judge-model`` answers ``grade``; the others their line in JUDGED."""
    seen: list[str] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        raw = await request_body(receive)
        body = json.loads(raw)
        model = body["model"]
        seen.append(model)
        if model == "judge-model":
            assert "Paris." in body["messages"][1]["content"] and body["max_tokens"] == 8
        text = grade if model == "judge-model" else JUDGED[model]
        payload = {"id": "c", "object": "chat.completion", "created": 1, "model": model,
                   "usage": {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101},
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    app.seen = seen
    return app


JUDGE_CONFIG = """
deployments:
  - name: house
    kind: openai
    base_url: "%s/v1"
    models: ["cheap-*", "strong-*", "judge-*"]
    prices:
      - {model: "cheap-*", input: 0.1, output: 0.4}
      - {model: "judge-*", input: 0.1, output: 0.4}
      - {model: "strong-*", input: 2.5, output: 10}
routing:
  policies:
    judged: {kind: cascade, models: [cheap-model, strong-model], accept: {judge: {model: judge-model, min_score: 7}}}
"""


@pytest.mark.parametrize(("grade", "answer"), [("9", "cheap-model"), ("3", "strong-model")])
def test_a_judge_grades_the_cheap_answer_and_its_call_is_a_row_of_the_request(make_gateway, grade, answer) -> None:
    upstream = judging_upstream(grade)
    with BackgroundServer(upstream) as srv:
        gw = make_gateway(JUDGE_CONFIG % srv.url)
        oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
        raw = oa.chat.completions.with_raw_response.create(model="judged", messages=[{"role": "user", "content": "Capital of France?"}])
        assert raw.parse().choices[0].message.content == JUDGED[answer]
        request_id = raw.headers["x-costops-request-id"]
        rows = gw.by_id(2 if answer == "cheap-model" else 3)
        report = build_report(gw.gateway.store)
    expected = ["cheap-model", "judge-model"] + (["strong-model"] if answer == "strong-model" else [])
    assert upstream.seen == expected
    assert [r.request_id for r in rows.values() if r.attempt_reason == "judge"] == [f"{request_id}.1j"]
    judged = rows[f"{request_id}.1j"]
    assert (judged.parent_id, judged.model, judged.accepted) == (request_id, "judge-model", grade == "9")
    assert judged.cost.total > 0
    assert rows[request_id].model == answer
    total = sum(r.cost.total for r in rows.values())
    assert Decimal(raw.headers["x-costops-cost-usd"]) == total and Decimal(report["total_cost_usd"]) == total
    assert report["requests"] == 1
    if answer == "strong-model":
        rejected = next(r for r in rows.values() if r.error_type == "rejected")
        assert "the judge judge-model graded it 3 of 10" in rejected.error_message


def test_the_simulator_answers_the_judge_so_a_judged_cascade_keeps_the_better_cheap_answers(make_gateway, graded) -> None:
    gw = make_gateway(f"""
deployments:
  - {{name: sim, kind: openai, base_url: "{graded.url}/v1", api_key: x, models: ["gpt-4o*"]}}
routing:
  policies:
    judged: {{kind: cascade, models: [gpt-4o-mini, gpt-4o], accept: {{judge: gpt-4o}}}}
""")
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    kept, baseline = [], []
    for text in prompts(60, " (judged)"):
        answer = oa.chat.completions.create(model="judged", messages=[{"role": "user", "content": text}])
        if answer.model.startswith("gpt-4o-mini"):
            kept.append(grade_of(graded.url, answer.id)["passed"])
        plain = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text + " again"}])
        baseline.append(grade_of(graded.url, plain.id)["passed"])
    judged = [r for r in gw.records() if r.attempt_reason == "judge"]
    assert len(judged) == 60 and all(r.cost.total > 0 for r in judged)
    print(f"\njudge gpt-4o: cheap answers kept {len(kept)} of 60, passing {sum(kept) / len(kept):.2f}; "
          f"gpt-4o-mini alone {sum(baseline) / len(baseline):.2f}")
    assert len(kept) >= 10 and sum(kept) / len(kept) > sum(baseline) / len(baseline) + 0.05


def test_a_side_calls_failed_attempt_is_booked_under_the_logical_request() -> None:
    from costops.gateway.principal import ANONYMOUS
    from costops.ledger.record import UsageRecord
    from costops.pipeline.attempts import close_attempt
    from costops.pipeline.contract import Call

    judge_row = UsageRecord(request_id="r1.1j", ts=0.0, endpoint="chat.completions", model_requested="j", parent_id="r1")
    side = Call("openai", "chat.completions", {}, b"", ANONYMOUS, judge_row, {}, 0.0)
    row = close_attempt(side, 503, "overloaded_error", "busy", 1.0, "fallback")
    assert (row.request_id, row.parent_id) == ("r1.1j.1", "r1")  # counted in r1, not in a request that does not exist
