"""Caches on the request path: the exact response cache, provider prompt caching, and (in
``semantic/``) the semantic cache.

Each is a gateway stage (:mod:`costops.pipeline.contract`) built from the config's ``cache:``
section; their decisions (key, cacheability, TTL, breakpoint placement) are pure functions kept
apart from the I/O (the in-process and Redis tiers), so they are tested directly.
"""

from costops.cache.control import CACHE_HEADER, CacheControl, parse_control, set_cache_header

__all__ = ["CACHE_HEADER", "CacheControl", "parse_control", "set_cache_header"]
