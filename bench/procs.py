"""Child processes of the benchmark: each in its own session, killed by process group on exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

from common import HOST


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Proc:
    """A child process in its own session; ``stop()`` kills its whole process group."""

    def __init__(self, name: str, argv: list[str], env: dict | None, cwd: Path, logdir: Path):
        self.name = name
        self.argv = argv
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.p = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.p.pid
        _LIVE.append(self)

    def alive(self) -> bool:
        return self.p.poll() is None

    def log_tail(self, n: int = 25) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self, grace: float = 5.0) -> None:
        if self in _LIVE:
            _LIVE.remove(self)
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.p.wait(timeout=wait)
                # the leader is gone; make sure no straggler in its group survives
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                break
            except subprocess.TimeoutExpired:
                continue
        self._log.close()


_LIVE: list[Proc] = []


def stop_all() -> None:
    for p in list(_LIVE):
        p.stop(grace=2.0)


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")
