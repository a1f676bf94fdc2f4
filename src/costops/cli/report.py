"""costops report."""

from __future__ import annotations

COMMANDS: list = []
