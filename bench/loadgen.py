"""Load generation: wrk with bench/post.lua, or a lean asyncio HTTP/1.1 keep-alive generator.

``Loader.run`` runs one time-bounded phase against one target and returns its counts, latency
percentiles, errors and the CPU the server (and everything else on the machine) used meanwhile.
With ``unique`` every request's body differs (see :mod:`common`): each phase gets its own nonce,
so no two requests of a run are the same.

The asyncio generator runs in its own process: ``python bench/loadgen.py '<spec json>'``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import HOST, LUA, NONCE
from sysstat import children_cpu, cpu_seconds, machine_busy


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    err_detail: dict
    server_cpu_s: float = 0.0
    cpu_ms_per_req: float = 0.0
    other_cpu_pct: float = 0.0  # machine CPU not used by server, upstream or load generator


def wrk_run(t, body: bytes, conc: int, seconds: float, work: Path, threads: int, nonce: str | None) -> dict:
    bf, hf = work / f"body-{conc}-{len(body)}.json", work / f"headers-{t.name}.txt"
    bf.write_bytes(body)
    hf.write_text(
        "".join(f"{k}: {v}\n" for k, v in {"Content-Type": "application/json", **t.headers}.items())
    )
    argv = [
        "wrk",
        f"-t{min(threads, conc)}",
        f"-c{conc}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        t.url,
    ]
    env = {**os.environ, "BENCH_BODY": str(bf), "BENCH_HEADERS": str(hf), "BENCH_MARK": NONCE}
    env.pop("BENCH_NONCE", None)
    if nonce is not None:
        env["BENCH_NONCE"] = nonce
    out = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=seconds + 60, start_new_session=True
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed (rc {out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    d = json.loads(line[len("BENCH_JSON ") :])
    errs = {
        k[4:]: d[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout") if d[k]
    }
    return {
        "requests": d["requests"],
        "seconds": d["duration_us"] / 1e6,
        "p50_us": d["p50"],
        "p90_us": d["p90"],
        "p99_us": d["p99"],
        "max_us": d["lat_max"],
        "errors": sum(errs.values()),
        "err_detail": errs,
    }


def py_run(t, body: bytes, conc: int, seconds: float, work: Path, threads: int, nonce: str | None) -> dict:
    spec = {
        "url": t.url,
        "headers": t.headers,
        "body": body.decode(),
        "concurrency": conc,
        "seconds": seconds,
        "nonce": nonce,
    }
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        start_new_session=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Loader:
    def __init__(self, kind: str, work: Path, threads: int, unique: bool = True):
        self.kind, self.work, self.threads, self.unique = kind, work, threads, unique
        self.fn = wrk_run if kind == "wrk" else py_run
        self._run_id = secrets.token_hex(3)
        self._phase = itertools.count()

    def nonce(self) -> str | None:
        """A value no other phase of this run uses (the body's marker stays fixed without ``unique``)."""
        return f"{self._run_id}.{next(self._phase)}" if self.unique else None

    def raw(self, t, body: bytes, conc: int, seconds: float) -> dict:
        """One phase without the CPU accounting (the soak samples RSS meanwhile)."""
        nonce = self.nonce()
        return self.fn(t, body if nonce else body.replace(NONCE.encode(), b"0"), conc, seconds, self.work,
                       self.threads, nonce)

    def run(self, t, body: bytes, conc: int, seconds: float, measure_pids=()) -> LoadResult:
        pid = t.rss_pid
        cpu0 = cpu_seconds(pid) if pid else 0.0
        others0 = sum(cpu_seconds(p) for p in measure_pids)
        kids0 = children_cpu()
        busy0, tot0 = machine_busy()
        d = self.raw(t, body, conc, seconds)
        busy1, tot1 = machine_busy()
        cpu = (cpu_seconds(pid) - cpu0) if pid else 0.0
        others = sum(cpu_seconds(p) for p in measure_pids) - others0
        loadgen = children_cpu() - kids0
        wall = max(tot1 - tot0, 1e-9) / os.cpu_count()
        other = max(0.0, (busy1 - busy0) - cpu - others - loadgen) / wall * 100 / os.cpu_count()
        n = d["requests"]
        t.sent += n
        return LoadResult(
            conc,
            d["seconds"],
            n,
            n / d["seconds"] if d["seconds"] else 0.0,
            d["p50_us"] / 1e3,
            d["p90_us"] / 1e3,
            d["p99_us"] / 1e3,
            d["max_us"] / 1e3,
            d["errors"],
            d["err_detail"],
            cpu,
            cpu * 1e3 / n if n else 0.0,
            other,
        )


# ---------------------------------------------------------------- the asyncio load generator
async def _loadgen(spec: dict) -> dict:
    from urllib.parse import urlsplit

    u = urlsplit(spec["url"])
    if u.hostname != HOST:
        raise SystemExit("loopback only")
    body = spec["body"].encode()
    head = (
        f"POST {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Type: application/json\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in spec["headers"].items())
    ).encode()
    nonce = spec.get("nonce")
    pre, _, post = body.partition(NONCE.encode()) if nonce else (body, b"", b"")
    fixed = head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    serial = itertools.count()

    def request() -> bytes:
        if not nonce:
            return fixed
        b = pre + f"{nonce}.{next(serial)}".encode() + post
        return head + f"Content-Length: {len(b)}\r\n\r\n".encode() + b

    conc, seconds = int(spec["concurrency"]), float(spec["seconds"])
    max_requests = int(spec.get("max_requests", 20_000_000))
    lat: list[float] = []
    errs = {"status": 0, "socket": 0, "timeout": 0}
    count = 0
    t_end = time.perf_counter() + seconds

    async def read_response(reader) -> int:
        hdr = await reader.readuntil(b"\r\n\r\n")
        status = int(hdr[9:12])
        low = hdr.lower()
        i = low.find(b"content-length:")
        if i >= 0:
            n = int(low[i + 15 : low.index(b"\r\n", i)])
            await reader.readexactly(n)
        elif b"transfer-encoding: chunked" in low:
            while True:
                line = await reader.readuntil(b"\r\n")
                size = int(line.split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await reader.read()  # close-delimited
            raise ConnectionResetError("close-delimited response")
        if b"connection: close" in low:
            raise ConnectionResetError("server closed")
        return status

    async def worker():
        nonlocal count
        reader = writer = None
        pc = time.perf_counter
        while pc() < t_end and count < max_requests:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(u.hostname, u.port)
                req = request()
                t0 = pc()
                writer.write(req)
                status = await asyncio.wait_for(read_response(reader), timeout=max(0.1, t_end - t0 + 10))
                t1 = pc()
                if t1 > t_end + 10:
                    break
                count += 1
                lat.append(t1 - t0)
                if not 200 <= status < 300:
                    errs["status"] += 1
            except asyncio.TimeoutError:
                errs["timeout"] += 1
                writer and writer.close()
                reader = writer = None
            except (OSError, asyncio.IncompleteReadError, ValueError, asyncio.LimitOverrunError):
                errs["socket"] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    elapsed = time.perf_counter() - t0
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1e6 if lat else 0.0

    return {
        "requests": count,
        "seconds": elapsed,
        "p50_us": pct(50),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "max_us": lat[-1] * 1e6 if lat else 0.0,
        "errors": sum(errs.values()),
        "err_detail": {k: v for k, v in errs.items() if v},
    }


def loadgen_main(spec_json: str) -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_loadgen(json.loads(spec_json)))))
    return 0


if __name__ == "__main__":
    sys.exit(loadgen_main(sys.argv[1]))
