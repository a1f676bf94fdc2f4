"""The costops command runs BLAS single-threaded unless told otherwise: the semantic judge's matrix
products are small, and OpenBLAS threads spinning on them cost several times the CPU of one."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = "import os, sys; import costops.cli; print(os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)"


def _run(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout


def test_the_cli_caps_blas_threads_before_numpy_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    assert _run(env).split() == ["1", "False"]  # set, and numpy not loaded yet: the setting takes effect


def test_the_users_own_setting_wins() -> None:
    assert _run({**os.environ, "OPENBLAS_NUM_THREADS": "2"}).split()[0] == "2"
