"""py-spy a target under load and aggregate the samples by function (self and inclusive time).

Also usable alone on a raw py-spy file: ``python bench/pyspy.py /tmp/py-spy.txt [--top 25]
[--filter costops]`` prints the same two lists (``--filter`` keeps functions whose file path
contains the text).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import HERE, log


def aggregate(raw_text: str, top: int, path_filter: str = "") -> dict:
    """Percent of all samples (idle excluded by py-spy's default) per function, self and inclusive."""
    self_s: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in raw_text.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        # aggregate per function: drop the line number from "func (file.py:123)"
        frames = [f.rsplit(":", 1)[0] + ")" if f.endswith(")") and ":" in f else f for f in stack.split(";")]
        self_s[frames[-1]] = self_s.get(frames[-1], 0) + count
        for f in set(frames):
            incl[f] = incl.get(f, 0) + count

    def best(d: dict[str, int]) -> list:
        rows = [(f, n) for f, n in d.items() if path_filter in f]
        rows.sort(key=lambda kv: -kv[1])
        return [(f, n, n * 100 / total) for f, n in rows[:top]]

    return {"samples": total, "self": best(self_s), "inclusive": best(incl)}


def profile(t, loader, args, body: bytes) -> dict:
    """py-spy record the target under load at --concurrency; return the top frames."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        return {"error": "py-spy not installed (pip install py-spy)"}
    secs = args.py_spy
    out = Path(args.work) / f"py-spy-{t.name}.txt"
    th = threading.Thread(target=loader.run, args=(t, body, args.concurrency, secs + 2), daemon=True)
    th.start()
    time.sleep(1.0)
    log(f"  py-spy record {secs:g}s on {t.name} (pid {t.rss_pid}) under load @{args.concurrency}")
    argv = [exe, "record", "-p", str(t.rss_pid), "-d", str(int(secs)), "-r", "200", "--format", "raw",
            "-o", str(out), "--nonblocking"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60)
    th.join(timeout=secs + 30)
    if r.returncode != 0 or not out.exists():
        return {"error": f"py-spy failed: {r.stderr[-500:]}"}
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    kept = results / f"py-spy-{t.name}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    shutil.copy(out, kept)
    return {**aggregate(out.read_text(), args.py_spy_top), "raw": str(kept)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="aggregate a raw py-spy file by function")
    ap.add_argument("raw")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    agg = aggregate(Path(a.raw).read_text(), a.top, a.filter)
    print(f"{agg['samples']} samples; by self time")
    for f, _n, pc in agg["self"]:
        print(f"  {pc:5.1f}%  {f}")
    print("by inclusive time")
    for f, _n, pc in agg["inclusive"]:
        print(f"  {pc:5.1f}%  {f}")
