"""costops: see, control and cut what LLM calls cost.

The public surface is small on purpose; everything else is reached through its module.
"""

from costops.pricing import CostBreakdown, PriceCatalog, PriceTable
from costops.usage import Usage

__all__ = ["CostBreakdown", "PriceCatalog", "PriceTable", "Usage", "__version__"]
__version__ = "0.1.0"
