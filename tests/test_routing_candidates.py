"""What routing keeps between requests never hides what changed, over real HTTP with the SDK.

The catalog lists a policy's models with their deployments, capabilities and price tables once
per (models, day) (:meth:`costops.routing.catalog.Catalog.candidates`); what a request costs
there and each deployment's health are read per request. So a price that changes at midnight
decides the first request of the next day, and a deployment whose circuit opened is ranked last
by the very next request of a policy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import openai

from costops.pricing import PriceCatalog, overrides_from_litellm
from costops.pricing.table import PriceTable
from tests.clock import T0, Clock
from tests.pinned import PINNED_PRICES
from tests.test_routing_arbitrage import deployment, sims  # noqa: F401  (the simulator's hosts)

DAY = 86_400
HI = [{"role": "user", "content": "Say hello. [[sim:tokens=5]]"}]


class RaisedTomorrow(PriceCatalog):
    """The pinned prices, but gpt-4o-mini costs 100 times as much from the day after T0."""

    def lookup(self, model: str, provider: str | None = None, *, service_tier: str | None = None,
               at: datetime | None = None) -> PriceTable | None:
        table = super().lookup(model, provider, service_tier=service_tier, at=at)
        if table is not None and model == "gpt-4o-mini" and at is not None and at.timestamp() >= T0 + DAY:
            return table.scaled(Decimal(100))
        return table


def ask(gw: Any, model: str = "auto") -> Any:
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=30)
    raw = oa.chat.completions.with_raw_response.create(model=model, messages=HI, max_tokens=5)
    return gw.record(raw.headers["x-costops-request-id"])


def test_a_price_that_changes_overnight_routes_the_next_days_first_request(pinned_gateway) -> None:
    clock = Clock()
    catalog = RaisedTomorrow(overrides_from_litellm(PINNED_PRICES), use_genai_prices=False)
    gw = pinned_gateway("routing:\n  policies:\n    auto: {kind: cheapest-capable, models: [gpt-4o-mini, gpt-4o]}\n",
                        clock=clock, catalog=catalog)
    assert [ask(gw).model for _ in range(2)] == ["gpt-4o-mini"] * 2
    clock.t = T0 + DAY  # midnight has passed (T0 is noon): gpt-4o-mini now costs more than gpt-4o
    row = ask(gw)
    assert row.model == "gpt-4o" and row.cost.total > 0
    clock.t = T0 + 0.5 * DAY - 1  # a request stamped before midnight is still priced at the old prices
    assert ask(gw).model == "gpt-4o-mini"


def test_a_policys_next_request_sees_a_circuit_that_opened(pinned_gateway, sims, simulator) -> None:  # noqa: F811
    gw = pinned_gateway(
        "deployments:\n" + deployment("cheap-but-down", sims["failing"], 50) + deployment("steady", simulator.url)
        + "routing:\n  circuit_breaker: {failures: 2, cooldown_s: 600}\n"
        + "  policies:\n    auto: {kind: fixed, model: gpt-4o-mini}\n"
    )
    for _ in range(2):  # the cheaper deployment first: it fails, the other answers
        row = ask(gw)
        assert (row.deployment, row.attempt, row.attempt_reason) == ("steady", 2, "fallback")
    row = ask(gw)  # the circuit is open now: the policy ranks it last (not first, then skipped as a fallback)
    assert (row.deployment, row.attempt, row.attempt_reason, row.policy) == ("steady", 1, None, "auto")


def test_the_usual_requests_shortcut_prices_and_filters_as_the_full_path() -> None:
    """A key with no model restriction, over models that rule out no tool, image or schema, is
    priced from the listed integer rates (two products a model): the same choices, in the same
    order, as the per-target path a restricted key takes, and the size checks still apply."""
    from costops.config import load_config
    from costops.pricing.quote import Pricer
    from costops.routing.catalog import Catalog
    from costops.routing.needs import Needs
    from costops.routing.policy import NoCapableModel, Request, Snapshot, View
    from costops.routing.route import NO_ARBITRAGE

    pricer = Pricer(PriceCatalog(overrides_from_litellm(PINNED_PRICES), use_genai_prices=False))
    catalog = Catalog(load_config(None), pricer)
    names = ("gpt-4o", "gpt-4o-mini")
    found = catalog.candidates(names, T0)
    assert found.plain and found.rated is not None

    def choices(needs: Needs, allowed: Any = None) -> list[Any]:
        request = Request("openai", "auto", needs) if allowed is None else Request("openai", "auto", needs, allowed=allowed)
        return View(request, Snapshot(T0), catalog.candidates, NO_ARBITRAGE).choices(names)

    for needs in (Needs(input_tokens=1234, output_tokens=77), Needs(input_tokens=9)):
        fast, full = choices(needs), choices(needs, allowed=lambda name: True)
        assert fast == full and [c.name for c in fast] == list(names)
        output = needs.output_tokens or 300
        assert [c.cost_key for c in fast] == [
            t.tables.estimate_nanos(needs.input_tokens, output) for _, (t,) in found.models  # type: ignore[union-attr]
        ]
    too_big = Needs(input_tokens=10**7)
    assert choices(too_big) == choices(too_big, allowed=lambda name: True) == []
    view = View(Request("openai", "auto", too_big), Snapshot(T0), catalog.candidates, NO_ARBITRAGE)
    view.choices(names)
    assert "context window" in view.refuse("auto").message and isinstance(view.refuse("auto"), NoCapableModel)


def test_the_model_cheapest_at_every_size_is_the_one_min_picks_at_each() -> None:
    """``Candidates.cheapest``: for random integer rates (ties included), the model it names, when
    it names one, is the one ``min`` over the costs (first of equals) picks at every prompt and
    output size; a model cheaper only at some sizes is not named."""
    import random

    from costops.routing.catalog import _cheapest_everywhere

    rng = random.Random(7)
    sizes = [(t, o) for t in (0, 1, 7, 300, 10**6) for o in (1, 5, 128, 300, 10**5)]
    named = 0
    for _ in range(2000):
        rated = tuple((f"m{i}", (), rng.randint(1, 4), rng.randint(1, 4)) for i in range(rng.randint(1, 4)))
        found = _cheapest_everywhere(rated)  # type: ignore[arg-type]
        picks = {min(rated, key=lambda m: t * m[2] + o * m[3])[0] for t, o in sizes}
        if found is not None:
            named += 1
            assert picks == {found[0]}, (rated, found)
        elif len(rated) == 1:
            raise AssertionError("a lone model is the cheapest at every size")
    assert named > 500  # the shortcut is exercised, not only the refusals


def test_cheapest_is_the_cheapest_of_the_choices() -> None:
    """The cheapest-capable shortcut picks what ``min(choices)`` picks, whatever the order the
    policy lists its models in, for requests inside and outside the shortcut."""
    from costops.config import load_config
    from costops.pricing.quote import Pricer
    from costops.routing.catalog import Catalog
    from costops.routing.needs import Needs
    from costops.routing.policy import Request, Snapshot, View, by_cost
    from costops.routing.route import NO_ARBITRAGE

    pricer = Pricer(PriceCatalog(overrides_from_litellm(PINNED_PRICES), use_genai_prices=False))
    catalog = Catalog(load_config(None), pricer)
    for names in (("gpt-4o", "gpt-4o-mini"), ("gpt-4o-mini", "gpt-4o"), ("gpt-4o", "gpt-4.1-mini", "gpt-4o-mini")):
        assert catalog.candidates(names, T0).cheapest is not None
        for needs in (Needs(input_tokens=1234, output_tokens=77), Needs(input_tokens=9), Needs(input_tokens=10**7)):
            for allowed in (None, lambda name: name != "gpt-4o-mini"):
                request = Request("openai", "auto", needs) if allowed is None else Request("openai", "auto", needs,
                                                                                          allowed=allowed)
                view = View(request, Snapshot(T0), catalog.candidates, NO_ARBITRAGE)
                choices = view.choices(names)
                assert view.cheapest(names) == (min(choices, key=by_cost) if choices else None), (names, needs)
