"""Side-by-side gateway benchmark: costops (with and without its stages) vs a bare forwarding
proxy vs LiteLLM proxy vs Portkey gateway vs direct.

Starts the zero-delay upstream (bench/upstream.py), then every target (one worker each), and
measures them side by side in ``--repeat`` interleaved rounds (bench/phases.py), after a warm-up:

* throughput (req/s) at concurrency 32 (``--concurrency``) for ``--duration`` seconds;
* latency p50/p99 at concurrency 1 and at 32;
* errors (non-2xx answers and socket errors / timeouts);
* added latency = target p50/p99 minus direct p50/p99 at the same concurrency;
* ratios to the bare proxy (bench/bare.py): throughput and added latency, per round too;
* RSS of the server's process tree (VmRSS from /proc) idle before load and after load;
* CPU time the server spent per request (from /proc/<pid>/stat), which is less sensitive to
  other load on the machine than req/s.

``--stream`` repeats every phase with ``"stream": true`` (+ ``stream_options.include_usage``).
``--soak SECONDS`` then runs the soak targets (``--soak-targets``, default costops) at
``--soak-concurrency`` for that long, sampling RSS every ``--soak-interval`` seconds.
``--soak-only`` skips the comparison.

Load comes from wrk (with bench/post.lua) when it is installed, otherwise from a lean asyncio
HTTP/1.1 keep-alive load generator (bench/loadgen.py, ``--loadgen python``). Each request's body
is unique (``--body unique``) so a cache always misses; ``--body fixed`` repeats one body. The
load generator shares the machine's cores with the servers: compare ratios, not absolute numbers.

Everything talks only to 127.0.0.1, every load phase is bounded in time, and every process this
script starts runs in its own session and is killed (process group) on exit.

Modules: common (paths, bodies), procs (child processes), sysstat (/proc), targets (how each
target starts), loadgen (wrk and the asyncio generator), phases (rounds, soak), pyspy (profile),
report (table, ratios, verdicts), bare (the floor proxy).

    bash bench/peers.sh
    .venv/bin/python bench/gateway.py                      # all targets, 10 s phases
    .venv/bin/python bench/gateway.py --targets direct,bare,costops,costops-stages --repeat 3
    .venv/bin/python bench/gateway.py --targets costops,direct --duration 5 --stream
    .venv/bin/python bench/gateway.py --soak 300 --soak-only
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, REPO, log
from loadgen import Loader, loadgen_main
from phases import TargetResult, bench_all, soak_target
from procs import Proc, free_port, on_signal, stop_all
from report import render
from targets import ALL_TARGETS, STARTERS, start_direct, start_variant, stop_target, wait_ready


def parse_args(argv: list[str] | None):
    ap = argparse.ArgumentParser(
        description="costops vs a bare proxy vs LiteLLM vs Portkey vs direct, side by side.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    ap.add_argument(
        "--targets",
        default=",".join(ALL_TARGETS),
        help=f"comma list of {','.join(ALL_TARGETS)} (default all)",
    )
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measured phase (default 10)")
    ap.add_argument(
        "--warmup", type=float, default=3.0, help="warm-up seconds per target and body (default 3)"
    )
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--stream", action="store_true", help="also benchmark streamed requests")
    ap.add_argument(
        "--body",
        choices=("unique", "fixed"),
        default="unique",
        help="unique: every request differs (a cache misses; default); fixed: one body (a cache hits)",
    )
    ap.add_argument(
        "--json",
        metavar="PATH",
        help="write all results as JSON to PATH ('-' = stdout; the table then goes to stderr)",
    )
    ap.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="after the comparison, soak --soak-targets for SECONDS sampling RSS",
    )
    ap.add_argument("--soak-only", action="store_true", help="skip the comparison, only soak")
    ap.add_argument("--soak-targets", default="costops", help="comma list (default costops)")
    ap.add_argument("--soak-concurrency", type=int, default=8)
    ap.add_argument("--soak-interval", type=float, default=10.0)
    ap.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads (default 1: leave CPU to servers)"
    )
    ap.add_argument("--upstream-impl", choices=("asgi", "aiohttp"), default="asgi")
    ap.add_argument("--upstream-cpu", type=int, default=None, help="pin the upstream to this CPU")
    ap.add_argument("--startup-timeout", type=float, default=120.0)
    ap.add_argument(
        "--costops-log-level",
        default="warning",
        help="passed to costops serve --log-level ('' to omit); peers run without access logs",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure N interleaved rounds (every target once per round) and keep, per phase, the run "
        "with the highest req/s (errors are summed over all runs); helps on a shared machine",
    )
    ap.add_argument(
        "--py-spy",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="after the rounds, py-spy record --py-spy-target for SECONDS under load and print the top frames",
    )
    ap.add_argument(
        "--py-spy-target", default="", help="target to profile (default costops-stages if measured, else costops)"
    )
    ap.add_argument("--py-spy-top", type=int, default=20)
    ap.add_argument(
        "--stop-grace",
        type=float,
        default=30.0,
        help="seconds a gateway gets to shut down (flush its ledger) after SIGTERM before SIGKILL",
    )
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SRC",
        help="a costops source tree (its src/ dir) to run as target costops@NAME or costops-stages@NAME, "
        "e.g. a copy from before a change, to compare before and after in one run",
    )
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, db) and print its path")
    ap.add_argument("--_loadgen", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._loadgen:
        return ap, args
    args.target_list = [x.strip() for x in args.targets.split(",") if x.strip()]
    variants = {v.split("=", 1)[0] for v in args.variant if "=" in v}
    bad = [x for x in args.target_list if x not in ALL_TARGETS and x.partition("@")[2] not in variants]
    if bad:
        ap.error(f"unknown targets: {bad}")
    if args.soak_only and not args.soak:
        ap.error("--soak-only needs --soak SECONDS")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    args.soak_list = [x.strip() for x in args.soak_targets.split(",") if x.strip()] if args.soak else []
    if args.loadgen == "auto":
        args.loadgen = "wrk" if shutil.which("wrk") else "python"
    if args.loadgen == "wrk" and not shutil.which("wrk"):
        ap.error("wrk not installed (bash bench/peers.sh)")
    return ap, args


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+dirty src" if dirty else "")
    except OSError:
        return "?"


def _start(name: str, up_port: int, work: Path, args):
    """Start and probe one target: (target or None, a result that records why it is missing)."""
    t = None
    try:
        t = start_variant(name, up_port, work, args) if "@" in name else STARTERS[name](up_port, work, args)
        wait_ready(t, args.startup_timeout)
        return t, None
    except FileNotFoundError as exc:
        log(f"  {name}: not installed: {exc}")
        return None, TargetResult(name, status="not installed", error=str(exc))
    except Exception as exc:  # report precisely, go on with the other targets
        log(f"  {name}: FAILED: {exc}")
        res = TargetResult(name, t.version if t else "", status="failed", error=str(exc))
        if t is not None:
            res.shutdown = stop_target(t, args.stop_grace)
        return None, res


def main(argv: list[str] | None = None) -> int:
    ap, args = parse_args(argv)
    if args._loadgen:  # the asyncio load generator, as older harness versions invoked it
        return loadgen_main(args._loadgen)

    signal.signal(signal.SIGTERM, on_signal)
    work = Path(tempfile.mkdtemp(prefix="costops-bench-"))
    out_stream = sys.stderr if args.json == "-" else sys.stdout
    results: list[TargetResult] = []
    soaks: list[dict] = []
    meta = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "loadgen": args.loadgen, "work": str(work),
            "commit": _commit()}
    up = None
    args.work = str(work)
    started = []
    try:
        up_port = free_port()
        up_argv = [sys.executable, str(HERE / "upstream.py"), "--port", str(up_port), "--impl", args.upstream_impl]
        if args.upstream_cpu is not None:
            up_argv += ["--cpu", str(args.upstream_cpu)]
        up = Proc("upstream", up_argv, None, work, work)
        meta["upstream"] = (
            f"{args.upstream_impl}{'' if args.upstream_cpu is None else ' cpu' + str(args.upstream_cpu)}"
        )
        direct = start_direct(up_port, up.pid, args)
        wait_ready(direct, 20)
        loader = Loader(args.loadgen, work, args.wrk_threads, unique=args.body == "unique")

        if not args.soak_only:
            missing: dict[str, TargetResult] = {}
            for name in args.target_list:
                log(f"[start {name}]")
                if name == "direct":
                    started.append(direct)
                    continue
                t, res = _start(name, up_port, work, args)
                if t is not None:
                    started.append(t)
                else:
                    missing[name] = res
            measured = bench_all(started, loader, args, up.pid)
            for t in started:
                if t.proc is not None:
                    measured[t.name].shutdown = stop_target(t, args.stop_grace)
            started = []
            results = [measured.get(n) or missing[n] for n in args.target_list]
        for name in args.soak_list:
            log(f"[soak {name}]")
            if name == "direct":
                soaks.append(soak_target(direct, args, loader, up.pid))
                continue
            t, _res = _start(name, up_port, work, args)
            if t is None:
                continue
            try:
                sk = soak_target(t, args, loader, up.pid)
            except Exception as exc:
                log(f"  soak {name}: FAILED: {exc}")
                sk = None
            info = stop_target(t, args.stop_grace)
            if sk is not None:
                sk["shutdown"] = info
                soaks.append(sk)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        for t in started:
            if t.proc is not None:
                t.proc.stop(grace=2.0)
        if up is not None:
            up.stop()
        stop_all()
        if args.keep:
            log(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(render(results, soaks, args, meta), file=out_stream)
    payload = {
        "meta": meta,
        "args": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "results": [r.__dict__ for r in results],
        "soaks": soaks,
    }
    rdir = HERE / "results"
    try:
        rdir.mkdir(exist_ok=True)
        (rdir / f"gateway-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(payload, indent=1))
    except OSError:
        pass
    if args.json:
        text = json.dumps(payload, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
