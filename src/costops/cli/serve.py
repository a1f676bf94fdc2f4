"""costops serve."""

from __future__ import annotations

COMMANDS: list = []
