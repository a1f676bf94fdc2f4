"""The ``costops`` command: one module per command group, each exporting ``COMMANDS``."""

from __future__ import annotations

import click

from costops import __version__


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
