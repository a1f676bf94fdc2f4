"""Schemathesis against a live gateway: every stage on, real sockets, its own /openapi.json.

    .venv/bin/python bench/schemathesis_run.py                 # 2,000 requests, seed 8
    .venv/bin/python bench/schemathesis_run.py -n 5000 --seed 1

The gateway (virtual keys, an admin key, two budgets, rate limits, the exact, semantic and
prompt caches) serves a provider simulator; both run in this process on loopback sockets, so a
server error's traceback is caught from the log and printed with the request that caused it.
Schemathesis generates the requests from the gateway's own document, valid (positive) and
invalid (negative) in turn, operation by operation, until the budget of requests is spent; the
``not_a_server_error`` check judges each answer, and the conformance checks (status, content
type, body schema) say where an answer differs from the document.

Liberties taken to reach deeper paths (the published document is not changed):
- a valid request names a model the simulator serves (otherwise almost every call would stop
  at "unknown model"; invalid requests still send any model), a non-empty ``messages`` of
  user / assistant / system turns with text content, ``temperature: 0`` (so the exact cache
  keys it) and at most one cache directive (an invalid request may break any of these);
- ``n`` is capped at 16 before sending: the simulator builds as many choices as asked (OpenAI
  refuses n > 128) and would take minutes over n = 50,000;
- budgets the fuzzer created are deleted after each round (one budget of $0 would otherwise
  refuse every later call);
- one request in ten goes out without a key, so the refusals are fuzzed too.

Prints the requests sent, the answers by status (0: no answer within 30 s), where answers
differ from the document, and each server error with its request, ``curl`` line and
traceback; exits 1 if there was any. ``tests/test_openapi.py`` runs 200.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

KEY, ADMIN_KEY = "sk-fuzz", "sk-fuzz-admin"
MAX_N = 16
TEXT_PART = {"type": "object", "required": ["type", "text"],
             "properties": {"type": {"const": "text"}, "text": {"type": "string"}}}
CACHE_DIRECTIVES = ["no-cache", "no-store", "off", "force", "ttl=60", "no-store, ttl=5"]
SERVED_MODELS = ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash", "text-embedding-3-small"]
CONFIG = f"""
server: {{admin_key: {ADMIN_KEY}}}
keys:
  - {{id: fuzz, key: {KEY}, tenant: acme, team: core}}
budgets:
  list:
    - {{name: acme-month, limit_usd: 1000, scope: {{tenant: acme}}}}
    - {{name: everyone-day, limit_usd: 1000, window: daily}}
limits:
  - {{scope: key, id: "*", rpm: 1000000, tpm: 1000000000}}
  - {{scope: global, rpm: 1000000}}
cache:
  exact: {{default_ttl_s: 600}}
  semantic: {{}}
  prompt: {{}}
"""
CONFIG_BUDGETS = {"acme-month", "everyone-day"}


@dataclass
class ServerError:
    operation: str
    status: int
    curl: str
    body: bytes


@dataclass
class Tally:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    server_errors: list[ServerError] = field(default_factory=list)
    tracebacks: Counter[str] = field(default_factory=Counter)
    mismatches: Counter[str] = field(default_factory=Counter)
    """Answers that differ from the document (status, content type or body schema)."""
    not_generated: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def report(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.by_status.items()))
        lines = [
            f"schemathesis: {self.requests} requests in {self.seconds:.1f} s, "
            f"{len(self.server_errors)} server errors (not_a_server_error)",
            f"  by status: {statuses}",
            "  by operation: " + ", ".join(f"{op} {n}" for op, n in sorted(self.by_operation.items())),
        ]
        for text, count in self.mismatches.most_common(20):
            lines.append(f"  differs from the document {count}x: {text}")
        if self.not_generated:
            lines.append("  nothing generated for: " + ", ".join(sorted(set(self.not_generated))))
        for error in self.server_errors[:20]:
            lines += [f"  {error.status} {error.operation}", f"    {error.curl}", f"    -> {error.body[:300]!r}"]
        for text, count in self.tracebacks.most_common():
            lines += [f"  traceback logged {count}x:", *("    " + line for line in text.rstrip().splitlines())]
        return "\n".join(lines)


class _Tracebacks(logging.Handler):
    """Every exception the gateway (or uvicorn) logs, counted by its traceback text."""

    def __init__(self, tally: Tally) -> None:
        super().__init__(logging.ERROR)
        self.tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.tally.tracebacks["".join(traceback.format_exception(*record.exc_info))] += 1


@contextlib.contextmanager
def live_gateway(workdir: Path) -> Iterator[str]:
    """The simulator and a gateway with every stage on, each on its own loopback socket."""
    from costops.config import load_config
    from costops.gateway.app import create_app
    from costops.providers.simulator import SimConfig, create_simulator
    from costops.serving import BackgroundServer

    with BackgroundServer(create_simulator(SimConfig(latency_scale=0))) as sim:
        path = workdir / "costops.yaml"
        path.write_text(CONFIG)
        env = {
            "OPENAI_BASE_URL": f"{sim.url}/v1", "OPENAI_API_KEY": "sk-sim-openai",
            "ANTHROPIC_BASE_URL": sim.url, "ANTHROPIC_API_KEY": "sk-sim-anthropic",
            "GEMINI_BASE_URL": sim.url, "GEMINI_API_KEY": "sim-gemini",
        }
        config = load_config(path, env=env, db=f"sqlite:///{workdir}/ledger.db")
        with BackgroundServer(create_app(config)) as gateway:
            yield gateway.url


def fuzz(base_url: str, total: int, seed: int) -> Tally:
    """Send ``total`` schemathesis requests to the gateway at ``base_url``; tally the answers."""
    import requests
    import schemathesis

    tally = Tally()
    handler = _Tracebacks(tally)
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]  # uvicorn's do not reach the root
    for logger in loggers:
        logger.addHandler(handler)
    started = time.perf_counter()
    session = requests.Session()
    try:
        doc = orjson.loads(session.get(f"{base_url}/openapi.json", timeout=10).content)
        schema = schemathesis.openapi.from_dict(_reach_deeper(doc))
        operations = [result.ok() for result in schema.get_all_operations()]
        modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
        weights = [_weight(operation.definition.raw) for operation in operations]
        unit = max(1, total // (sum(weights) * len(modes)))
        rounds = 0
        while tally.requests < total:
            before = tally.requests
            for number, operation in enumerate(operations):
                for m, mode in enumerate(modes):
                    budget = min(unit * weights[number], total - tally.requests)
                    if budget > 0:
                        run = _Run(operation, base_url, session, tally, total)
                        run.examples(mode, budget, seed + rounds * 1000 + number * len(modes) + m)
            _drop_fuzzed_budgets(session, base_url)
            rounds += 1
            if tally.requests == before:  # nothing left to generate: stop rather than spin
                break
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        session.close()
    tally.seconds = time.perf_counter() - started
    return tally


@dataclass
class _Run:
    """Generated requests for one operation: send each, judge it, tally it."""

    operation: Any
    base_url: str
    session: Any
    tally: Tally
    total: int

    def examples(self, mode: Any, count: int, seed: int) -> None:
        import hypothesis
        from hypothesis import HealthCheck, Phase, given, settings

        @given(case=self.operation.as_strategy(generation_mode=mode))
        @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @hypothesis.seed(seed)
        def one(case: Any) -> None:
            if self.tally.requests < self.total:
                self.send(case)

        try:
            one()
        except hypothesis.errors.Unsatisfiable:
            self.tally.not_generated.append(f"{self.operation.label} ({mode.value})")

    def send(self, case: Any) -> None:
        import requests
        from schemathesis.checks import not_a_server_error
        from schemathesis.core.failures import Failure, FailureGroup
        from schemathesis.specs.openapi.checks import (
            content_type_conformance,
            response_schema_conformance,
            status_code_conformance,
        )

        tally, label = self.tally, self.operation.label
        key = ADMIN_KEY if self.operation.path.startswith("/admin/") else KEY
        headers = {"authorization": f"Bearer {key}"} if tally.requests % 10 != 9 else None
        if isinstance(case.body, dict) and isinstance(case.body.get("n"), int) and case.body["n"] > MAX_N:
            case.body["n"] = MAX_N
        tally.requests += 1
        try:
            response = case.call(base_url=self.base_url, session=self.session, headers=headers, timeout=30)
        except requests.RequestException as exc:  # no answer at all: as bad as a 5xx
            tally.by_status[0] += 1
            curl = case.as_curl_command(headers=headers)
            tally.server_errors.append(ServerError(label, 0, curl, f"{type(exc).__name__}: {exc}".encode()))
            return
        tally.by_status[response.status_code] += 1
        tally.by_operation[label] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
        except (AssertionError, FailureGroup):
            curl = case.as_curl_command(headers=headers)
            tally.server_errors.append(ServerError(label, response.status_code, curl, response.content))
            return
        try:  # does the answer match what the document says?
            conformance = [status_code_conformance, content_type_conformance, response_schema_conformance]
            case.validate_response(response, checks=conformance, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                title = failure.title if isinstance(failure, Failure) else str(failure)
                tally.mismatches[f"{label} {response.status_code}: {title}"] += 1


def _weight(operation: dict[str, Any]) -> int:
    """The proxied routes get most requests: that is where bodies are read and translated."""
    if "proxied" in operation.get("tags", ()):
        return 4
    return 2 if "requestBody" in operation else 1


def _reach_deeper(doc: dict[str, Any]) -> dict[str, Any]:
    """Valid requests name a model the simulator serves; invalid ones may not (see the docstring)."""
    doc = orjson.loads(orjson.dumps(doc))
    for item in doc["paths"].values():
        post = item.get("post", {})
        if "proxied" not in post.get("tags", ()):
            continue
        body = post["requestBody"]["content"]["application/json"]["schema"]
        body["properties"]["model"] = {"enum": SERVED_MODELS}  # (anyOf with the string collapses into it)
        if "messages" in body["properties"]:  # the providers' own required fields
            body["required"] = ["model", "messages"]
            messages = body["properties"]["messages"]
            messages["minItems"] = 1
            messages["items"] = {"type": "object", "required": ["role", "content"], "properties": {
                "role": {"enum": ["user", "assistant", "system"]},
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": TEXT_PART}]},
            }}
            body["properties"]["temperature"] = {"enum": [0]}  # deterministic: the exact cache keys it
        single = {"enum": CACHE_DIRECTIVES}  # the grammar's list form mostly repeats a directive: a 400
        body["properties"]["costops_cache"] = single
        for parameter in post["parameters"]:
            if parameter["name"] == "x-costops-cache":
                parameter["schema"] = single
    return doc


def _drop_fuzzed_budgets(session: Any, base_url: str) -> None:
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    listed = session.get(f"{base_url}/admin/budgets", headers=headers, timeout=10).json()
    for row in listed["budgets"]:
        if row["name"] not in CONFIG_BUDGETS:
            session.delete(f"{base_url}/admin/budgets", params={"name": row["name"]}, headers=headers, timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, live_gateway(Path(tmp)) as url:
        tally = fuzz(url, args.requests, args.seed)
    print(tally.report())
    return 1 if tally.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
