"""What the gateway serves, as the pages that describe it read it: the proxied routes, and the
part of a running gateway that the OpenAPI document (:mod:`costops.gateway.openapi`) and the
Prometheus scrape (:mod:`costops.metrics.exposition`) look at. Both are loaded by the gateway
on their first request; through this view neither imports the gateway back."""

from __future__ import annotations

from typing import Any, Protocol

from costops.config import Config
from costops.gateway.edge import Edge
from costops.metrics.tally import Tally
from costops.pipeline.contract import Stage

ROUTES = {
    ("POST", "/v1/chat/completions"): ("openai", "chat.completions"),
    ("POST", "/chat/completions"): ("openai", "chat.completions"),
    ("POST", "/v1/embeddings"): ("openai", "embeddings"),
    ("POST", "/embeddings"): ("openai", "embeddings"),
    ("POST", "/v1/messages"): ("anthropic", "messages"),
}
"""The proxied routes: (method, path) -> (client API, endpoint)."""


class Served(Protocol):
    config: Config
    edge: Edge
    tally: Tally
    writer: Any
    """The ledger writer, or None before start-up."""
    stages: list[Stage]
    admin_routes: dict[tuple[str, str], Any]

    def route_table(self) -> list[tuple[str, str]]:
        """Every (method, path) the gateway answers: the table its 404s and 405s are built from."""
        ...
