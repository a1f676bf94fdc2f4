"""costops prices."""

from __future__ import annotations

COMMANDS: list = []
