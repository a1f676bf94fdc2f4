"""What one request costs the gateway's own code, in process, with no HTTP server in front:
the ASGI apps of the bare proxy (bench/bare.py), costops, costops with every stage
(bench/costops-stages.yaml) and, asked for, the same with routing on (``costops-routing``) are called directly, each against the real zero-delay upstream
(bench/upstream.py) over loopback, with a unique body per request (the exact cache misses).

Two measures, both steady on a loaded machine where req/s is not:

* CPU microseconds per request: the event loop's thread and the whole process (the ledger
  writer's thread included), best of ``--repeat`` interleaved rounds;
* with ``--opcodes``: Python bytecode instructions and frames (calls and coroutine resumptions)
  per request on the event loop's thread, counted by a tracer, so exactly the same on every run.
  C code (orjson, tiktoken, SQLite, the kernel) is not counted; ``--top N`` lists the functions
  that execute the most. The tracer makes the run ~50x slower: use a small ``-n``.

The HTTP benchmark (bench/gateway.py) says whether the targets are met; this says where the
time goes and whether a change took instructions out of the path.

    .venv/bin/python bench/path_cost.py                            # CPU per request, 3 rounds
    .venv/bin/python bench/path_cost.py --opcodes -n 400 --top 30  # instructions per request
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import HERE, HOST, NONCE, REQUEST, body_bytes, config_path
from procs import free_port


def scope_for(raw: bytes) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1:4000"), (b"content-type", b"application/json"),
                    (b"authorization", b"Bearer sk-bench"), (b"content-length", str(len(raw)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 4000),
    }


async def drive(app: Any, n: int, concurrency: int, nonce: str) -> int:
    """``n`` requests (rounded down to whole rounds of ``concurrency``) through ``app``."""
    template = body_bytes(REQUEST)
    serial = iter(range(n + concurrency))

    async def one() -> None:
        raw = template.replace(NONCE.encode(), f"{nonce}.{next(serial)}".encode())
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if given:
                await asyncio.sleep(3600)  # no disconnect while the answer is sent
            given = True
            return {"type": "http.request", "body": raw, "more_body": False}

        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope_for(raw), receive, send)
        if status != [200]:
            raise SystemExit(f"request answered {status}")

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    per = n // concurrency
    await asyncio.gather(*(worker(per) for _ in range(concurrency)))
    return per * concurrency


class Counter:
    """Opcodes and frames executed on this thread while installed (``sys.settrace``)."""

    def __init__(self) -> None:
        self.opcodes = self.frames = 0
        self.per_code: dict[Any, int] = {}
        self.owner: dict[Any, str] = {}
        """A generated method's class (a dataclass's ``__init__`` is ``<string>``: name it)."""

    def trace(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            self.opcodes += 1
            self.per_code[frame.f_code] = self.per_code.get(frame.f_code, 0) + 1
        elif event == "call":
            self.frames += 1
            frame.f_trace_opcodes = True
            code = frame.f_code
            if code.co_filename == "<string>" and code not in self.owner:
                this = frame.f_locals.get("self", frame.f_locals.get("_cls"))
                self.owner[code] = getattr(this, "__name__", type(this).__name__)
        return self.trace


async def build(names: list[str], upstream: str, tmp: str) -> dict[str, tuple[Any, Any]]:
    import bare

    from costops.config import load_config
    from costops.gateway.app import create_app

    apps: dict[str, tuple[Any, Any]] = {}
    for name in names:
        if name == "bare":
            apps[name] = (bare.make_app(upstream), None)
            continue
        path = config_path(name, Path(tmp))
        config = load_config(str(path) if path else None, db=f"sqlite:///{tmp}/{name}.db")
        gateway = create_app(config)
        await gateway.startup()
        apps[name] = (gateway, gateway)
    return apps


async def main(args: argparse.Namespace) -> None:
    up_port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(HERE / "upstream.py"), "--port", str(up_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    apps: dict[str, tuple[Any, Any]] = {}
    work = tempfile.mkdtemp(prefix="costops-path-")  # the targets' ledgers; removed at the end
    try:
        import socket

        for _ in range(200):
            try:
                socket.create_connection((HOST, up_port), 0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        base = f"http://{HOST}:{up_port}/v1"
        os.environ.update({"OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-bench"})
        apps = await build(args.targets.split(","), base, work)
        # as `costops serve` runs (costops.serving.ServingServer): start-up frozen, the same thresholds
        from costops.serving import GC_THRESHOLDS

        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in apps}
        for r in range(args.repeat):
            for name, (app, gateway) in apps.items():
                await drive(app, min(300, args.n), args.concurrency, f"warm{r}")
                if gateway is not None:
                    await gateway.writer.flush()
                counter = Counter() if args.opcodes else None
                t0, p0 = time.thread_time(), time.process_time()
                if counter is not None:
                    sys.settrace(counter.trace)
                n = await drive(app, args.n, args.concurrency, f"run{r}")
                if counter is not None:
                    sys.settrace(None)
                if gateway is not None:
                    await gateway.writer.flush()  # the writer's share of these requests, in the process CPU
                t1, p1 = time.thread_time(), time.process_time()
                cpu[name].append(((t1 - t0) * 1e6 / n, (p1 - p0) * 1e6 / n))
                if counter is not None:
                    print(f"{name:15s} {counter.opcodes / n:8.0f} opcodes/req  {counter.frames / n:6.0f} frames/req")
                    for code, count in sorted(counter.per_code.items(), key=lambda kv: -kv[1])[: args.top]:
                        where = code.co_filename.split("site-packages/")[-1].split("src/")[-1]
                        owner = counter.owner.get(code)
                        name_of = f"{owner}.{code.co_name}" if owner else code.co_name
                        print(f"    {count / n:7.1f}  {where}:{code.co_firstlineno} {name_of}")
        if not args.opcodes:
            print(f"CPU us per request, best of {args.repeat} (n={args.n}, concurrency {args.concurrency}):")
            floor = min(p for _, p in cpu["bare"]) if "bare" in cpu else None
            for name, runs in cpu.items():
                thread, process = min(t for t, _ in runs), min(p for _, p in runs)
                ratio = f"  x{process / floor:.2f} of bare" if floor else ""
                print(f"  {name:15s} loop thread {thread:6.1f}  process {process:6.1f}{ratio}"
                      f"   (rounds: {', '.join(f'{p:.0f}' for _, p in runs)})")
    finally:
        for _name, (app, gateway) in apps.items():
            if gateway is not None:
                await gateway.shutdown()
            for cell in getattr(app, "__closure__", None) or ():  # the bare proxy's session, made at its first request
                if isinstance(cell.cell_contents, list) and cell.cell_contents and hasattr(cell.cell_contents[0], "close"):
                    await cell.cell_contents[0].close()
        upstream.terminate()
        upstream.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="bare,costops,costops-stages,costops-routing")
    ap.add_argument("-n", type=int, default=4000, help="requests per target per round (default 4000)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--opcodes", action="store_true", help="count Python opcodes and frames per request instead")
    ap.add_argument("--top", type=int, default=0, help="with --opcodes: the N functions executing the most")
    a = ap.parse_args()
    if a.opcodes:
        a.repeat = 1
    import uvloop

    uvloop.run(main(a))
