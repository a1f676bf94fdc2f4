"""Shared fixtures: the provider simulator and the gateway, each on a real socket.

Tests talk to them with the official SDKs over HTTP, as a user's application would.

A test whose expectations are dollar figures or dates (a budget that affords one call, the day a
window resets) uses ``pinned_gateway``: the pinned prices (``tests/pinned.py``) instead of the
installed genai-prices data, and a clock of its own (``tests/clock.py``) instead of the wall clock.
A test that compares the gateway with the catalog uses the installed data on both sides.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from costops.config import load_config
from costops.gateway.app import Gateway, create_app
from costops.serving import BackgroundServer
from tests.clock import Clock
from tests.pinned import PINNED


@pytest.fixture(scope="session")
def simulator() -> Iterator[BackgroundServer]:
    from costops.providers.simulator import SimConfig, create_simulator

    with BackgroundServer(create_simulator(SimConfig(latency_scale=0))) as srv:
        yield srv


def provider_env(sim_url: str) -> dict[str, str]:
    """The standard variables, pointing every provider family at the simulator."""
    return {
        "OPENAI_BASE_URL": f"{sim_url}/v1",
        "OPENAI_API_KEY": "sk-sim-openai",
        "ANTHROPIC_BASE_URL": sim_url,
        "ANTHROPIC_API_KEY": "sk-sim-anthropic",
        "GEMINI_BASE_URL": sim_url,
        "GEMINI_API_KEY": "sim-gemini",
    }


class RunningGateway:
    def __init__(self, server: BackgroundServer, gateway: Gateway) -> None:
        self.server, self.gateway = server, gateway

    @property
    def url(self) -> str:
        return self.server.url

    def records(self, expected: int | None = None, timeout: float = 10.0) -> list[Any]:
        """Every ledger record so far, once the writer has flushed (and ``expected`` have landed)."""
        from costops.ledger.query import Filters

        deadline = time.monotonic() + timeout
        while True:
            status = self.gateway.writer.status()
            rows = list(self.gateway.store.iter_records(Filters())) if status["pending"] == 0 else []
            if status["pending"] == 0 and (expected is None or len(rows) >= expected):
                return sorted(rows, key=lambda r: r.ts)
            if time.monotonic() > deadline:
                raise AssertionError(f"ledger has {len(rows)} records, expected {expected}; writer: {status}")
            time.sleep(0.02)

    def by_id(self, expected: int) -> dict[str, Any]:
        """The ledger rows once ``expected`` have landed, keyed by request id: a logical request's
        row under its own id, its attempts under ``<id>.1``, ``<id>.1j`` (a judge's call), ..."""
        return {r.request_id: r for r in self.records(expected)}

    def record(self, request_id: str) -> Any:
        for _ in range(200):
            for r in self.records():
                if r.request_id == request_id:
                    return r
            time.sleep(0.02)
        raise AssertionError(f"no ledger record for {request_id}")


@contextmanager
def gateways(sim_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    """``start(config_text, env=..., **create_app_kwargs)`` runs a gateway over real HTTP, its
    providers pointed at ``sim_url`` and its own SQLite ledger; all are stopped at the end."""
    started: list[BackgroundServer] = []

    def start(config_text: str | None = None, env: dict[str, str] | None = None, **kw: Any) -> RunningGateway:
        path = None
        if config_text is not None:
            path = tmp_path / f"costops-{len(started)}.yaml"
            path.write_text(config_text)
        full_env = {**provider_env(sim_url), **(env or {})}
        config = load_config(path, env=full_env, db=kw.pop("db", f"sqlite:///{tmp_path}/ledger-{len(started)}.db"))
        gateway = create_app(config, **kw)
        server = BackgroundServer(gateway).start()
        started.append(server)
        return RunningGateway(server, gateway)

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def make_gateway(simulator: BackgroundServer, tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    with gateways(simulator.url, tmp_path) as start:
        yield start


@pytest.fixture
def pinned_gateway(make_gateway: Callable[..., RunningGateway]) -> Callable[..., RunningGateway]:
    """``make_gateway`` on the pinned prices and, unless the test passes its own, a clock stopped
    at ``tests.clock.T0``."""

    def start(config_text: str = "", **kw: Any) -> RunningGateway:
        kw.setdefault("clock", Clock())
        return make_gateway(PINNED + config_text, **kw)

    return start


@pytest.fixture
def gateway(make_gateway: Callable[..., RunningGateway]) -> RunningGateway:
    return make_gateway()


@pytest.fixture
def openai_client(gateway: RunningGateway) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture
def anthropic_client(gateway: RunningGateway) -> Any:
    import anthropic

    return anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
