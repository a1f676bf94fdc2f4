"""The benchmark's table, its ratios against the bare proxy and the peers, and the PASS/FAIL list."""

from __future__ import annotations

import os
import statistics

GATEWAYS = ("costops", "costops-stages", "costops-routing", "costops-semantic")


def fmt(v, spec=".2f", none="-"):
    return none if v is None else format(v, spec)


def _phase(r, key):
    return r.phases.get(key) if r is not None else None


def added_p50(r, direct, kind: str = "json") -> float | None:
    a, d = _phase(r, f"{kind}@1"), _phase(direct, f"{kind}@1")
    return a["p50_ms"] - d["p50_ms"] if a and d else None


def round_ratios(r, base, key: str, value) -> list[float]:
    """``value(r's run) / value(base's run)`` for every round both measured: how noisy the run was."""
    a, b = _phase(r, key), _phase(base, key)
    if not a or not b:
        return []
    mine = {x.get("round"): x for x in a["runs"]}
    out = []
    for y in b["runs"]:
        x = mine.get(y.get("round"))
        if x is not None and value(y):
            out.append(value(x) / value(y))
    return out


def spread(r, key: str) -> float | None:
    """(max - min) / max of req/s over the repeats of one phase."""
    p = _phase(r, key)
    if not p or len(p["runs"]) < 2:
        return None
    v = [x["rps"] for x in p["runs"]]
    return (max(v) - min(v)) / max(v) if max(v) else None


def vs_bare(by: dict, c: int, kind: str = "json") -> list[str]:
    """Throughput and added-latency ratios of each costops target against the bare proxy."""
    bare, direct = by.get("bare"), by.get("direct")
    if not _phase(bare, f"{kind}@{c}"):
        return []
    out = []
    b_rps = bare.phases[f"{kind}@{c}"]["rps"]
    b_add = added_p50(bare, direct, kind)
    for name in [n for n in by if n.split("@")[0] in GATEWAYS]:
        r = by.get(name)
        if not _phase(r, f"{kind}@{c}"):
            continue
        rps = r.phases[f"{kind}@{c}"]["rps"]
        line = f"{name}/bare: throughput {rps / b_rps * 100:.0f}% ({rps:.0f} vs {b_rps:.0f} req/s)"
        rr = round_ratios(r, bare, f"{kind}@{c}", lambda x: x["rps"])
        if len(rr) > 1:
            line += f", per round {min(rr) * 100:.0f}-{max(rr) * 100:.0f}% (median {statistics.median(rr) * 100:.0f}%)"
        cr, cb = r.phases[f"{kind}@{c}"]["cpu_ms_per_req"], bare.phases[f"{kind}@{c}"]["cpu_ms_per_req"]
        if cr and cb:
            line += f"; CPU/req x{cr / cb:.2f}"
        add = added_p50(r, direct, kind)
        if add is not None and b_add:
            line += f"; added p50@1 {add:.3f} vs {b_add:.3f} ms = x{add / b_add:.2f}"
            if direct is not None:
                d1 = f"{kind}@1"
                ra = [
                    (x["p50_ms"] - d["p50_ms"]) / (y["p50_ms"] - d["p50_ms"])
                    for x in r.phases[d1]["runs"]
                    for y in bare.phases[d1]["runs"]
                    for d in direct.phases[d1]["runs"]
                    if x.get("round") == y.get("round") == d.get("round") and y["p50_ms"] > d["p50_ms"]
                ] if _phase(direct, d1) and _phase(bare, d1) else []
                if len(ra) > 1:
                    line += f" (per round x{min(ra):.2f}-x{max(ra):.2f})"
        out.append(line)
    return out


def render(results: list, soaks: list[dict], args, meta: dict) -> str:
    L = []
    by = {r.name: r for r in results}
    c = args.concurrency
    kinds = ["json"] + (["stream"] if args.stream else [])
    L.append(
        f"gateway benchmark  {meta['when']}  loadgen={meta['loadgen']}  cpus={os.cpu_count()}  "
        f"duration={args.duration:g}s warm-up={args.warmup:g}s repeat={args.repeat} body={args.body}  "
        f"upstream={meta['upstream']}  commit={meta.get('commit', '?')}"
    )
    for r in results:
        L.append(
            f"  {r.name:21s} {r.version}"
            + (f"  [{r.status}: {r.error.splitlines()[0][:160]}]" if r.error else "")
        )
    direct = by.get("direct")
    for kind in kinds:
        L.append("")
        L.append(f"{'non-streamed' if kind == 'json' else 'streamed (include_usage)'} chat completions")
        hdr = (
            f"{'target':21s} {'req/s@' + str(c):>10s} {'spread':>6s} {'p50@1':>8s} {'p99@1':>8s} {'p50@' + str(c):>8s} "
            f"{'p99@' + str(c):>8s} {'+p50@1':>8s} {'+p99@1':>8s} {'+p50@' + str(c):>8s} {'errors':>7s} "
            f"{'cpu/req':>8s} {'RSS idle':>9s} {'RSS after':>9s} {'other':>6s}"
        )
        L.append(hdr)
        L.append("-" * len(hdr))
        for r in results:
            a, b = r.phases.get(f"{kind}@{c}"), r.phases.get(f"{kind}@1")
            if not a or not b:
                L.append(
                    f"{r.name:21s} {'(not measured: ' + (r.error.splitlines()[0][:90] if r.error else r.status) + ')'}"
                )
                continue
            da = direct.phases.get(f"{kind}@{c}") if direct and r.name != "direct" else None
            db = direct.phases.get(f"{kind}@1") if direct and r.name != "direct" else None
            add50_1 = b["p50_ms"] - db["p50_ms"] if db else None
            add99_1 = b["p99_ms"] - db["p99_ms"] if db else None
            add50_c = a["p50_ms"] - da["p50_ms"] if da else None
            errors = a["errors"] + b["errors"]
            sp = spread(r, f"{kind}@{c}")
            L.append(
                f"{r.name:21s} {a['rps']:10.0f} {format(sp * 100, '5.0f') + '%' if sp is not None else '-':>6s} "
                f"{b['p50_ms']:8.3f} {b['p99_ms']:8.3f} {a['p50_ms']:8.3f} "
                f"{a['p99_ms']:8.3f} {fmt(add50_1, '8.3f'):>8s} {fmt(add99_1, '8.3f'):>8s} "
                f"{fmt(add50_c, '8.3f'):>8s} {errors:7d} {a['cpu_ms_per_req']:8.3f} {r.rss_idle_mb:9.1f} "
                f"{r.rss_after_mb:9.1f} {max(a['other_cpu_pct'], b['other_cpu_pct']):5.0f}%"
            )
        ratios = vs_bare(by, c, kind)
        if ratios:
            L.append("")
            L.extend(ratios)
    L.append("")
    L.append(
        "latencies in ms; +pXX = target minus direct at the same concurrency; spread = (max-min)/max req/s over "
        "the repeats; cpu/req = server CPU ms per request at concurrency " + str(c) + "; RSS in MiB (process "
        "tree; direct = the upstream); other = CPU used by processes outside this benchmark (noise)"
    )
    co = by.get("costops")
    if co and co.phases.get(f"json@{c}"):
        L.append("")
        cr = co.phases[f"json@{c}"]["rps"]
        for peer in ("litellm", "portkey"):
            p = by.get(peer)
            if p and p.phases.get(f"json@{c}"):
                pr = p.phases[f"json@{c}"]["rps"]
                pc = p.phases[f"json@{c}"]["cpu_ms_per_req"]
                cc = co.phases[f"json@{c}"]["cpu_ms_per_req"]
                L.append(
                    f"costops/{peer}: throughput x{cr / pr:.1f}"
                    + (f"  (server CPU per request x{pc / cc:.1f} less)" if cc else "")
                    + f"  RSS {co.rss_after_mb:.0f} vs {p.rss_after_mb:.0f} MiB"
                )
    if any(by[n].phases.get(f"json@{c}") for n in by if n.split("@")[0] in GATEWAYS):
        L.append("")
        L.append("targets:")
        for line in verdicts(by, soaks, c):
            L.append("  " + line)
    sd = [(r.name, r.shutdown) for r in results if r.shutdown] + [
        ("soak " + k["target"], k["shutdown"]) for k in soaks if k.get("shutdown")
    ]
    if sd:
        L.append("")
        for name, info in sd:
            line = f"{name}: {info['sent']} requests answered; shutdown {info.get('shutdown_s', 0):.2f}s exit {info.get('exit_code')}"
            if "ledger_rows" in info:
                line += "; ledger rows after shutdown: " + (
                    ", ".join(f"{k}={v}" for k, v in info["ledger_rows"].items()) or "(no tables)"
                )
            L.append(line)
    for r in results:
        if not r.profile:
            continue
        L.append("")
        if "error" in r.profile:
            L.append(f"py-spy {r.name}: {r.profile['error']}")
            continue
        L.append(f"py-spy {r.name} under load @{c}: {r.profile['samples']} samples ({r.profile.get('raw', '')}); top frames by self time")
        for f, _n, pc in r.profile["self"]:
            L.append(f"  {pc:5.1f}%  {f}")
        L.append("  top frames by inclusive time")
        for f, _n, pc in r.profile["inclusive"]:
            L.append(f"  {pc:5.1f}%  {f}")
    for s in soaks:
        L.append("")
        L.append(
            f"soak {s['target']}: {s['seconds']:g}s @{s['concurrency']}  {s['rps']:.0f} req/s  errors {s['errors']}"
            f"  cpu {s['cpu_ms_per_req']:.3f} ms/req"
        )
        L.append("  RSS MiB: " + "  ".join(f"{t:g}s:{m:.1f}" for t, m in s["series"]))
        L.append(
            f"  start {s['rss_start_mb']:.1f}  end {s['rss_end_mb']:.1f}  max {s['rss_max_mb']:.1f}  "
            f"growth {s['growth_mb']:+.1f} MiB; from {s['steady_ref_s']:g}s {s['steady_growth_mb']:+.1f} MiB, "
            f"slope {s['slope_mb_per_min']:+.2f} MiB/min -> {'FLAT' if s['flat'] else 'GROWING'}"
        )
    return "\n".join(L)


def mark(ok) -> str:
    return "PASS" if ok else "FAIL"


def verdicts(by: dict, soaks: list[dict], c: int) -> list[str]:
    out = []
    co, st, li, pk, di, ba = (by.get(n) for n in ("costops", "costops-stages", "litellm", "portkey", "direct", "bare"))
    key = f"json@{c}"
    # issue 8, part 6: against the bare forwarding proxy
    if _phase(ba, key):
        br = ba.phases[key]["rps"]
        b_add = added_p50(ba, di)
        if _phase(co, key):
            ratio = co.phases[key]["rps"] / br
            out.append(f"{mark(ratio >= 0.6)}  costops (no stages) >= 60% of bare throughput: {ratio * 100:.0f}%")
        # every stage on (issue 8), and the same with routing on (issue 9): the same targets; with variants
        for name in [n for n in by if n.split("@")[0] in ("costops-stages", "costops-routing")]:
            st = by[name]
            if not _phase(st, key):
                continue
            ratio = st.phases[key]["rps"] / br
            out.append(f"{mark(ratio >= 0.5)}  {name} >= 50% of bare throughput: {ratio * 100:.0f}%")
            add = added_p50(st, di)
            if add is not None and b_add:
                out.append(
                    f"{mark(add <= 2 * b_add)}  {name} added p50@1 <= 2x bare's: "
                    f"{add:.3f} vs {b_add:.3f} ms (x{add / b_add:.2f})"
                )
    else:
        out.append("n/a   ratios to the bare proxy: bare not measured")
    if co is None or not _phase(co, key):
        return out
    ph = co.phases
    cr = ph[key]["rps"]
    if _phase(li, key):
        lr = li.phases[key]["rps"]
        out.append(
            f"{mark(cr >= 20 * lr)}  throughput >= 20x LiteLLM: {cr:.0f} vs {lr:.0f} req/s (x{cr / lr:.1f})"
        )
    else:
        out.append("n/a   throughput >= 20x LiteLLM: LiteLLM not measured")
    if _phase(pk, key):
        pr = pk.phases[key]["rps"]
        out.append(f"{mark(cr > pr)}  throughput > Portkey: {cr:.0f} vs {pr:.0f} req/s (x{cr / pr:.2f})")
    else:
        out.append("n/a   throughput > Portkey: Portkey not measured")
    add = added_p50(co, di)
    if add is not None:
        out.append(f"{mark(add <= 0.5)}  costops added p50 @1 <= 0.5 ms: {add:.3f} ms")
    else:
        out.append("n/a   added p50 @1: direct baseline not measured")
    for r in [by[n] for n in by if n.split("@")[0] in GATEWAYS]:
        if r.phases:
            errs = sum(p["errors"] for p in r.phases.values())
            out.append(f"{mark(errs == 0)}  no errors ({r.name}): {errs}")
    peers = [p for p in (li, pk) if p and p.rss_after_mb]
    if peers:
        ok = all(co.rss_after_mb < p.rss_after_mb for p in peers)
        out.append(
            f"{mark(ok)}  RSS below peers: costops {co.rss_after_mb:.0f} MiB vs "
            + ", ".join(f"{p.name} {p.rss_after_mb:.0f}" for p in peers)
        )
    s = next((s for s in soaks if s["target"] == "costops"), None)
    if s:
        out.append(
            f"{mark(s['flat'] and s['errors'] == 0)}  memory flat over {s['seconds']:g}s soak: "
            f"{s['steady_growth_mb']:+.1f} MiB from {s['steady_ref_s']:g}s ({s['slope_mb_per_min']:+.2f} MiB/min), "
            f"errors {s['errors']}"
        )
    else:
        out.append("n/a   memory flat over a soak: run with --soak 300")
    return out
