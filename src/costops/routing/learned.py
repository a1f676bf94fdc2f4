"""The learned router: which model is good enough for this prompt, at what expected cost.

API (what the gateway's routing policy uses; everything else here is for training and tools)::

    router = Router.load("path/to/router")        # a directory written by `costops router train`
    choice = router.choose(prompt_text, threshold=0.9, candidates=["gpt-4o", "gpt-4o-mini"])
    choice.model                                  # the model to call
    choice.p_good                                 # {model: predicted P(its answer is good enough)}
    choice.cost_usd                               # {model: expected USD of the call}
    choice.expected_cost_usd                      # the chosen model's

``choose`` is pure (no I/O, no clock, no state): the same prompt, threshold and candidates give
the same choice, so a replay of recorded traffic reproduces it. ``candidates`` narrows the
choice to what the request may use (capabilities, context window, a policy's list); models the
router does not know are ignored, and if none is left it raises :class:`NoCandidate`. It takes
about half a millisecond (one WordPiece pass, a 160-wide dot product per model, a sparse gather).

**The knob.** ``threshold`` T in [0, 1] weighs quality against cost. The router picks

    argmax over candidates m of  P_m - λ · cost_m / cost_scale,   λ = (1 - T) / T

where ``cost_scale`` is the mean expected cost of the training prompts' priciest candidate, so
λ is a plain number: T = 1 takes the model most likely to be good whatever it costs, T = 0 the
cheapest, and at T = 0.9 a model one ``cost_scale`` dearer must add 0.11 to P(good) to be
chosen. This is the Lagrangian of "most expected quality for a total budget", so each T is a
point on the upper hull of the cost-quality curve the predictions allow. The other rule the
issue names, "the cheapest model with P >= T" (``rule="threshold"``), is kept for comparison:
it ignores how much dearer the better model is, so it overpays on prompts where every model is
likely good and under-escalates where a small extra cost buys a large gain. On the bench's dev
splits (bench/routing_eval.py, mean quality at 5-40 % of the strongest model's cost) it is 5.5
points below the utility rule on MMLU-Pro (29 models) and 4 below on AlpacaEval (58 models), and
level with it (0.4 below) on RouteLLM's two models, where both rules reduce to one cut-off. Seed 001's
quality / cost reward is not used: it explodes as cost goes to 0, picking the free model
whatever its quality.

Directory layout: ``router.json`` (models, prices and where each came from, the feature
description, the rule, training summary) and ``heads.npz`` (the weights). No pickle: loading a
router never runs code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from costops.routing.classifier import Heads, Hyper, fit
from costops.routing.costs import DEFAULT_OUTPUT_TOKENS, CostModel, PriceEntry, build_cost_model
from costops.routing.errors import NoCandidate, OutcomeDataError, RouterFileError
from costops.routing.features import Features, Featurizer
from costops.routing.outcomes import OutcomeRow

FORMAT = "costops-router/1"
RULES = ("utility", "threshold")


@dataclass(frozen=True, slots=True)
class Choice:
    model: str
    p_good: dict[str, float]
    cost_usd: dict[str, float]

    @property
    def expected_cost_usd(self) -> float:
        return self.cost_usd[self.model]


@dataclass(frozen=True, slots=True)
class Predictions:
    """Per prompt and model: P(good) and expected cost; columns in the router's model order."""

    p_good: np.ndarray  # (n, M)
    cost_usd: np.ndarray  # (n, M)
    tokens: np.ndarray  # (n,)


def decide(
    P: np.ndarray,
    C: np.ndarray,
    threshold: float,
    *,
    rule: str = "utility",
    cost_scale: float = 1.0,
    available: np.ndarray | None = None,
) -> np.ndarray:
    """The chosen column per row (-1 where no model is available). Pure, vectorized: the
    gateway's single choice and the evaluation's sweep over thousands of rows are this."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    n, M = P.shape
    avail = np.ones((n, M), bool) if available is None else available
    if rule == "utility":
        if threshold <= 0.0:  # cheapest; among equally cheap, the likelier
            score = -C + 1e-9 * P
        elif threshold >= 1.0:
            score = P - 1e-9 * C / cost_scale
        else:
            score = P - ((1.0 - threshold) / threshold) * C / cost_scale
    elif rule == "threshold":
        ok = avail & (P >= threshold)
        cheapest_ok = np.where(ok, -C, -np.inf)
        score = np.where(ok.any(axis=1, keepdims=True), cheapest_ok, P)
    else:
        raise ValueError(f"unknown rule {rule!r} (use one of {', '.join(RULES)})")
    chosen = np.where(avail, score, -np.inf).argmax(axis=1)
    chosen[~avail.any(axis=1)] = -1
    return chosen


def sweep_thresholds(rule: str, points: int = 26) -> list[float]:
    """Thresholds that cover the whole curve: for the utility rule, λ log-spaced from 100 to
    0.001 (so T crowds near 1, where the expensive models start to be picked)."""
    if rule == "threshold":
        return [round(t, 4) for t in np.linspace(0.0, 1.0, points - 5)]
    lambdas = np.geomspace(100.0, 0.001, points)
    return [0.0, *sorted({round(float(1.0 / (1.0 + lam)), 4) for lam in lambdas}), 1.0]


@dataclass
class Router:
    models: list[str]
    heads: Heads
    costs: CostModel
    rule: str = "utility"
    cost_scale: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    featurizer: Featurizer = field(default_factory=Featurizer, repr=False)

    # -- the policy's API ---------------------------------------------------------------------

    def choose(self, prompt_text: str, threshold: float, candidates: Iterable[str] | None = None) -> Choice:
        cols = self._columns(candidates)
        dense, idx, vals, tokens = self.featurizer.one(prompt_text)
        p = self.heads.predict_one(dense, idx, vals)
        c = self.costs.matrix(np.array([tokens]))[0]
        avail = np.zeros((1, len(self.models)), bool)
        avail[0, cols] = True
        j = int(decide(p[None, :], c[None, :], threshold, rule=self.rule, cost_scale=self.cost_scale, available=avail)[0])
        return Choice(
            model=self.models[j],
            p_good={self.models[i]: float(p[i]) for i in cols},
            cost_usd={self.models[i]: float(c[i]) for i in cols},
        )

    def _columns(self, candidates: Iterable[str] | None) -> list[int]:
        if candidates is None:
            return list(range(len(self.models)))
        index = {m: i for i, m in enumerate(self.models)}
        wanted = list(candidates)
        cols = sorted({index[m] for m in wanted if m in index})
        if not cols:
            raise NoCandidate(
                f"none of the candidate models ({', '.join(wanted) or 'none given'}) is one this router was "
                f"trained for ({', '.join(self.models)}); retrain it with them, or route with another policy"
            )
        return cols

    # -- batch form, for evaluation and tools -------------------------------------------------

    def predict(self, prompts: Sequence[str]) -> Predictions:
        f = self.featurizer.many(list(prompts))
        return Predictions(self.heads.predict(f), self.costs.matrix(f.tokens), f.tokens)

    def decide(self, P: np.ndarray, C: np.ndarray, threshold: float, available: np.ndarray | None = None) -> np.ndarray:
        return decide(P, C, threshold, rule=self.rule, cost_scale=self.cost_scale, available=available)

    def sweep_thresholds(self) -> list[float]:
        return sweep_thresholds(self.rule)

    @property
    def strongest(self) -> str:
        """The model with the best mean score in the training data."""
        return str(self.meta.get("strongest", self.models[0]))

    # -- the directory ------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        doc = {
            "format": FORMAT,
            "models": self.models,
            "rule": self.rule,
            "cost_scale_usd": self.cost_scale,
            "prices": self.costs.to_json(),
            "features": self.featurizer.describe(),
            **self.meta,
        }
        np.savez_compressed(d / "heads.npz", **self.heads.arrays())  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
        (d / "router.json").write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        return d

    @classmethod
    def load(cls, directory: str | Path, *, featurizer: Featurizer | None = None) -> Router:
        d = Path(directory)
        try:
            doc = json.loads((d / "router.json").read_text())
        except FileNotFoundError:
            raise RouterFileError(f"{d}: no router.json; write a router there with `costops router train --out {d}`") from None
        except (OSError, ValueError) as exc:
            raise RouterFileError(f"{d}/router.json: unreadable ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else None
            raise RouterFileError(f"{d}/router.json: format {got!r}, this costops reads {FORMAT!r}; retrain with `costops router train`")
        featurizer = featurizer or Featurizer()
        want, have = doc.get("features", {}), featurizer.describe()
        for key in ("version", "embedding", "embedding_dims", "sparse_buckets"):
            if want.get(key) != have[key]:
                raise RouterFileError(
                    f"{d}: trained on features {key}={want.get(key)!r}, this costops computes {have[key]!r}; "
                    f"retrain with `costops router train`"
                )
        retrain = "retrain with `costops router train`"
        try:
            weights = np.load(d / "heads.npz")  # allow_pickle stays False: loading never runs code
        except FileNotFoundError:
            raise RouterFileError(f"{d}: no heads.npz beside router.json; {retrain}") from None
        except (OSError, ValueError):  # numpy's message would suggest unpickling: not advice to pass on
            raise RouterFileError(f"{d}/heads.npz is damaged or not one `costops router train` wrote; {retrain}") from None
        try:
            with weights as z:
                heads = Heads.from_arrays({k: z[k] for k in z.files})
            models = [str(m) for m in doc["models"]]
            costs = CostModel.from_json(doc["prices"], models)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise RouterFileError(f"{d}: incomplete or damaged router ({exc}); {retrain}") from None
        scale, rule = doc.get("cost_scale_usd"), doc.get("rule", "utility")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < float("inf"):
            raise RouterFileError(f"{d}: incomplete or damaged router (cost_scale_usd = {scale!r}, not a positive number); {retrain}")
        if rule not in RULES:
            raise RouterFileError(f"{d}/router.json: rule {rule!r} is not one this costops knows ({', '.join(RULES)}); {retrain}")
        if heads.models != len(models) or heads.W.shape[0] != featurizer.dims:
            raise RouterFileError(f"{d}: heads.npz does not match router.json; {retrain}")
        meta = {k: v for k, v in doc.items() if k not in ("format", "models", "rule", "cost_scale_usd", "prices", "features")}
        return cls(models, heads, costs, rule, float(scale), meta, featurizer)


def train(
    rows: Sequence[OutcomeRow],
    *,
    models: Sequence[str] | None = None,
    hyper: Hyper | None = None,
    rule: str = "utility",
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
    prices: Mapping[str, PriceEntry] | None = None,
    standins: Mapping[str, PriceEntry] | None = None,
    featurizer: Featurizer | None = None,
    features: Features | None = None,
    sources: Sequence[str] = (),
) -> Router:
    """A router over ``models`` (default: every model the rows score) from outcome rows.

    ``features``: the rows' features when the caller has them already (the bench featurizes a
    file once and trains on several splits of it); row for row with ``rows``."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r} (use one of {', '.join(RULES)})")
    started = time.perf_counter()
    seen: dict[str, int] = {}
    for row in rows:
        for m in row.outcomes:
            seen[m] = seen.get(m, 0) + 1
    if models is None:
        models = sorted(seen)
    else:
        models = list(dict.fromkeys(models))
        missing = [m for m in models if m not in seen]
        if missing:
            raise OutcomeDataError(
                f"no outcome in the training data for {', '.join(map(repr, missing))}: the router cannot learn when "
                f"a model is good enough without its scores (models in the data: {', '.join(sorted(seen)) or 'none'})"
            )
    if not models:
        where = f"{', '.join(map(str, sources))}: " if sources else ""
        raise OutcomeDataError(f"{where}the training data has no outcomes: every row needs 'outcomes' {{model: score}}")
    keep = np.array([any(m in r.outcomes for m in models) for r in rows], dtype=bool)
    used = [r for r, k in zip(rows, keep, strict=True) if k]
    featurizer = featurizer or Featurizer()
    f = featurizer.many([r.prompt for r in used]) if features is None else features.take(np.flatnonzero(keep))
    Y = np.full((len(used), len(models)), np.nan, dtype=np.float32)
    observed: dict[str, list[tuple[int, float]]] = {m: [] for m in models}
    for i, r in enumerate(used):
        for j, m in enumerate(models):
            if m in r.outcomes:
                Y[i, j] = r.outcomes[m]
            if m in r.cost_usd:
                observed[m].append((int(f.tokens[i]), r.cost_usd[m]))
    costs = build_cost_model(models, costs=observed, given=prices, standins=standins, output_tokens=output_tokens)
    hyper = hyper or Hyper()
    heads = fit(f, Y, hyper)
    C = costs.matrix(f.tokens)
    cost_scale = float(C.max(axis=1).mean()) or 1e-9
    means = np.nanmean(np.where(np.isnan(Y), np.nan, Y), axis=0)
    strongest = models[int(np.nanargmax(means))]
    meta = {
        "strongest": strongest,
        "training": {
            "files": list(sources),
            "rows": len(used),
            "rows_without_outcomes": len(rows) - len(used),
            "seconds": round(time.perf_counter() - started, 1),
            "hyper": {k: getattr(hyper, k) for k in hyper.__dataclass_fields__},
            "per_model": {m: {"rows": int((~np.isnan(Y[:, j])).sum()), "mean_score": round(float(means[j]), 4)}
                          for j, m in enumerate(models)},
        },
    }
    return Router(list(models), heads, costs, rule, cost_scale, meta, featurizer)
