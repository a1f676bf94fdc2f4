"""Gateway replicas as real processes (`costops serve`), and the Redis they share.

Multi-replica behaviour (shared caches, budgets, limits) is only proven across processes: each
has its own event loop, memory tier and connections, as behind a load balancer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Self, TypeVar

import pytest

from costops.serving import free_port
from tests import rawhttp

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip() -> str:
    """The shared Redis; CI must have it (``.ci/services`` starts it), elsewhere it may be absent."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is required in CI and is down: {exc}")
        pytest.skip(f"needs Redis at {REDIS_URL} ({exc}); `bash .ci/services` starts it")
    return REDIS_URL


class Replica:
    """``costops serve --config CONFIG`` on a free port, providers pointed at the simulator."""

    def __init__(self, config: Path, sim_url: str, tmp: Path, n: int, *, db: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"replica-{n}.log"
        self.log: IO[bytes] = open(self.log_path, "wb")  # noqa: SIM115
        env = {**os.environ, "OPENAI_BASE_URL": f"{sim_url}/v1", "OPENAI_API_KEY": "x",
               "ANTHROPIC_BASE_URL": sim_url, "ANTHROPIC_API_KEY": "x"}
        command = [str(Path(sys.executable).parent / "costops"), "serve", "--config", str(config),
                   "--port", str(self.port), "--log-level", "warning"]
        if db is not None:
            command += ["--db", db]
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> Self:
        """Until ``/health`` answers: generous, as a loaded machine starts a process slowly."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"replica exited: {self.log_path.read_text()}")
            try:
                if rawhttp.get(f"{self.url}/health", timeout=1).status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"replica on {self.port} did not start: {self.log_path.read_text()}")

    def stop(self) -> None:
        """SIGTERM: a graceful stop flushes the ledger queue."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


R = TypeVar("R", bound=Replica)


@contextmanager
def pair(config_text: str, sim_url: str, tmp: Path, kind: type[R] = Replica, *,  # type: ignore[assignment]
         db: str | None = None) -> Iterator[tuple[R, R]]:
    """Two replicas of one config sharing the Redis, ready; stopped afterwards, whatever happened.
    Each writes its own SQLite ledger unless ``db`` names one ledger for both."""
    redis_or_skip()
    config = tmp / "costops.yaml"
    config.write_text(config_text)
    a, b = (kind(config, sim_url, tmp, n, db=db or f"sqlite:///{tmp}/replica-{n}.db") for n in range(2))
    try:
        yield a.wait_ready(), b.wait_ready()
    finally:
        a.stop()
        b.stop()
