"""The pinned price snapshot for tests whose expectations are dollar figures.

``pinned_prices.json`` is a LiteLLM-format map (USD per token) holding genai-prices 0.2.3's list
prices for the models those tests call. It enters a gateway through the config's ``price_files``,
so every part of the gateway (the settle path, the budgets' estimates, the CLI, a replica in its
own process) prices from it, and a new genai-prices release cannot move what the tests expect.
``test_pricing`` checks our pricing against the installed genai-prices separately.
"""

from __future__ import annotations

from pathlib import Path

from costops.pricing import PriceCatalog, overrides_from_litellm

PINNED_PRICES = Path(__file__).parent / "pinned_prices.json"
PINNED = f"price_files: ['{PINNED_PRICES}']\n"
"""The config line that prices from the snapshot (configured prices win over genai-prices)."""


def pinned_catalog() -> PriceCatalog:
    """The snapshot alone: a model missing from it is unpriced, never priced by whatever
    genai-prices release is installed."""
    return PriceCatalog(overrides_from_litellm(PINNED_PRICES), use_genai_prices=False)
