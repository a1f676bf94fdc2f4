"""costops cache."""

from __future__ import annotations

COMMANDS: list = []
