"""The simulator grades answers (item response theory), driven over real HTTP by the SDKs.

Every draw is a pure function of (seed, prompt, model), so the rates below are exact for this
code; the tolerances are several binomial standard deviations wide all the same, so that the
assertions state the model's behaviour rather than one seed's luck.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.request
from decimal import Decimal

import anthropic
import openai
import pytest

from costops.demo.workload import DIFFICULTY, difficulties, generate, user_text
from costops.pricing import PriceCatalog, PriceOverride, PriceTable, Rate
from costops.providers.simulator import Grading, SimConfig, create_simulator, item_key
from costops.providers.simulator.flaws import HEDGES
from costops.providers.simulator.grading import p_pass
from costops.serving import BackgroundServer
from costops.tokens import counter
from tests.sim_http import FakeClock, gemini, post, post_json, sse

HEDGE = re.compile(r"not sure|sorry|can't|unable|don't have enough", re.I)
# Pinned prices (USD per million tokens, input/output), so skills do not move with the catalog.
PRICES = {"gpt-4o-mini": ("0.15", "0.6"), "gpt-4o": ("2.5", "10"), "claude-opus-4-1": ("15", "75")}
TOPICS = (
    "caching", "budgets", "invoices", "latency", "tokens", "retries", "queues", "alerts", "refunds", "quotas",
    "tenants", "webhooks", "exports", "forecasts", "discounts", "regions", "backups", "audits", "schemas", "limits",
)


def pinned_catalog() -> PriceCatalog:
    return PriceCatalog(
        [PriceOverride(m, PriceTable(Rate(Decimal(i)), Rate(Decimal(o)))) for m, (i, o) in PRICES.items()],
        use_genai_prices=False,
    )


def expected_skill(model: str) -> float:
    i, o = (float(x) for x in PRICES[model])
    return 1.0 + 0.25 * math.log2((3 * i + o) / 4)


def prompts(n: int, salt: str = "") -> list[str]:
    """``n`` distinct ordinary questions."""
    return [f"Explain how {TOPICS[k % 20]} and {TOPICS[(k * 7 + 3) % 20]} interact in case {k}{salt}." for k in range(n)]


def serve(grading: Grading | None = None, seed: int = 0, **kw):
    config = SimConfig(latency_scale=0, seed=seed, grading=grading if grading is not None else Grading(**kw))
    return BackgroundServer(create_simulator(config, clock=FakeClock(), catalog=pinned_catalog()))


def grade_of(base: str, response_id: str) -> dict:
    with urllib.request.urlopen(f"{base}/sim/grade?id={response_id}", timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def srv():
    with serve() as server:
        yield server


@pytest.fixture(scope="module")
def oai(srv):
    return openai.OpenAI(base_url=srv.url + "/v1", api_key="k", max_retries=0)


def ask(oai, text, model="gpt-4o", **kw):
    return oai.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **kw)


def chat(base, text, model="gpt-4o", **kw) -> tuple[dict, dict]:
    """(response, its grade) over plain HTTP: the statistical tests make hundreds of calls, and
    the SDK's parsing is not what they measure."""
    status, response = post_json(base + "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": text}], **kw})
    assert status == 200, response
    return response, grade_of(base, response["id"])


# -- the item response model --------------------------------------------------------------------


def test_pass_rate_rises_with_skill_and_falls_with_difficulty(srv):
    models, levels, n = ("gpt-4o-mini", "gpt-4o", "claude-opus-4-1"), (-1.0, 1.0, 3.0), 80
    rate: dict[tuple[str, float], float] = {}
    for model in models:
        for level in levels:
            passed = 0
            for text in prompts(n):
                _, grade = chat(srv.url, f"{text} [[sim:difficulty={level}]]", model)
                assert grade["skill"] == pytest.approx(expected_skill(model), abs=1e-4)
                assert grade["difficulty"] == level
                passed += grade["passed"]
            rate[model, level] = passed / n
            expected = p_pass(expected_skill(model), level, 1.5)
            # 3.5 binomial standard deviations (and at least 0.05)
            assert abs(rate[model, level] - expected) <= max(0.05, 3.5 * math.sqrt(expected * (1 - expected) / n))
    # skill 0.52 < 1.53 < 2.23: each row and each column moves the right way
    for level in levels:
        assert sum(rate[m, level] for m in models[1:]) / 2 > rate[models[0], level] - 0.02
        assert rate["claude-opus-4-1", level] >= rate["gpt-4o-mini", level]
    for model in models:
        assert rate[model, -1.0] > rate[model, 1.0] > rate[model, 3.0]
    assert rate["claude-opus-4-1", 1.0] - rate["gpt-4o-mini", 1.0] > 0.35


def test_grades_are_deterministic_per_seed_and_alike_across_apis_and_streams():
    texts = prompts(25, " (across shapes)")

    def run(seed):
        grades = []
        with serve(seed=seed) as server:
            oai = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
            claude = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
            for text in texts:
                model = "gpt-4o-mini"
                plain = ask(oai, text, model)
                streamed = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], stream=True)
                chunks = list(streamed)
                message = claude.messages.create(model=model, max_tokens=2000, messages=[{"role": "user", "content": text}])
                _, gem = gemini(server.url, model, {"contents": [{"parts": [{"text": text}]}]})
                ids = (plain.id, chunks[0].id, message.id, gem["responseId"])
                four = [grade_of(server.url, i) for i in ids]
                keys = [(g["passed"], g["score"], g["p_pass"], g["difficulty"]) for g in four]
                assert len(set(keys)) == 1, keys  # one item, one model: one verdict, whatever the shape
                assert all((g["failure"] is None) == g["passed"] for g in four)
                grades.append(keys[0])
        return grades

    first = run(5)
    assert first == run(5)
    other = run(6)
    assert other != first and sum(a[0] != b[0] for a, b in zip(first, other, strict=True)) >= 1
    assert 0 < sum(g[0] for g in first) < len(first)  # a real mix at this difficulty


def test_one_prompt_gets_about_one_answer_length_from_every_model(srv):
    """Lengths are the prompt's (the words still differ by model, so counts do by a sentence's
    rounding), so a max_tokens cut, which fails an answer, is mostly the item's, not a coin each
    model tosses."""
    disagree, cut = 0, 0
    for text in prompts(60, " [[sim:difficulty=-9]]"):
        finishes, lengths = set(), []
        for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1"):  # one tokenizer (o200k)
            r, grade = chat(srv.url, text, model, max_tokens=150)
            finishes.add((r["choices"][0]["finish_reason"], grade["failure"]))
            lengths.append(r["usage"]["completion_tokens"])
        assert max(lengths) - min(lengths) <= 0.1 * max(lengths) + 5, (text, lengths)
        disagree += len(finishes) > 1
        cut += ("length", "truncated") in finishes
    assert cut >= 5 and disagree <= 6


# -- how failing answers read -------------------------------------------------------------------


def test_failing_text_answers_hedge_or_are_short_at_the_documented_rates(srv, oai):
    n = 300
    kinds: dict[str, list] = {"hedge": [], "short": [], "wrong": []}
    for text in prompts(n, " [[sim:difficulty=9]]"):
        r, grade = chat(srv.url, text, "gpt-4o-mini")
        assert not grade["passed"] and grade["score"] <= 0.3
        assert grade["detectable"] == (grade["failure"] != "wrong")
        content, used = r["choices"][0]["message"]["content"], r["usage"]["completion_tokens"]
        assert used == counter("gpt-4o-mini").count(content)  # usage stays the tokenizer's count
        kinds[grade["failure"]].append((content, used))
    sdk = ask(oai, prompts(1, " [[sim:difficulty=9]]")[0], "gpt-4o-mini")  # what an SDK user sees
    assert sdk.choices[0].message.content == kinds[grade_of(srv.url, sdk.id)["failure"]][0][0]
    # Grading.detectable = 0.5: hedges 3/5 of those (0.3), short 2/5 (0.2), plausible wrong 0.5
    for kind, share in (("hedge", 0.3), ("short", 0.2), ("wrong", 0.5)):
        assert abs(len(kinds[kind]) / n - share) < 4 * math.sqrt(share * (1 - share) / n), kind
    assert all(HEDGE.search(c) and c in HEDGES for c, _ in kinds["hedge"])
    assert not any(HEDGE.search(c) for c, _ in kinds["wrong"] + kinds["short"])
    typical = sorted(t for _, t in kinds["wrong"])[len(kinds["wrong"]) // 2]
    assert typical >= 100 and all(t <= 40 for _, t in kinds["short"])


def test_failing_json_answers_are_invalid_or_miss_a_required_field(srv, oai):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city", "days"]}
    formats = {
        "json_object": {"type": "json_object"},
        "json_schema": {"type": "json_schema", "json_schema": {"name": "trip", "schema": schema}},
    }
    n = 240
    for name, fmt in formats.items():
        invalid = missing = 0
        for text in prompts(n, f" as JSON ({name}) [[sim:difficulty=9]]"):
            r, grade = chat(srv.url, text, response_format=fmt)
            content = r["choices"][0]["message"]["content"]
            try:
                value = json.loads(content)
            except ValueError:
                invalid += 1
                assert grade["failure"] == "invalid_json" and grade["detectable"]
                continue
            assert grade["failure"] in ("missing_field", "wrong")
            if name == "json_schema" and not {"city", "days"} <= set(value):
                missing += 1
                assert grade["failure"] == "missing_field"
        # detectable 0.5: a schema with required fields splits it 2/3 invalid, 1/3 missing a field
        share_invalid, share_missing = (1 / 3, 1 / 6) if name == "json_schema" else (0.5, 0.0)
        assert abs(invalid / n - share_invalid) < 4 * math.sqrt(share_invalid * (1 - share_invalid) / n), name
        assert abs(missing / n - share_missing) < 4 * math.sqrt(max(share_missing, 0.01) / n), name
    # passing JSON answers are always valid and complete
    for text in prompts(30, " as JSON [[sim:difficulty=-9]]"):
        r = ask(oai, text, response_format=formats["json_schema"])
        assert {"city", "days"} <= set(json.loads(r.choices[0].message.content))


def test_failing_tool_calls_can_miss_a_required_argument(srv, oai):
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city", "unit"]}}}
    outcomes = []
    for text in prompts(120, " then call get_weather [[sim:difficulty=9]]"):
        r, grade = chat(srv.url, text, tools=[tool])
        args, failure = json.loads(r["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]), grade["failure"]
        assert failure == ("wrong" if {"city", "unit"} <= set(args) else "missing_field")
        outcomes.append(failure)
    assert 0.3 < outcomes.count("missing_field") / len(outcomes) < 0.7


def test_anthropic_and_gemini_streams_show_the_flaw_and_record_the_grade(srv):
    claude = anthropic.Anthropic(base_url=srv.url, api_key="k", max_retries=0)
    seen = set()
    for text in prompts(40, " [[sim:difficulty=9]]"):
        with claude.messages.stream(model="claude-opus-4-1", max_tokens=2000, messages=[{"role": "user", "content": text}]) as s:
            final = s.get_final_message()
        grade = grade_of(srv.url, final.id)
        assert (grade["failure"] == "hedge") == (final.content[0].text in HEDGES)
        assert final.usage.output_tokens == counter("claude-opus-4-1").count(final.content[0].text)
        status, _, raw = post(
            f"{srv.url}/v1beta/models/claude-opus-4-1:streamGenerateContent?alt=sse",
            {"contents": [{"parts": [{"text": text}]}]}, {"x-goog-api-key": "k"},
        )
        events = [data for _, data in sse(raw)]
        streamed = "".join(p.get("text", "") for e in events for p in e["candidates"][0]["content"]["parts"])
        gem_grade = grade_of(srv.url, events[-1]["responseId"])
        assert status == 200 and gem_grade["passed"] is False and gem_grade["p_pass"] == grade["p_pass"]
        assert (gem_grade["failure"] == "hedge") == (streamed in HEDGES)
        seen.add(grade["failure"])
    assert {"hedge", "wrong"} <= seen


def test_an_answer_cut_at_max_tokens_fails_as_truncated(srv, oai):
    r = ask(oai, "Write a detailed essay on budgets [[sim:difficulty=-9]]", max_tokens=5)
    grade = grade_of(srv.url, r.id)
    assert r.choices[0].finish_reason == "length"
    assert grade["failure"] == "truncated" and not grade["passed"] and grade["detectable"] and grade["p_pass"] > 0.99


# -- skills from price --------------------------------------------------------------------------


def test_skills_follow_the_price_catalog_and_overrides_win():
    sim = create_simulator(SimConfig(latency_scale=0, grading=Grading(skills={"gpt-4-*": 1.1, "my-*": 2.5})))
    skill = sim.skill
    assert skill("gpt-4o") > skill("gpt-4o-mini") > skill("gpt-5-nano")
    assert skill("claude-opus-4-1") > skill("claude-sonnet-4-6") > skill("claude-haiku-4-5")
    assert skill("gemini-2.5-pro") > skill("gemini-2.5-flash") > skill("gemini-2.5-flash-lite")
    assert skill("openai/gpt-4o") == skill("gpt-4o")
    assert skill("no-such-model") == 1.0  # unpriced: as a $1-per-million-tokens model
    assert skill("gpt-4-turbo") == 1.1 and skill("my-finetune") == 2.5
    pinned = create_simulator(SimConfig(grading=Grading()), catalog=pinned_catalog())
    assert pinned.skill("gpt-4o") == pytest.approx(expected_skill("gpt-4o"))  # 1 + 0.25 log2(4.375)


def test_grading_config_is_validated_by_name():
    for kw, name in (({"detectable": 1.5}, "detectable"), ({"word_share": -0.1}, "word_share"),
                     ({"discrimination": 0}, "discrimination"), ({"kept": 0}, "kept"),
                     ({"skills": {"x": float("nan")}}, "skills"), ({"task_difficulty": {"code": (1.0, -1.0)}}, "task_difficulty")):
        with pytest.raises(ValueError, match=f"Grading.{name}"):
            Grading(**kw)


# -- the grade endpoint -------------------------------------------------------------------------


def test_grade_endpoint_shape(srv, oai):
    r = ask(oai, "Explain budgets", n=2)
    grade = grade_of(srv.url, r.id)
    assert set(grade) == {"id", "model", "passed", "score", "failure", "detectable", "p_pass", "skill", "difficulty", "choices"}
    assert grade["id"] == r.id and grade["model"] == "gpt-4o" and len(grade["choices"]) == 2
    for choice in grade["choices"]:
        assert 0 <= choice["score"] <= 1 and (choice["score"] >= 0.7) == choice["passed"]
        assert 0 < choice["p_pass"] < 1
    assert {k: v for k, v in grade["choices"][0].items()} == {k: grade[k] for k in grade["choices"][0]}


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_grade_errors_in_openai_shape(srv):
    status, body = get(srv.url + "/sim/grade?id=chatcmpl-nope")
    assert status == 404 and "chatcmpl-nope" in body["error"]["message"] and body["error"]["param"] == "id"
    status, body = get(srv.url + "/sim/grade")
    assert status == 400 and "Missing query parameter 'id'" in body["error"]["message"]
    for bad, param in (({"api": "cohere", "request": {}}, "api"), ({"api": "openai", "request": []}, "request"),
                       ({"api": "gemini", "request": {"contents": [{"parts": [{"text": "x"}]}]}}, "model"),
                       ({"api": "openai", "model": 3, "request": {}}, "model")):
        status, body = post_json(srv.url + "/sim/grade", bad)
        assert status == 400 and body["error"]["param"] == param, bad
    status, body = post_json(srv.url + "/sim/grade", {"api": "anthropic", "request": {"model": "m", "messages": []}})
    assert status == 400 and body["error"]["message"]  # the API's own parser refuses it
    with BackgroundServer(create_simulator(SimConfig(latency_scale=0))) as off:
        status, body = post_json(off.url + "/sim/grade", {"api": "openai", "request": {}})
        assert status == 404 and "Grading is off" in body["error"]["message"]
        _, _, raw = post(off.url + "/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        status, body = get(off.url + "/sim/grade?id=" + json.loads(raw)["id"])
        assert status == 404 and "SimConfig(grading=Grading())" in body["error"]["message"]


def test_post_grade_matches_the_answer_a_call_gets(srv, oai):
    for text in prompts(20, " [[sim:difficulty=1.5]]"):
        request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": 400}
        r = oai.chat.completions.create(**request)
        status, predicted = post_json(srv.url + "/sim/grade", {"api": "openai", "request": request})
        assert status == 200 and predicted["id"] is None
        assert {**predicted, "id": r.id} == grade_of(srv.url, r.id)
    status, by_model = post_json(srv.url + "/sim/grade", {"api": "gemini", "model": "gpt-4o", "request": {"contents": [{"parts": [{"text": "Explain budgets"}]}]}})
    assert status == 200 and by_model["model"] == "gpt-4o" and by_model["difficulty"] == grade_of(srv.url, ask(oai, "Explain budgets").id)["difficulty"]


def test_grades_are_kept_in_a_bounded_map_and_found_under_translated_ids():
    with serve(kept=3) as server:
        oai = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        ids = [ask(oai, f"Explain budgets {k}").id for k in range(5)]
        assert [get(server.url + "/sim/grade?id=" + i)[0] for i in ids] == [404, 404, 200, 200, 200]
        claude = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
        msg = claude.messages.create(model="claude-haiku-4-5", max_tokens=300, messages=[{"role": "user", "content": "hi"}])
        # the gateway's translations rename ids: an Anthropic id behind "chatcmpl-", an OpenAI id as "msg_"
        assert grade_of(server.url, "chatcmpl-" + msg.id)["id"] == msg.id
        assert grade_of(server.url, "msg_" + ids[-1].removeprefix("chatcmpl-"))["id"] == ids[-1]


def test_grade_calls_do_not_count_as_requests():
    """Asking for grades must not shift the seeded sequence of errors and ids."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Explain budgets"}]}

    def ids(with_grades):
        config = SimConfig(latency_scale=0, seed=3, error_rate_429=0.3, grading=Grading())
        with BackgroundServer(create_simulator(config, clock=FakeClock(), catalog=pinned_catalog())) as server:
            out = []
            for _ in range(12):
                status, _, raw = post(server.url + "/v1/chat/completions", body)
                out.append(json.loads(raw).get("id") if status == 200 else status)
                if with_grades:
                    post(server.url + "/sim/grade", {"api": "openai", "request": body})
                    if status == 200:
                        grade_of(server.url, out[-1])
            return out

    assert ids(True) == ids(False)


# -- the workload's hidden difficulties ----------------------------------------------------------


def test_workload_difficulties_realize_each_tasks_distribution_and_reach_the_simulator():
    items = list(generate(400, seed=7))
    table = difficulties(items)
    by_task: dict[str, dict[str, float]] = {}
    for item in items:
        key = item_key(user_text(item.body))
        by_task.setdefault(item.task, {})[key] = table[key]
    for task, values in by_task.items():
        if len(values) < 2:
            continue
        mean, spread = DIFFICULTY[task]
        xs = list(values.values())
        centre = sum(xs) / len(xs)
        assert centre == pytest.approx(mean, abs=1e-9)
        assert math.sqrt(sum((x - centre) ** 2 for x in xs) / len(xs)) == pytest.approx(spread, abs=1e-9)
    assert difficulties(items) == table  # deterministic
    item = next(i for i in items if i.api == "openai" and not i.body.get("stream"))
    with serve(Grading(difficulties=table)) as server:
        status, _, raw = post(server.url + "/v1/chat/completions", item.body)
        grade = grade_of(server.url, json.loads(raw)["id"])
    assert status == 200 and grade["difficulty"] == round(table[item_key(user_text(item.body))], 4)


def test_answers_translated_from_gemini_keep_its_response_id_so_their_grade_is_found(make_gateway, srv) -> None:
    gw = make_gateway(f"deployments:\n  - {{name: g, kind: gemini, base_url: '{srv.url}', api_key: x, models: ['gemini-*']}}\n")
    question = [{"role": "user", "content": "Explain how caching and budgets interact."}]
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    answer = oa.chat.completions.create(model="gemini-2.5-flash", messages=question)
    streamed = list(oa.chat.completions.create(model="gemini-2.5-flash", messages=question, stream=True))
    claude = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    message = claude.messages.create(model="gemini-2.5-flash", max_tokens=200, messages=question)
    for response_id in (answer.id, streamed[0].id, message.id):
        assert grade_of(srv.url, response_id)["model"] == "gemini-2.5-flash", response_id
    assert len({answer.id, streamed[0].id, message.id}) == 3  # three answers, three provider ids
