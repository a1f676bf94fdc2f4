"""The policies the demo compares, baseline first. Each capability adds its policy here."""

from __future__ import annotations

from costops.demo.run import BASELINE, Policy

CACHED = Policy("cached", "exact response cache (deterministic calls, TTL by feature) + Anthropic prompt caching",
                {"cache": {"exact": {"ttl_by_tag": {"feature": {"faq": 86400, "copy": 0}}}, "prompt": {}}})

POLICIES: tuple[Policy, ...] = (BASELINE, CACHED)
