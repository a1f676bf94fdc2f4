"""What every part of the gateway benchmark shares: paths, the loopback host, the request bodies.

The measured body is the same for every target in a run. Its user message ends with ``NONCE``;
with ``--body unique`` (the default) the load generators replace it with a value unique per
request (run nonce, thread, counter), so a response cache never hits and the stages target
measures the cache's miss path; ``--body fixed`` sends one identical body (the hit path, for a
target with a cache). ``temperature`` is 0 so the exact cache considers every request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = HERE / ".peers"
LUA = HERE / "post.lua"
HOST = "127.0.0.1"
MODEL = "gpt-4o-mini"
NONCE = "#NONCE#"

REQUEST = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "You are a concise assistant for a cost-ops team."},
        {"role": "user", "content": f"Give me the three cheapest ways to cut our LLM spend this month. {NONCE}"},
    ],
    "max_tokens": 128,
    "temperature": 0,
}
STREAM_REQUEST = {**REQUEST, "stream": True, "stream_options": {"include_usage": True}}


def body_bytes(request: dict, nonce: str | None = None) -> bytes:
    """The request as bytes; ``nonce`` replaces the marker (a probe's own value), else it stays
    for the load generator to fill."""
    raw = json.dumps(request)
    return (raw.replace(NONCE, nonce) if nonce is not None else raw).encode()


STAGES_CONFIG = HERE / "costops-stages.yaml"
ROUTING = {
    "policies": {"auto": {"kind": "cheapest-capable", "models": ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"]}},
    "keys": {"bench-bot": "auto"},
}
"""The routing target's addition to the stages config: every request of the benchmark's key is
routed by a cheapest-capable policy over three models the upstream serves (it answers any)."""
SEMANTIC = {"verifier": "judge"}
"""The semantic target's addition to the stages config's ``cache`` section: the semantic cache at
its defaults (issue 11 asks for its throughput beside the stages-on figure). The bench's unique
bodies differ only in a number, so every lookup embeds, searches the growing index, finds a near
neighbour and is refused by the exact number check: the miss path, with every answer stored."""


def config_path(target: str, work: Path) -> Path | None:
    """The config file a costops target runs with: none (``costops``), the stages config
    (``costops-stages``), or the stages config plus :data:`ROUTING` (``costops-routing``) or
    :data:`SEMANTIC` (``costops-semantic``), written into ``work``."""
    base = target.split("@")[0]
    if base == "costops":
        return None
    if base == "costops-stages":
        return STAGES_CONFIG
    if base not in ("costops-routing", "costops-semantic"):
        raise ValueError(f"not a costops target: {target}")
    import yaml

    config = yaml.safe_load(STAGES_CONFIG.read_text())
    if base == "costops-routing":
        config["routing"] = ROUTING
    else:
        config["cache"]["semantic"] = SEMANTIC
    path = work / f"{base}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)
