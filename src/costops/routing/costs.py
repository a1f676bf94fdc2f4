"""What a call to each candidate model is expected to cost, for a prompt of ``t`` tokens.

Every model's expectation is linear, ``fixed_usd + per_prompt_token_usd * t``, whichever of
these it comes from (first that applies):

1. **learned**: the training rows carry ``cost_usd`` for the model: a non-negative least-squares
   fit of those costs on the prompt's token count (the mean when the counts do not vary);
2. **given**: ``--prices F`` (``model: {input: USD/MTok, output: USD/MTok}`` or
   ``{like: other-model, provider: p}``), for negotiated or private prices;
3. **catalog**: :class:`~costops.pricing.PriceCatalog` (genai-prices) knows the model;
4. **stand-in**: the shipped ``data/standin_prices.yaml`` for retired or never-sold models
   (each entry says where its price comes from, mostly a hosted price of the same or a similar
   open model in the catalog).

For 2-4 the output is not known before the call, so a stated assumption prices it:
``output_tokens`` per call (default 256, stored with the router), at the model's output rate.
A model no source prices is an error naming the model and the fix, never a free model.

Costs here are float USD estimates that steer a choice; the ledger still prices the real call
exactly (Decimal) from its usage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from costops.pricing import PriceCatalog
from costops.routing.errors import OutcomeDataError

DEFAULT_OUTPUT_TOKENS = 256
STANDIN_FILE = "standin_prices.yaml"
_MTOK = 1_000_000


@dataclass(frozen=True, slots=True)
class ModelCost:
    model: str
    fixed_usd: float
    per_prompt_token_usd: float
    source: str
    input_usd_per_mtok: str | None = None
    output_usd_per_mtok: str | None = None

    def cost(self, tokens: int) -> float:
        return self.fixed_usd + self.per_prompt_token_usd * tokens


@dataclass(frozen=True, slots=True)
class CostModel:
    entries: tuple[ModelCost, ...]
    output_tokens: int

    @property
    def models(self) -> list[str]:
        return [e.model for e in self.entries]

    def matrix(self, tokens: np.ndarray) -> np.ndarray:
        """(n, M) expected USD per call, columns in ``models`` order."""
        fixed = np.array([e.fixed_usd for e in self.entries])
        rate = np.array([e.per_prompt_token_usd for e in self.entries])
        return fixed[None, :] + np.asarray(tokens, dtype=np.float64)[:, None] * rate[None, :]

    def to_json(self) -> dict[str, Any]:
        return {"output_tokens": self.output_tokens, "models": {e.model: _drop_model(asdict(e)) for e in self.entries}}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], models: Sequence[str]) -> CostModel:
        entries = obj["models"]
        return cls(tuple(ModelCost(model=m, **entries[m]) for m in models), int(obj["output_tokens"]))


def _drop_model(d: dict[str, Any]) -> dict[str, Any]:
    d.pop("model")
    return d


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """A price-file entry: explicit rates, or ``like`` another model the catalog knows."""

    input: Decimal | None
    output: Decimal | None
    like: str | None
    provider: str | None
    why: str


def read_price_file(path: str | Path | None = None) -> dict[str, PriceEntry]:
    """The shipped stand-in table (``path=None``) or a ``--prices`` file of the same shape."""
    if path is None:
        text = (resources.files("costops.routing") / "data" / STANDIN_FILE).read_text()
        where = f"costops/routing/data/{STANDIN_FILE}"
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise OutcomeDataError(f"{path}: cannot read the price file ({exc.strerror or exc})") from None
        where = str(path)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise OutcomeDataError(f"{where}: not valid YAML/JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise OutcomeDataError(f"{where}: must map model names to {{input, output}} or {{like, provider}}")
    return {str(model): _entry(entry, f"{where}: {model}") for model, entry in raw.items()}


def _entry(entry: Any, where: str) -> PriceEntry:
    if not isinstance(entry, dict):
        raise OutcomeDataError(f"{where}: must be {{input: USD/MTok, output: USD/MTok}} or {{like: model}}")
    unknown = set(entry) - {"input", "output", "like", "provider", "why"}
    if unknown:
        raise OutcomeDataError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (use input, output, like, provider, why)")
    if "like" in entry:
        if "input" in entry or "output" in entry:
            raise OutcomeDataError(f"{where}: give either 'like' or 'input'/'output', not both")
        return PriceEntry(None, None, str(entry["like"]), entry.get("provider"), str(entry.get("why", "")))
    rates = []
    for key in ("input", "output"):
        if key not in entry:
            raise OutcomeDataError(f"{where}: missing '{key}' (USD per million tokens)")
        try:
            value = Decimal(str(entry[key]))
        except Exception:
            value = Decimal(-1)
        if not value.is_finite() or value < 0:
            raise OutcomeDataError(f"{where}.{key} = {entry[key]!r}: must be a non-negative number (USD per million tokens)")
        rates.append(value)
    return PriceEntry(rates[0], rates[1], None, None, str(entry.get("why", "")))


def build_cost_model(
    models: Sequence[str],
    *,
    tokens: np.ndarray | None = None,
    costs: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    given: Mapping[str, PriceEntry] | None = None,
    catalog: PriceCatalog | None = None,
    standins: Mapping[str, PriceEntry] | None = None,
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
) -> CostModel:
    """``costs``: per model, the (prompt tokens, cost_usd) pairs the training rows carry."""
    catalog = catalog or PriceCatalog()
    standins = read_price_file() if standins is None else standins
    given = given or {}
    costs = costs or {}
    entries = []
    for model in models:
        observed = costs.get(model) or ()
        if observed:
            entries.append(_learned(model, observed))
        elif model in given:
            entries.append(_priced(model, given[model], catalog, output_tokens, "given"))
        else:
            table = catalog.lookup(model)
            if table is not None:
                entries.append(_rates(model, table.input.base, table.output.base, output_tokens, f"catalog: {table.source}"))
            elif model in standins:
                entries.append(_priced(model, standins[model], catalog, output_tokens, "stand-in"))
            else:
                raise OutcomeDataError(
                    f"no price for model {model!r}: the catalog does not know it, the training rows carry no "
                    f"cost_usd for it and the stand-in table has no entry; pass --prices FILE with "
                    f"'{model}: {{input: USD/MTok, output: USD/MTok}}' (or drop it with --models)"
                )
    return CostModel(tuple(entries), output_tokens)


def _priced(model: str, entry: PriceEntry, catalog: PriceCatalog, output_tokens: int, kind: str) -> ModelCost:
    why = f" ({entry.why})" if entry.why else ""
    if entry.like is None:
        assert entry.input is not None and entry.output is not None
        return _rates(model, entry.input, entry.output, output_tokens, f"{kind}{why}")
    table = catalog.lookup(entry.like, entry.provider)
    if table is None:
        at = f" at {entry.provider}" if entry.provider else ""
        raise OutcomeDataError(f"price for {model!r}: {kind} says like {entry.like!r}{at}, which the catalog does not know")
    return _rates(model, table.input.base, table.output.base, output_tokens, f"{kind}: like {table.source}{why}")


def _rates(model: str, inp: Decimal, out: Decimal, output_tokens: int, source: str) -> ModelCost:
    return ModelCost(
        model=model,
        fixed_usd=float(out) * output_tokens / _MTOK,
        per_prompt_token_usd=float(inp) / _MTOK,
        source=source,
        input_usd_per_mtok=format(inp.normalize(), "f"),
        output_usd_per_mtok=format(out.normalize(), "f"),
    )


def _learned(model: str, observed: Sequence[tuple[int, float]]) -> ModelCost:
    t = np.array([o[0] for o in observed], dtype=np.float64)
    c = np.array([o[1] for o in observed], dtype=np.float64)
    fixed, rate = float(c.mean()), 0.0
    if len(t) >= 2 and np.ptp(t) > 0 and np.ptp(c) > 0:
        rate = float(((t - t.mean()) * (c - c.mean())).sum() / ((t - t.mean()) ** 2).sum())
        fixed = float(c.mean() - rate * t.mean())
        if rate < 0:
            fixed, rate = float(c.mean()), 0.0
        elif fixed < 0:
            fixed, rate = 0.0, float((t * c).sum() / (t * t).sum())
    return ModelCost(model, fixed, rate, f"learned from {len(t)} rows' cost_usd")
