"""The policies the demo compares, baseline first. Each capability adds its policy here."""

from __future__ import annotations

from costops.demo.run import BASELINE, Policy

POLICIES: tuple[Policy, ...] = (BASELINE,)
