"""The ``costops`` command: one module per command group, each exporting ``COMMANDS``."""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    # Before numpy is first imported (nothing above imports it): the semantic judge's products are
    # small, and BLAS threads spinning on them cost ~4x the CPU of one thread. The user's setting wins.
    os.environ.setdefault(_var, "1")

import click  # noqa: E402

from costops import __version__  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="costops")
def main() -> None:
    """costops: see, control and cut what your LLM calls cost."""


def _register() -> None:
    from costops.cli import (
        analytics,
        budgets,
        cache,
        dashboard,
        demo,
        experiments,
        export,
        prices,
        reconcile,
        report,
        router,
        serve,
        simulate,
    )

    for module in (serve, demo, report, analytics, dashboard, prices, cache, budgets, simulate, router, experiments,
                   export, reconcile):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
