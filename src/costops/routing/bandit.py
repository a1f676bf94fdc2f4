"""A bandit: Thompson sampling per task type, rewarding quality minus what it cost.

    routing:
      policies:
        auto:
          kind: bandit
          arms: [gpt-4o-mini, claude-haiku-4-5, gpt-4o]   # or {arm: model}
          lambda: 20             # quality points one USD is worth: reward = quality - lambda * cost
          explore: 0.05          # exploration floor: this share of calls go to an arm drawn uniformly
          task: tag:feature      # the task type each arm is learned for: tag:<name> | classify | none
          accept: {refusal: true}   # optional: automatic checks score answers that get no feedback
          redis_key: costops:bandit:auto   # where replicas share the state (with `redis:`)

Why this reward: seed 001's bandit rewarded quality / cost, which explodes as cost -> 0 (a free
wrong answer beats every paid right one). ``quality - lambda * cost`` is what one call is worth
in quality points: with ``lambda: 20``, 5 cents per call weigh as much as a whole point of quality
(a score of 1 against 0), a tenth of a cent as 0.02. So ``1 / lambda`` is the USD a quality point
is worth to you; larger lambdas favour cheaper arms.

Quality is a score in [0, 1]: ``POST /v1/feedback`` (it replaces the automatic check's verdict
for that call), else the ``accept`` checks (1 pass, 0 fail). An arm's quality posterior is a
Beta while every observation is binary (0 or 1: thumbs, checks) and a Gaussian on the mean once
graded scores arrive. Cost is the arm's mean cost per call. Each call draws one sample per arm and
takes the best reward; with probability ``explore`` it takes a uniformly drawn arm instead, so no
arm is starved of the evidence that would change the bandit's mind (prices change, models change).

The draw is a pure function of (arm statistics, request id): the request id seeds the sampler,
so a replay of recorded traffic over the same snapshot makes the same choice.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from costops.config import Config, ConfigError, reject_unknown
from costops.routing.acceptance import Acceptance, parse_acceptance
from costops.routing.experiments import parse_arms
from costops.routing.policy import Decision, View, decide

PRIOR_MEAN = 0.5
PRIOR_VARIANCE = 1 / 12
"""A score's spread before any evidence: a uniform score on [0, 1]."""
PRIOR_WEIGHT = 1.0
"""How many observations the Gaussian prior counts as."""
DEFAULT_TASK = "default"


@dataclass(slots=True)
class ArmStats:
    """Sufficient statistics of one arm for one task type. Quality: count, sum, sum of squares,
    and how many observations were fractional (neither 0 nor 1). Cost: calls and total nanos."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0
    fractional: int = 0
    calls: int = 0
    cost_nanos: int = 0

    def add_quality(self, q: float, sign: int = 1) -> None:
        self.n += sign
        self.total += sign * q
        self.squares += sign * q * q
        self.fractional += sign * (0.0 < q < 1.0)

    @property
    def mean_quality(self) -> float | None:
        return self.total / self.n if self.n > 0 else None

    @property
    def mean_cost_usd(self) -> float:
        """Mean cost per call; 0 for an arm never called (optimism: it gets tried)."""
        return self.cost_nanos / self.calls / 1e9 if self.calls > 0 else 0.0


def sample_quality(stats: ArmStats, rng: random.Random) -> float:
    """One draw of the arm's mean quality from its posterior."""
    n = max(stats.n, 0)
    if n == 0:
        return rng.random()  # the uniform prior (Beta(1, 1))
    if stats.fractional <= 0:
        successes = min(max(stats.total, 0.0), n)
        return rng.betavariate(1 + successes, 1 + n - successes)
    mean = (PRIOR_WEIGHT * PRIOR_MEAN + stats.total) / (PRIOR_WEIGHT + n)
    deviations = max(stats.squares - stats.total * stats.total / n, 0.0)
    variance = (PRIOR_WEIGHT * PRIOR_VARIANCE + deviations) / (PRIOR_WEIGHT + n)
    return rng.gauss(mean, math.sqrt(variance / (PRIOR_WEIGHT + n)))


def reward(quality: float, cost_usd: float, lam: float) -> float:
    """What one call is worth, in quality points."""
    return quality - lam * cost_usd


def seeded(request_id: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=8).digest(), "big"))


def thompson(arms: Sequence[str], stats: Mapping[str, ArmStats], lam: float, explore: float, rng: random.Random) -> str:
    """Thompson sampling with an exploration floor (pure given ``rng``)."""
    if rng.random() < explore:
        return arms[rng.randrange(len(arms))]
    empty = ArmStats()
    best, best_value = arms[0], -math.inf
    for arm in arms:
        s = stats.get(arm, empty)
        value = reward(sample_quality(s, rng), s.mean_cost_usd, lam)
        if value > best_value:
            best, best_value = arm, value
    return best


CLASSIFY = "\x00classify"


def task_of(tags: Mapping[str, str], source: str | None, text: Any = None) -> str:
    """The task type the call's arm is learned for: a tag's value, the prompt's keywords
    (:func:`costops.tasks.classify_task`, with ``task: classify``), or one task for all."""
    if source is None:
        return DEFAULT_TASK
    if source == CLASSIFY:
        from costops.tasks import classify_task

        return classify_task(text() if callable(text) else "")
    value = tags.get(source)
    return value[:100] if value else DEFAULT_TASK


@dataclass(slots=True)
class BanditPolicy:
    name: str
    arms: Mapping[str, str]
    lam: float
    explore: float
    task_tag: str | None
    accept: Acceptance | None
    redis_key: str
    refresh_s: float
    snapshot: dict[str, dict[str, ArmStats]] = field(default_factory=dict)
    """task -> arm -> statistics: what this process knows (from Redis, or from its own ledger)."""
    kind: str = "bandit"

    def choose(self, view: View) -> Decision:
        """Thompson's draw among the arms whose model can serve the request."""
        task = task_of(view.request.tags, self.task_tag, view.request.text)
        capable = {c.name: c for c in view.choices(list(self.arms.values()))}
        arms = [arm for arm, model in self.arms.items() if model in capable]
        if not arms:
            raise view.refuse(self.name)
        arm = thompson(arms, self.snapshot.get(task) or {}, self.lam, self.explore, seeded(view.request.request_id))
        choice = capable[self.arms[arm]]
        return decide(choice, self.kind, f"arm {arm} for task {task}: {choice.best.label}", arm=arm, task=task)

    def summary(self) -> dict[str, Any]:
        """The posterior means per task and arm (``GET /admin/routing/bandits``)."""
        tasks = {}
        for task, arms in sorted(self.snapshot.items()):
            tasks[task] = {
                arm: {
                    "quality_n": s.n, "mean_quality": s.mean_quality, "calls": s.calls,
                    "mean_cost_usd": s.mean_cost_usd,
                    "reward": None if s.mean_quality is None else reward(s.mean_quality, s.mean_cost_usd, self.lam),
                }
                for arm, s in sorted(arms.items())
            }
        return {"arms": dict(self.arms), "lambda": self.lam, "explore": self.explore, "tasks": tasks}


def parse_bandit(name: str, spec: Mapping[str, Any], config: Config, where: str) -> BanditPolicy:
    known = {"kind", "arms", "lambda", "explore", "task", "accept", "redis_key", "refresh_s"}
    reject_unknown(spec, known, where)
    arms = parse_arms(spec.get("arms"), config, where)
    if len(set(arms.values())) < len(arms):
        raise ConfigError(f"{where}.arms: each arm a different model (a bandit learns per model)")
    lam = spec.get("lambda", 10)
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
        raise ConfigError(f"{where}.lambda: quality points one USD is worth, a number >= 0 (e.g. 20), not {lam!r}")
    explore = spec.get("explore", 0.05)
    if isinstance(explore, bool) or not isinstance(explore, (int, float)) or not 0 <= explore <= 1:
        raise ConfigError(f"{where}.explore: the share of calls sent to a random arm, from 0 to 1 (e.g. 0.05), not {explore!r}")
    task = spec.get("task", "none")
    if task == "none":
        task_tag = None
    elif task == "classify":
        task_tag = CLASSIFY
    elif isinstance(task, str) and task.startswith("tag:") and len(task) > 4:
        task_tag = task[4:]
    else:
        raise ConfigError(f"{where}.task: tag:<name> (the task type is that tag's value, e.g. tag:feature), "
                          "classify (from the prompt's keywords) or none")
    redis_key = spec.get("redis_key", f"costops:bandit:{name}")
    if not isinstance(redis_key, str) or not redis_key:
        raise ConfigError(f"{where}.redis_key: a key prefix, e.g. costops:bandit:{name}")
    refresh = spec.get("refresh_s", 1.0)
    if isinstance(refresh, bool) or not isinstance(refresh, (int, float)) or not refresh > 0:
        raise ConfigError(f"{where}.refresh_s: seconds above 0 between reads of the shared state, not {refresh!r}")
    accept = parse_acceptance(spec["accept"], f"{where}.accept") if spec.get("accept") is not None else None
    return BanditPolicy(name, arms, float(lam), float(explore), task_tag, accept, redis_key, float(refresh))
