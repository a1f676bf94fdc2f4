"""costops budgets."""

from __future__ import annotations

COMMANDS: list = []
