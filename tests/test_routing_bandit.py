"""The bandit: Thompson sampling per task type on quality - lambda * cost.

Pure draws first (the reward does not explode as cost -> 0, Beta for binary evidence and a
Gaussian for scores, the exploration floor), then over real HTTP against the grading simulator:
the bandit finds each task's best arm from feedback, and what it learned survives a restart."""

from __future__ import annotations

import random
from collections import Counter

import openai
import pytest

from costops.routing.bandit import ArmStats, reward, sample_quality, seeded
from costops.routing.bandit import thompson as choose
from costops.serving import BackgroundServer
from tests import rawhttp
from tests.pinned import PINNED

# -- the draws -------------------------------------------------------------------------------------


def _stats(n: int, mean: float, calls: int | None = None, cost_usd: float = 0.0, binary: bool = False) -> ArmStats:
    s = ArmStats(calls=calls if calls is not None else n, cost_nanos=int(cost_usd * 1e9 * (calls if calls is not None else n)))
    for i in range(n):
        if binary:
            s.add_quality(1.0 if i < round(mean * n) else 0.0)
        else:
            s.add_quality(min(1.0, max(0.0, mean + (0.1 if i % 2 else -0.1))))
    return s


def test_a_free_bad_arm_does_not_beat_a_cheap_good_one() -> None:
    # quality / cost would make the free arm infinitely good; quality - lambda * cost does not
    stats = {"free": _stats(50, 0.1, cost_usd=0.0), "paid": _stats(50, 0.9, cost_usd=0.001)}
    picks = Counter(choose(["free", "paid"], stats, 20.0, 0.0, random.Random(i)) for i in range(500))
    assert picks["paid"] > 490
    assert reward(0.9, 0.001, 20.0) == pytest.approx(0.88)


def test_lambda_trades_quality_for_money() -> None:
    stats = {"cheap": _stats(200, 0.7, cost_usd=0.0001), "strong": _stats(200, 0.9, cost_usd=0.02)}
    low = Counter(choose(["cheap", "strong"], stats, 1.0, 0.0, random.Random(i)) for i in range(300))
    high = Counter(choose(["cheap", "strong"], stats, 50.0, 0.0, random.Random(i)) for i in range(300))
    assert low["strong"] > 290 and high["cheap"] > 290  # 0.2 points are worth more, then less, than 2 cents


def test_binary_evidence_draws_from_a_beta_and_scores_from_a_gaussian() -> None:
    rng = random.Random(1)
    thumbs = _stats(20, 0.75, binary=True)  # 15 of 20
    assert thumbs.fractional == 0
    draws = [sample_quality(thumbs, rng) for _ in range(4000)]
    assert sum(draws) / len(draws) == pytest.approx(16 / 22, abs=0.01)  # Beta(16, 6)'s mean
    assert all(0 <= d <= 1 for d in draws)
    few, many = _stats(4, 0.6), _stats(400, 0.6)
    assert few.fractional == 4
    spread = [[sample_quality(s, rng) for _ in range(2000)] for s in (few, many)]
    means = [sum(d) / len(d) for d in spread]
    sds = [(sum((x - m) ** 2 for x in d) / len(d)) ** 0.5 for d, m in zip(spread, means, strict=True)]
    assert means[1] == pytest.approx(0.6, abs=0.01)
    assert sds[1] < sds[0] / 5  # evidence narrows the posterior


def test_the_exploration_floor_keeps_every_arm_in_play() -> None:
    stats = {"a": _stats(500, 0.9), "b": _stats(500, 0.2), "c": _stats(500, 0.2)}
    greedy = Counter(choose(["a", "b", "c"], stats, 0.0, 0.0, random.Random(i)) for i in range(3000))
    floored = Counter(choose(["a", "b", "c"], stats, 0.0, 0.3, random.Random(i)) for i in range(3000))
    assert greedy["b"] + greedy["c"] == 0
    assert min(floored["b"], floored["c"]) > 3000 * 0.1 * 0.8  # explore / arms each, give or take
    assert choose(["a", "b", "c"], stats, 0.0, 0.3, seeded("req-1")) == choose(["a", "b", "c"], stats, 0.0, 0.3, seeded("req-1"))


# -- over HTTP, against the grading simulator ------------------------------------------------------------

SKILLS = {"gpt-4.1-nano": 0.0, "gpt-4o": 1.5, "gpt-5.4": 3.0}
BANDIT = PINNED + """
keys: [{id: a, key: sk-acme, tenant: acme}]
routing:
  policies:
    auto:
      kind: bandit
      arms: [gpt-4.1-nano, gpt-4o, gpt-5.4]
      lambda: LAMBDA
      explore: 0.05
      task: tag:feature
"""
LAMBDA = 60
TASKS = {"faq": -3.0, "code": 1.0}
"""Each task's hidden difficulty, told to the simulator only (in a marker the gateway does not read)."""


@pytest.fixture(scope="module")
def graded():
    from costops.providers.simulator import SimConfig, create_simulator
    from costops.providers.simulator.grading import Grading

    with BackgroundServer(create_simulator(SimConfig(latency_scale=0, grading=Grading(skills=SKILLS)))) as srv:
        yield srv


def _graded_env(sim) -> dict[str, str]:
    return {"OPENAI_BASE_URL": f"{sim.url}/v1", "ANTHROPIC_BASE_URL": sim.url}


def _prompt(task: str, i: int) -> str:
    return f"[[sim:difficulty={TASKS[task]}]] {task} question number {i}: please help"


def _call_and_score(gw, sim, client, task: str, i: int) -> tuple[str, str]:
    """One call through the bandit, then the score a user would give (the simulator's grade) as feedback."""
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": _prompt(task, i)}], max_completion_tokens=2000,
        extra_headers={"x-costops-tags": f"feature={task}"},
    )
    answer, request_id = raw.parse(), raw.headers["x-costops-request-id"]
    grade = rawhttp.get(f"{sim.url}/sim/grade?id={answer.id}").json()
    reply = rawhttp.post(f"{gw.url}/v1/feedback", json={"request_id": request_id, "score": grade["score"]},
                         headers={"authorization": "Bearer sk-acme"})
    assert reply.status == 200
    return raw.headers["x-costops-arm"].split("/")[1], request_id


def _best_arms(gw, sim) -> dict[str, tuple[str, float]]:
    """Each task's best arm by the truth: expected score from the simulator's pass probability,
    mean cost per call from the ledger; and the margin to the runner-up."""
    cost: dict[str, list[float]] = {}
    for r in gw.records():
        cost.setdefault(r.arm, []).append(float(r.cost.total))
    best = {}
    for task in TASKS:
        values = {}
        for arm in SKILLS:
            graded = rawhttp.post(f"{sim.url}/sim/grade", json={"api": "openai", "model": arm, "request": {
                "messages": [{"role": "user", "content": _prompt(task, 0)}], "max_completion_tokens": 2000}}).json()
            expected = 0.15 + 0.7 * graded["p_pass"]  # a pass scores 0.7-1, a failure 0-0.3
            values[arm] = reward(expected, sum(cost[arm]) / len(cost[arm]), LAMBDA)
        ranked = sorted(values, key=values.get, reverse=True)  # type: ignore[arg-type]
        best[task] = (ranked[0], values[ranked[0]] - values[ranked[1]])
    return best


def test_the_bandit_finds_each_tasks_best_arm_from_feedback(make_gateway, graded) -> None:
    gw = make_gateway(BANDIT.replace("LAMBDA", str(LAMBDA)), env=_graded_env(graded))
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-acme", max_retries=0)
    picks: dict[str, list[str]] = {task: [] for task in TASKS}
    for i in range(140):
        for task in TASKS:
            picks[task].append(_call_and_score(gw, graded, client, task, i)[0])
    best = _best_arms(gw, graded)
    # the workload is built so the answer is neither "always cheapest" nor "always strongest"
    assert best["faq"][0] == "gpt-4.1-nano" and best["code"][0] == "gpt-4o", best
    assert min(margin for _, margin in best.values()) > 0.05, best
    for task, (arm, _) in best.items():
        late = Counter(picks[task][-60:])
        assert late[arm] >= 0.7 * 60, (task, late)
        assert all(Counter(picks[task])[other] >= 1 for other in SKILLS)  # every arm was tried
    state = rawhttp.get(f"{gw.url}/admin/routing/bandits").json()["auto"]
    assert state["lambda"] == LAMBDA and set(state["tasks"]) == set(TASKS)
    assert sum(a["calls"] for a in state["tasks"]["code"].values()) == 140
    assert sum(a["quality_n"] for a in state["tasks"]["code"].values()) == 140


def test_what_the_bandit_learned_is_rebuilt_from_the_ledger_after_a_restart(make_gateway, graded, tmp_path) -> None:
    db = f"sqlite:///{tmp_path}/bandit.db"
    config = BANDIT.replace("LAMBDA", str(LAMBDA))
    first = make_gateway(config, env=_graded_env(graded), db=db)
    client = openai.OpenAI(base_url=f"{first.url}/v1", api_key="sk-acme", max_retries=0)
    ids = [_call_and_score(first, graded, client, "code", i)[1] for i in range(30)]
    first.records(30)
    before = rawhttp.get(f"{first.url}/admin/routing/bandits").json()["auto"]["tasks"]
    first.server.stop()

    second = make_gateway(config, env=_graded_env(graded), db=db)
    after = rawhttp.get(f"{second.url}/admin/routing/bandits").json()["auto"]["tasks"]
    assert after.keys() == before.keys()
    for arm, s in before["code"].items():
        got = after["code"][arm]
        assert (got["calls"], got["quality_n"]) == (s["calls"], s["quality_n"])
        assert got["mean_quality"] == pytest.approx(s["mean_quality"])
        assert got["mean_cost_usd"] == pytest.approx(s["mean_cost_usd"])
    # a score for a call made before the restart replaces the one counted, it does not add one
    target = second.gateway.store.request_arm(ids[0])
    reply = rawhttp.post(f"{second.url}/v1/feedback", json={"request_id": ids[0], "score": 0.0},
                         headers={"authorization": "Bearer sk-acme"})
    assert reply.status == 200
    arm = rawhttp.get(f"{second.url}/admin/routing/bandits").json()["auto"]["tasks"]["code"][target["arm"]]
    old = before["code"][target["arm"]]
    assert arm["quality_n"] == old["quality_n"]
    assert arm["mean_quality"] == pytest.approx(old["mean_quality"] - target["score"] / old["quality_n"])


def test_the_task_type_comes_from_a_tag_the_prompt_or_nowhere() -> None:
    from costops.routing.bandit import CLASSIFY, task_of

    assert task_of({"feature": "faq"}, "feature") == "faq"
    assert task_of({}, "feature") == "default"
    assert task_of({"feature": "faq"}, None) == "default"
    assert task_of({}, CLASSIFY, lambda: "Write a Python function that slugifies a title") == "code"
    assert task_of({}, CLASSIFY, lambda: "Translate into French: your order has shipped") == "translate"
