"""costops simulate."""

from __future__ import annotations

COMMANDS: list = []
