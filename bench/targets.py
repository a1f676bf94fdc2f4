"""The targets the benchmark measures, and how each is started and probed.

* ``direct``: the load generator straight to the upstream (the baseline latencies are subtracted);
* ``bare``: bench/bare.py, the floor: a forwarding proxy with no features;
* ``costops``: ``costops serve`` with no config (no stages);
* ``costops-stages``: ``costops serve --config bench/costops-stages.yaml`` (every stage on);
* ``costops-routing``: the same stages plus routing (a cheapest-capable policy for the key);
* ``costops-semantic``: the same stages plus the semantic cache at its defaults (miss path);
* ``litellm``, ``portkey``: the peers installed by bench/peers.sh.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import HERE, HOST, MODEL, PEERS, REQUEST, STREAM_REQUEST, body_bytes, config_path
from procs import Proc, free_port

ALL_TARGETS = ("direct", "bare", "costops", "costops-stages", "costops-routing", "costops-semantic", "litellm", "portkey")
COSTOPS_TARGETS = ("costops", "costops-stages", "costops-routing", "costops-semantic")


@dataclass
class Target:
    name: str
    url: str  # full URL of the chat completions endpoint
    headers: dict[str, str]
    proc: Proc | None = None  # None for direct (the upstream is measured instead)
    rss_pid: int | None = None
    version: str = ""
    db: Path | None = None  # costops's SQLite ledger, counted after shutdown
    sent: int = 0  # requests answered by the target (probes, warm-ups and measured phases)


def post_once(url: str, headers: dict, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    assert u.hostname == HOST, "loopback only"
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", u.path, body=body, headers={"Content-Type": "application/json", **headers})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_ready(t: Target, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if t.proc is not None and not t.proc.alive():
            raise RuntimeError(
                f"{t.name} exited with code {t.proc.p.returncode} during startup:\n{t.proc.log_tail()}"
            )
        try:
            status, data = post_once(t.url, t.headers, body_bytes(REQUEST, "probe-" + secrets.token_hex(4)))
            if status == 200 and b'"usage"' in data:
                t.sent += 1
                return
            last = f"HTTP {status}: {data[:300]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.25)
    tail = t.proc.log_tail() if t.proc else ""
    raise RuntimeError(f"{t.name} not ready after {timeout:.0f}s (last: {last})\n{tail}")


def check_stream(t: Target) -> str | None:
    body = body_bytes(STREAM_REQUEST, "probe-" + secrets.token_hex(4))
    status, data = post_once(t.url, t.headers, body, timeout=10.0)
    t.sent += 1
    if status != 200:
        return f"stream probe: HTTP {status}: {data[:300]!r}"
    if b"[DONE]" not in data:
        return f"stream probe: no [DONE] in {data[-300:]!r}"
    if b'"usage"' not in data:
        return "stream probe: no usage chunk"
    return None


def pkg_version(python: Path, dist: str) -> str:
    try:
        return subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def costops_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "costops"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from costops.cli import main; sys.exit(main())"]


def start_direct(up_port: int, up_pid: int, args) -> Target:
    return Target(
        "direct",
        f"http://{HOST}:{up_port}/v1/chat/completions",
        {"Authorization": "Bearer sk-bench"},
        None,
        up_pid,
        f"bench/upstream.py ({args.upstream_impl})",
    )


def start_costops(
    up_port: int, work: Path, args, name: str = "costops", config: Path | None = None, src: str | None = None
) -> Target:
    """``src``: run costops from that source tree instead (a variant: ``costops@before``)."""
    port = free_port()
    env = {**os.environ, "OPENAI_BASE_URL": f"http://{HOST}:{up_port}/v1", "OPENAI_API_KEY": "sk-bench"}
    if src:
        env["PYTHONPATH"] = src
    for k in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "GEMINI_API_KEY",
        "GEMINI_BASE_URL",
        "COSTOPS_DB",
        "COSTOPS_PORT",
        "COSTOPS_CONFIG",
        "COSTOPS_ADMIN_KEY",
    ):
        env.pop(k, None)
    db = work / f"{name}-{port}.db"
    argv = costops_cmd() + ["serve", "--host", HOST, "--port", str(port), "--db", f"sqlite:///{db}"]
    if config is not None:
        argv += ["--config", str(config)]
    if args.costops_log_level:
        argv += ["--log-level", args.costops_log_level]
    proc = Proc(name, argv, env, work, work)
    version = pkg_version(Path(sys.executable), "costops") + (f" --config {config.name}" if config else "")
    version += f" (src {src})" if src else ""
    return Target(
        name,
        f"http://{HOST}:{port}/v1/chat/completions",
        {"Authorization": "Bearer sk-bench"},
        proc,
        proc.pid,
        version,
        db=db,
    )


def start_costops_stages(up_port: int, work: Path, args, name: str = "costops-stages", src: str | None = None) -> Target:
    return start_costops(up_port, work, args, name, config_path(name, work), src)


def start_costops_routing(up_port: int, work: Path, args, name: str = "costops-routing", src: str | None = None) -> Target:
    return start_costops(up_port, work, args, name, config_path(name, work), src)


def start_costops_semantic(up_port: int, work: Path, args, name: str = "costops-semantic", src: str | None = None) -> Target:
    return start_costops(up_port, work, args, name, config_path(name, work), src)


def start_variant(name: str, up_port: int, work: Path, args) -> Target:
    """``costops@NAME`` / ``costops-stages@NAME`` / ``costops-routing@NAME``: that target run from
    ``--variant NAME=SRC``'s tree, to measure a change before and after in one run."""
    base, _, variant = name.partition("@")
    src = dict(v.split("=", 1) for v in args.variant).get(variant)
    if base not in COSTOPS_TARGETS or not src:
        raise ValueError(f"{name}: variants are {'@NAME, '.join(COSTOPS_TARGETS)}@NAME with --variant NAME=SRC_DIR")
    return start_costops(up_port, work, args, name, config_path(name, work), src)


def start_bare(up_port: int, work: Path, args) -> Target:
    port = free_port()
    argv = [sys.executable, str(HERE / "bare.py"), "--port", str(port), "--upstream", f"http://{HOST}:{up_port}/v1"]
    proc = Proc("bare", argv, {**os.environ, "OPENAI_API_KEY": "sk-bench"}, work, work)
    return Target(
        "bare",
        f"http://{HOST}:{port}/v1/chat/completions",
        {"Authorization": "Bearer sk-bench"},
        proc,
        proc.pid,
        "bench/bare.py (uvicorn+uvloop+httptools, aiohttp, orjson)",
    )


def start_litellm(up_port: int, work: Path, args) -> Target:
    venv = PEERS / "litellm"
    exe = venv / "bin" / "litellm"
    if not exe.exists():
        raise FileNotFoundError(f"{exe} (run bash bench/peers.sh)")
    port = free_port()
    cfg = work / "litellm.yaml"
    # No database (no DATABASE_URL): no spend logs / key tables. Telemetry off, no spend-log writes,
    # no per-request debug logs, local price map (no fetch at startup).
    cfg.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: http://{HOST}:{up_port}/v1\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  set_verbose: false\n"
        "  drop_params: true\n"
        "general_settings:\n"
        "  disable_spend_logs: true\n"
    )
    master = "sk-" + secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LITELLM_", "OPENAI_"))}
    env.update(
        LITELLM_MASTER_KEY=master,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR",
        LITELLM_TELEMETRY="False",
        DISABLE_ADMIN_UI="True",
        PYTHONUNBUFFERED="1",
    )
    argv = [str(exe), "--config", str(cfg), "--host", HOST, "--port", str(port), "--num_workers", "1"]
    proc = Proc("litellm", argv, env, work, work)
    return Target(
        "litellm",
        f"http://{HOST}:{port}/v1/chat/completions",
        {"Authorization": f"Bearer {master}"},
        proc,
        proc.pid,
        pkg_version(venv / "bin" / "python", "litellm"),
    )


def start_portkey(up_port: int, work: Path, args) -> Target:
    pdir = PEERS / "portkey"
    entry = pdir / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    node = shutil.which("node")
    if not entry.exists() or not node:
        raise FileNotFoundError(f"{entry} or node (run bash bench/peers.sh)")
    port = free_port()
    env = dict(os.environ)
    env.pop("PORT", None)
    argv = [node, str(entry), f"--port={port}", "--headless"]
    proc = Proc("portkey", argv, env, pdir, work)
    try:
        version = json.loads((entry.parents[1] / "package.json").read_text())["version"]
        hono = json.loads((pdir / "node_modules/@hono/node-server/package.json").read_text())["version"]
        node_v = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
        version = f"{version} (node {node_v}, @hono/node-server {hono})"
    except (OSError, ValueError, KeyError):
        version = "?"
    headers = {
        "Authorization": "Bearer sk-bench",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"http://{HOST}:{up_port}/v1",
    }
    return Target("portkey", f"http://{HOST}:{port}/v1/chat/completions", headers, proc, proc.pid, version)


STARTERS = {
    "bare": start_bare,
    "costops": start_costops,
    "costops-stages": start_costops_stages,
    "costops-routing": start_costops_routing,
    "costops-semantic": start_costops_semantic,
    "litellm": start_litellm,
    "portkey": start_portkey,
}


def stop_target(t: Target, grace: float) -> dict:
    """Stop a gateway (SIGTERM, then SIGKILL after ``grace`` s); for costops count the ledger rows."""
    info: dict = {"sent": t.sent}
    if t.proc is None:
        return info
    t0 = time.monotonic()
    t.proc.stop(grace=grace)
    info["shutdown_s"] = round(time.monotonic() - t0, 2)
    info["exit_code"] = t.proc.p.returncode
    if t.db is not None:
        import sqlite3

        rows = {}
        try:
            con = sqlite3.connect(f"file:{t.db}?mode=ro", uri=True, timeout=5)
            try:
                for (name,) in con.execute("select name from sqlite_master where type='table'"):
                    rows[name] = con.execute(f'select count(*) from "{name}"').fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error as exc:
            rows = {"error": str(exc)}
        info["ledger_rows"] = rows
    return info
