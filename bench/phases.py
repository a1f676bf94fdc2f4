"""The measured phases: every target side by side in rounds, and the memory soak.

``bench_all`` warms each target up, then runs ``--repeat`` rounds; in each round every target
gets one phase at ``--concurrency`` and one at concurrency 1, the order of the targets rotating
from round to round. Interleaving puts each target's phases close in time to the others', so a
burst of load from someone else on the machine disturbs all targets of that round alike, and
the per-round ratios show how noisy the run was. Per phase the best run (highest req/s) is kept
for the table; every run stays in the JSON with its round.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from common import REQUEST, STREAM_REQUEST, body_bytes, log
from loadgen import Loader
from sysstat import cpu_seconds, rss_mb
from targets import Target, check_stream


@dataclass
class TargetResult:
    name: str
    version: str = ""
    status: str = "ok"
    error: str = ""
    rss_idle_mb: float = 0.0
    rss_after_mb: float = 0.0
    phases: dict = field(default_factory=dict)  # "json@32" -> best LoadResult as dict, with "runs"
    stream_check: str | None = None
    loadavg: str = ""
    profile: dict | None = None
    shutdown: dict | None = None


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def bench_all(targets: list[Target], loader: Loader, args, up_pid: int) -> dict[str, TargetResult]:
    results = {t.name: TargetResult(t.name, t.version, loadavg=_loadavg()) for t in targets}
    for t in targets:
        results[t.name].rss_idle_mb = rss_mb(t.rss_pid) if t.rss_pid else 0.0
    bodies = {"json": body_bytes(REQUEST)}
    if args.stream:
        bodies["stream"] = body_bytes(STREAM_REQUEST)
        for t in targets:
            err = results[t.name].stream_check = check_stream(t)
            if err:
                log(f"  {t.name}: {err}")
    live = list(targets)
    runs: dict[tuple[str, str, int], list[dict]] = {}

    def phase(t: Target, body: bytes, conc: int, seconds: float) -> dict | None:
        others = [up_pid] if t.rss_pid != up_pid else []
        try:
            return loader.run(t, body, conc, seconds, others).__dict__
        except Exception as exc:  # report precisely, go on with the other targets
            log(f"  {t.name}: FAILED: {exc}")
            res = results[t.name]
            res.status, res.error = "failed", str(exc)
            live.remove(t)
            return None

    for kind, body in bodies.items():
        for t in list(live):
            log(f"  {t.name} {kind}: warm-up {args.warmup:g}s @{args.concurrency}")
            phase(t, body, args.concurrency, args.warmup)
        for rnd in range(args.repeat):
            k = rnd % max(1, len(live))
            order = live[k:] + live[:k]
            for conc in (args.concurrency, 1):
                for t in order:
                    if t not in live:
                        continue
                    r = phase(t, body, conc, args.duration)
                    if r is None:
                        continue
                    r["round"] = rnd
                    runs.setdefault((t.name, kind, conc), []).append(r)
                    log(
                        f"  [{rnd + 1}/{args.repeat}] {t.name:21s} {kind}@{conc}: {r['rps']:8.0f} req/s  "
                        f"p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  errors {r['errors']}  "
                        f"cpu {r['cpu_ms_per_req']:.3f} ms/req  other-cpu {r['other_cpu_pct']:.0f}%"
                    )
    for (name, kind, conc), rs in runs.items():
        # keep the run least disturbed by other load (highest req/s), count every error
        best = dict(max(rs, key=lambda x: x["rps"]))
        best["errors"] = sum(x["errors"] for x in rs)
        best["runs"] = rs
        results[name].phases[f"{kind}@{conc}"] = best
    if args.py_spy:
        from pyspy import profile

        wanted = args.py_spy_target or ("costops-stages" if any(t.name == "costops-stages" for t in live) else "costops")
        for t in live:
            if t.name == wanted:
                results[t.name].profile = profile(t, loader, args, bodies["json"])
    for t in targets:
        results[t.name].rss_after_mb = rss_mb(t.rss_pid) if t.rss_pid else 0.0
    return results


def soak_target(t: Target, args, loader: Loader, up_pid: int) -> dict:
    body = body_bytes(REQUEST)
    conc, seconds, every = args.soak_concurrency, args.soak, args.soak_interval
    log(f"  soak {t.name}: warm-up {args.warmup:g}s, then {seconds:g}s @{conc}, RSS every {every:g}s")
    loader.run(t, body, conc, args.warmup)
    series = [(0.0, rss_mb(t.rss_pid))]
    result: dict = {}

    def run_load():
        result.update(loader.raw(t, body, conc, seconds))

    th = threading.Thread(target=run_load, daemon=True)
    t0 = time.monotonic()
    cpu0 = cpu_seconds(t.rss_pid)
    th.start()
    next_at = every
    while th.is_alive() and time.monotonic() - t0 < seconds + 60:
        th.join(timeout=0.5)
        el = time.monotonic() - t0
        if el >= next_at and el <= seconds + 1:
            series.append((round(el, 1), rss_mb(t.rss_pid)))
            log(f"    t={el:6.1f}s  RSS {series[-1][1]:.1f} MB")
            next_at += every
    th.join(timeout=5)
    cpu = cpu_seconds(t.rss_pid) - cpu0
    t.sent += result.get("requests", 0)
    if time.monotonic() - t0 - series[-1][0] > 1.0:
        series.append((round(time.monotonic() - t0, 1), rss_mb(t.rss_pid)))
    mbs = [m for _, m in series]
    # steady state: from the first sample at or after 60 s (or the middle sample in short soaks)
    ref_i = next((i for i, (s, _) in enumerate(series) if s >= min(60.0, seconds / 2)), 0)
    xs, ys = [s for s, _ in series[ref_i:]], mbs[ref_i:]
    slope = 0.0
    if len(xs) >= 2:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / den * 60 if den else 0.0
    growth_ss = mbs[-1] - mbs[ref_i]
    flat = abs(growth_ss) <= max(2.0, 0.03 * mbs[ref_i])
    n = result.get("requests", 0)
    return {
        "target": t.name,
        "seconds": seconds,
        "concurrency": conc,
        "series": series,
        "rss_start_mb": mbs[0],
        "rss_end_mb": mbs[-1],
        "rss_max_mb": max(mbs),
        "growth_mb": mbs[-1] - mbs[0],
        "steady_ref_s": series[ref_i][0],
        "steady_growth_mb": growth_ss,
        "slope_mb_per_min": slope,
        "flat": flat,
        "requests": n,
        "rps": n / result["seconds"] if result.get("seconds") else 0.0,
        "errors": result.get("errors", -1),
        "err_detail": result.get("err_detail", {}),
        "cpu_ms_per_req": cpu * 1e3 / n if n else 0.0,
    }
