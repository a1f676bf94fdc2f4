"""The semantic cache as a gateway stage.

before (after the exact cache missed):
  1. may this request use it? (:func:`scope.prepare`: deterministic, single-turn, no tools...)
  2. embed the final user turn; search the scope's index for the nearest entries
  3. the judge scores each neighbour over the route's cosine threshold (P(the cached answer
     answers this too), from word alignment, order, numbers, negation...); serve the best one
     whose score reaches the route's acceptance threshold (set by its target precision)
  4. otherwise remember what to store, and ask for the stream's bytes if it streams
  3b. on a route with an ``llm_check``, a cheap model confirms the candidate first
     (:mod:`.llm_check`); refused, timed out or failed, it is a miss
after (status 200): store the answer as the client API's JSON, share it through Redis.

Single-flight (:mod:`costops.cache.flights`): a miss that the verifier would serve from a request
still in flight (the same text, or a paraphrase) waits for that request's answer instead of
going upstream, for at most ``single_flight_wait_s``. Across replicas (Redis) each leader is
posted on its scope's board with its vector, and a request on another replica that the judge
would serve from a posted leader's question polls for that leader's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import math
import os
import struct
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import orjson

from costops.cache.config import parse_exact
from costops.cache.control import BODY_FIELD, NO_CONTROL, control_text, parse_control, set_cache_header
from costops.cache.flights import TIMED_OUT, Claims, Flights, poll, wait_header
from costops.cache.keys import choose_namespace
from costops.cache.replay import json_from_sse, sse_from_json
from costops.cache.semantic.config import SemanticCacheConfig, parse_semantic
from costops.cache.semantic.crossjudge import CrossJudge
from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.index import Entry, Neighbour, SemanticIndex
from costops.cache.semantic.judge import Scorer, vetoed
from costops.cache.semantic.llm_check import HEADER as CHECK_HEADER
from costops.cache.semantic.llm_check import LLMCheck, LLMCheckSettings, target
from costops.cache.semantic.profiles import Profiles
from costops.cache.semantic.scope import Lookup, prepare
from costops.cache.semantic.verify import facts, verify
from costops.cache.stage import INVALIDATED_SCHEMA, SELECTOR_SCHEMA
from costops.cache.tiers import Selector
from costops.config import Config, Deployment
from costops.gateway.http import Receive, Scope, Send, read_body, respond
from costops.pipeline.admin import admin_doc
from costops.pipeline.contract import Call, Reply, Shared
from costops.usage import Usage

log = logging.getLogger("costops.cache.semantic")
STATE = "semantic"
FLIGHT = "semantic-flight"
NEIGHBOURS = 2
"""Neighbours a lookup judges at most, nearest first: past the second the judge almost never accepts,
and each costs a profile and an alignment on the miss path."""


VERDICTS = 4096
"""LLM-check verdicts kept per replica (oldest dropped first)."""


class SemanticCacheStage:
    name = "semantic-cache"

    def __init__(self, cfg: SemanticCacheConfig, clock: Callable[[], float], *, exact_cache: bool,
                 embedder: StaticEmbedder | None = None, exact_config: Any = None,
                 checker: LLMCheck | None = None,
                 check_targets: Mapping[LLMCheckSettings, tuple[Deployment, str]] | None = None) -> None:
        self.cfg, self.clock, self.exact_cache = cfg, clock, exact_cache
        self.checker, self.check_targets = checker, dict(check_targets or {})
        """The LLM check's runner (None outside a gateway: a check route then serves no candidate)
        and each route's check target (deployment, model), resolved when the config is loaded."""
        self.exact_config = exact_config
        self.embedder = embedder or StaticEmbedder.load()
        self.index = SemanticIndex(self.embedder.dims, self.embedder.embed, cfg.max_entries, clock)
        self.origin = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._ids = itertools.count()
        self.counts: Counter[str] = Counter()
        self.shared: Any = None
        self._saver: asyncio.Task[None] | None = None
        self._word_vectors: dict[str, Any] = {}
        self.flights = Flights()
        self._in_flight: dict[str, dict[str, tuple[Entry, Any]]] = {}
        """scope -> leader id -> (its query as an entry without an answer, its vector)"""
        self.claims: Claims | None = None
        self.scorer: Scorer | CrossJudge | None = (
            Scorer(self.embedder, synonym_min=cfg.synonym_min) if cfg.verifier == "judge"
            else CrossJudge(self.embedder) if cfg.verifier == "cross-encoder" else None)
        self._queries: dict[str, Any] = {}
        """The cross-encoder's last few queries: a lookup judges up to NEIGHBOURS neighbours against one."""
        self.profiles = Profiles()
        """The feature judge's Profiles of queries and neighbours, by text (:mod:`.profiles`)."""
        self._verdicts: dict[tuple[LLMCheckSettings, str, str], str] = {}
        """(check settings, candidate id, new text) -> the check's yes or no (see :meth:`_confirm`)."""
        self.admin_routes = {
            ("GET", "/admin/cache/semantic/stats"): self.admin_stats,
            ("POST", "/admin/cache/semantic/invalidate"): self.admin_invalidate,
        }
        if not exact_cache:  # otherwise the exact cache's route clears both (wired in build_stages)
            self.admin_routes[("POST", "/admin/cache/invalidate")] = self.admin_invalidate

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.cfg.index_path:
            loaded = await asyncio.to_thread(self.index.load, self.cfg.index_path)
            log.info("semantic cache: %d entries loaded from %s", loaded, self.cfg.index_path)
            self._saver = asyncio.create_task(self._save_now_and_then(), name="semantic-cache-save")
        if self.cfg.redis_url:
            from costops.cache.semantic.shared import SharedEntries

            self.shared = SharedEntries(self.cfg.redis_url, self.cfg.redis_key, self.origin, self.cfg.max_entries,
                                        self._ingest, self.index.invalidate)
            await self.shared.start()
            shared = self.shared
            self.claims = Claims(lambda: shared.client, self.cfg.redis_key + ":flight:")

    async def stop(self) -> None:
        if self.shared is not None:
            await self.shared.stop()
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        if self.cfg.index_path:
            await asyncio.to_thread(self.index.save, self.cfg.index_path)

    async def _save_now_and_then(self) -> None:
        path = self.cfg.index_path
        assert path is not None, "saving runs only with cache.semantic.index_path"
        while True:
            await asyncio.sleep(self.cfg.save_interval_s)
            if self.index.dirty:
                try:
                    self.index.expire()
                    await asyncio.to_thread(self.index.save, path)
                except OSError as exc:
                    log.warning("semantic cache: could not save to %s: %s", self.cfg.index_path, exc)

    def _ingest(self, entry: Entry) -> None:
        if entry.expires > self.clock() and entry.id not in self.index:
            self.index.add(entry)
            self.counts["shared_in"] += 1

    # -- the request path ---------------------------------------------------------------------------

    async def before(self, call: Call) -> Reply | None:
        text, where = control_text(call.headers, call.body)
        control = parse_control(text, where=where) if text is not None else NO_CONTROL
        if BODY_FIELD in call.body:  # costops' own field never reaches the provider
            call.body = {k: v for k, v in call.body.items() if k != BODY_FIELD}
            call.raw = orjson.dumps(call.body)
        namespace = choose_namespace(self.exact_config, control, call.key.tenant)
        lookup = prepare(call.api, call.endpoint, call.body, call.model or str(call.body.get("model")),
                         namespace, control, self.cfg)
        if isinstance(lookup, str):
            self.counts["bypass"] += 1
            self._mark(call, "bypass")
            return None
        vector = self.embedder.embed(lookup.text)
        if not control.no_cache:
            threshold = self.cfg.threshold_for(call.record.tags)
            check = self.cfg.route(call.record.tags).llm_check
            accept = self._accept(call.record.tags, check)
            found = self._find(lookup, vector, threshold, accept)
            checked = False
            if found is not None and check is not None and found.text != lookup.text:
                found, checked = await self._confirm(call, check, lookup.text, found), True
            if (found is None and not control.no_store and self.cfg.single_flight_wait_s > 0
                    and not call.state.get(TIMED_OUT)):
                started = time.perf_counter()
                found = await self._follow_or_lead(call, lookup, vector, threshold, accept, follow=not checked)
                if found is not None and check is not None and found.text != lookup.text:
                    found = None if checked else await self._confirm(call, check, lookup.text, found)
                if found is not None:
                    self.counts["followers"] += 1
                    call.response_headers.append(wait_header(started))
            if found is not None:
                self.counts["hits"] += 1
                call.record.cache = "semantic"
                set_cache_header(call.response_headers, "semantic")
                return Reply(self._render(found, call), Usage(**found.usage), "semantic")
            self.counts["misses"] += 1
        self._mark(call, "miss" if not control.no_cache else "bypass")
        if not control.no_store:
            ttl = min(control.ttl_s or self.cfg.ttl_s, self.cfg.max_ttl_s)
            call.state[STATE] = (lookup, vector, ttl, namespace)
            if call.stream:
                call.capture_stream = True
        return None

    async def _confirm(self, call: Call, check: LLMCheckSettings, text: str, candidate: Entry) -> Entry | None:
        """The candidate if the route's check model confirms it, else None (a miss). A yes or no
        is kept (per replica, the last VERDICTS pairs) for the same check settings, candidate and
        text: a confirmed paraphrase asked again is served without paying for another check (a
        served question is not stored, so its next ask finds the same candidate). Errors and
        timeouts are not kept."""
        key = (check, candidate.id, text)
        verdict = self._verdicts.get(key)
        if verdict is not None:
            self.counts["check_kept"] += 1
        elif self.checker is not None and (to := self.check_targets.get(check)) is not None:
            verdict = await self.checker.confirm(call, check, to, candidate.text, text)
            if verdict in ("yes", "no"):
                self._verdicts[key] = verdict
                if len(self._verdicts) > VERDICTS:
                    self._verdicts.pop(next(iter(self._verdicts)))
        verdict = verdict or "error"
        self.counts[f"check_{verdict}"] += 1
        call.response_headers.append((CHECK_HEADER, verdict.encode()))
        return candidate if verdict == "yes" else None

    async def _follow_or_lead(self, call: Call, lookup: Lookup, vector: Any, threshold: float,
                              accept: float | None, *, follow: bool = True) -> Entry | None:
        """The answer of a request in flight that this one would be served from (judged as a
        cached entry would be), or None: then this request goes upstream, as a leader (at once
        when ``follow`` is false: its one LLM check has refused a candidate already)."""
        wait = self.cfg.single_flight_wait_s
        in_flight = self._in_flight.get(lookup.scope)
        if in_flight and follow:
            near = sorted((Neighbour(e, float(vector @ v)) for e, v in in_flight.values()), key=lambda n: -n.similarity)
            leader = self.choose(lookup.text, near[:NEIGHBOURS], threshold, accept)
            if leader is not None:
                entry: Entry | None = await self.flights.follow(leader.id, wait)
                if entry is None:
                    self.counts["followers_upstream"] += 1
                    call.state[TIMED_OUT] = True
                return entry
        flight_id = f"{self.origin}-flight-{next(self._ids)}"
        question = Entry(id=flight_id, scope=lookup.scope, text=lookup.text, body=b"", usage={}, created=0.0,
                         expires=math.inf)
        self._in_flight.setdefault(lookup.scope, {})[flight_id] = (question, vector)
        self.flights.lead(flight_id)
        claim = f"{lookup.scope}:{hashlib.sha256(lookup.text.encode()).hexdigest()[:32]}"
        token = None
        claims = self.claims
        board, item = "", b""
        if claims is not None:  # across replicas: the same text, or a posted leader the judge would serve from
            token = call.record.request_id or uuid.uuid4().hex
            board = "board:" + hashlib.sha256(lookup.scope.encode()).hexdigest()[:32]
            item = _board_item(claim, vector, wait)
            posted = await claims.lead(claim, token, wait, board, item, lookup.text)
            remote = claim if posted is None else None  # None: the same text leads on another replica
            if posted and follow:
                remote = await self._posted_leader(lookup, vector, posted, threshold, accept)
                if remote is not None:
                    await claims.resign(claim, token, board, item)
            if remote is not None:

                async def find() -> Entry | None:
                    return self._find(lookup, vector, threshold, accept)

                followed = remote
                entry = await self.flights.waiting_for(poll(find, lambda: claims.held(followed), wait))
                if entry is not None:
                    self._land(flight_id, lookup.scope, entry)
                    self.counts["followers_remote"] += 1
                    return entry
                self.counts["followers_upstream"] += 1
                call.state[TIMED_OUT] = True
                token = None
        call.state[FLIGHT] = (flight_id, lookup.scope, claim, token, board, item)
        return None

    async def _posted_leader(self, lookup: Lookup, vector: Any, posted: list[bytes], threshold: float,
                             accept: float | None) -> str | None:
        """The claim of another replica's leader this request would be served from: the posted
        leaders over the cosine gate, nearest first (at most NEIGHBOURS), judged on their questions."""
        now_ms = time.time() * 1000
        near: list[tuple[float, str]] = []
        for item in posted:
            until, size = struct.unpack_from(">QH", item)
            other = np.frombuffer(item, np.float16, offset=10 + size)
            if until < now_ms or other.shape != vector.shape:  # gone by now, or another embedder's
                continue
            similarity = float(vector @ other.astype(np.float32))
            if similarity >= threshold:
                near.append((similarity, item[10:10 + size].decode()))
        near = sorted(near, reverse=True)[:NEIGHBOURS]
        if not near or self.claims is None:
            return None
        questions = await self.claims.questions([key for _, key in near])
        neighbours = [Neighbour(Entry(id=key, scope=lookup.scope, text=q.decode(), body=b"", usage={}, created=0.0,
                                      expires=math.inf), similarity)
                      for (similarity, key), q in zip(near, questions, strict=True) if q is not None]
        chosen = self.choose(lookup.text, neighbours, threshold, accept)
        return None if chosen is None else chosen.id

    def _land(self, flight_id: str, scope: str, entry: Entry | None) -> None:
        self.flights.land(flight_id, entry)
        in_flight = self._in_flight.get(scope)
        if in_flight is not None:
            in_flight.pop(flight_id, None)
            if not in_flight:
                del self._in_flight[scope]

    def _find(self, lookup: Lookup, vector: Any, threshold: float, accept: float | None) -> Entry | None:
        return self.choose(lookup.text, self.index.search(lookup.scope, vector, NEIGHBOURS), threshold, accept)

    def _accept(self, tags: Mapping[str, str], check: LLMCheckSettings | None = None) -> float | None:
        """The judge score a candidate needs; on a route whose LLM check also looks at the judge's
        near-misses (``when: near``) or at every gated candidate (``gated``: any score a veto
        did not zero), lower than the route's acceptance score."""
        if self.scorer is None:
            return None
        accept = self.accept_score(tags)
        if check is None or check.when == "accepted":
            return accept
        return max(1e-9, accept - check.band) if check.when == "near" else 1e-9

    def accept_score(self, tags: Mapping[str, str]) -> float:
        """The judge score a hit needs on this route: its min_score, else its target precision's threshold."""
        assert self.scorer is not None, "only with the judge"
        min_score, target = self.cfg.acceptance(tags)
        return min_score if min_score is not None else self.scorer.threshold_for(target)

    def choose(self, text: str, neighbours: Iterable[Neighbour], threshold: float,
               accept: float | None = None) -> Entry | None:
        """The neighbour whose answer is served for ``text``, if any: the one decision of a lookup,
        which ``costops cache eval`` also scores on labelled pairs. Neighbours under the cosine
        ``threshold`` are not looked at; of the others, the nearest whose judge score reaches
        ``accept`` (default: the default route's) wins; with ``verifier: rules``, the first the
        lexical verifier accepts."""
        gated = [n for n in neighbours if n.similarity >= threshold]
        if not gated or not self.cfg.verify:
            return gated[0].entry if gated else None
        if self.scorer is not None:
            need = self.accept_score({}) if accept is None else accept
            for neighbour in gated:  # nearest first: a hit on the nearest costs one judging
                score = self.judge_score(text, neighbour)
                if score >= need:
                    return neighbour.entry
                self.counts["rejected_by_verifier"] += 1
                log.debug("semantic cache: %r is not %r: score %.3f", text[:80], neighbour.entry.text[:80], score)
            return None
        query = None
        for neighbour in gated:
            query = query or facts(text)
            reason = verify(query, self.index.facts_of(neighbour.entry), self._word_vector, self.cfg.synonym_min)
            if reason is None:
                return neighbour.entry
            self.counts["rejected_by_verifier"] += 1
            log.debug("semantic cache: %r is not %r: %s", text[:80], neighbour.entry.text[:80], reason)
        return None

    def judge_score(self, text: str, neighbour: Neighbour) -> float:
        """The judge's P(the neighbour's answer answers ``text``): what ``costops cache calibrate`` calibrates."""
        scorer = self.scorer
        assert scorer is not None, "only with the judge"
        if isinstance(scorer, Scorer):
            return self._feature_score(scorer, text, neighbour)
        query = self._queries.get(text)  # the cross-encoder: its own vetoes, then the model
        if query is None:
            query = self._queries[text] = scorer.query(text)
            if len(self._queries) > 8:
                self._queries.pop(next(iter(self._queries)))
        entry = neighbour.entry
        if entry.judged is None:  # tokenized once per entry, not once per lookup
            entry.judged = scorer.query(entry.text, self.index.facts_of(entry))
        return scorer.score(query, entry.judged)

    def _feature_score(self, scorer: Scorer, text: str, neighbour: Neighbour) -> float:
        """The feature judge's score, from Profiles read once per text while they stay in :attr:`profiles`."""
        profile = self.profiles.get(text, lambda: scorer.profile(text))
        cached_facts = self.index.facts_of(neighbour.entry)
        if text != neighbour.entry.text and vetoed(profile.facts, cached_facts):
            return 0.0  # numbers, negation, periods or units differ: not worth profiling the cached text
        cached = self.profiles.get(neighbour.entry.text, lambda: scorer.profile(neighbour.entry.text, cached_facts))
        return scorer.score(profile, cached, neighbour.similarity)

    def _word_vector(self, word: str) -> Any:
        v = self._word_vectors.get(word)
        if v is None:
            v = self.embedder.word_vector(word)
            if len(self._word_vectors) < 100_000:
                self._word_vectors[word] = v
        return v

    def _render(self, entry: Entry, call: Call) -> bytes:
        if not call.stream:
            return entry.body
        options = call.body.get("stream_options")
        include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
        return sse_from_json(call.api, entry.body, include_usage=include_usage)

    def _mark(self, call: Call, kind: str) -> None:
        """Say miss or bypass only when no exact cache stage speaks for the call."""
        if not self.exact_cache:
            call.record.cache = kind
            set_cache_header(call.response_headers, kind)

    async def after(self, call: Call) -> None:
        flight = call.state.pop(FLIGHT, None)
        entry = None
        try:
            entry = await self._store(call)
        finally:
            if flight is not None:
                flight_id, scope, claim, token, board, item = flight
                self._land(flight_id, scope, entry)
                if token is not None and self.claims is not None:
                    await self.claims.resign(claim, token, board, item)

    async def _store(self, call: Call) -> Entry | None:
        pending = call.state.pop(STATE, None)
        if pending is None or call.record.status != 200 or not call.response_body or call.record.cache == "semantic":
            return None
        lookup, vector, ttl, namespace = pending
        body: bytes | None = call.response_body
        if call.stream:
            body = json_from_sse(call.api, call.response_body, call.record.usage)
        if body is None:
            return None
        now = self.clock()
        usage = call.record.usage
        read = self.profiles.held(lookup.text)  # its facts were read for the lookup: not read again when judged
        entry = Entry(
            id=f"{self.origin}-{next(self._ids)}", scope=lookup.scope, text=lookup.text, body=body,
            usage={name: getattr(usage, name) for name in usage.__dataclass_fields__},
            created=now, expires=now + ttl, namespace=namespace, model=call.record.model_requested,
            facts=None if read is None else read.facts,
        )
        self.index.add(entry, vector)
        self.counts["stores"] += 1
        if self.shared is not None:
            await self.shared.publish(entry)
        return entry

    # -- admin --------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        c = self.counts
        lookups = c["hits"] + c["misses"]
        return {**{k: c[k] for k in ("hits", "misses", "bypass", "stores", "rejected_by_verifier", "shared_in",
                                     "followers", "followers_remote", "followers_upstream", "check_yes", "check_no", "check_timeout",
                                     "check_error")},
                "waiting": self.flights.waiting,
                "hit_rate": round(c["hits"] / lookups, 4) if lookups else None, "entries": len(self.index),
                "threshold": self.cfg.threshold, "embedder": self.embedder.name, "verifier": self.cfg.verifier,
                "accept_score": None if self.scorer is None else self.accept_score({})}

    @admin_doc("Semantic cache counters: hits, misses, entries, threshold",
               response={"type": "object", "required": ["hits", "misses", "entries"]})
    async def admin_stats(self, scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, 200, orjson.dumps(self.stats()))

    async def invalidate(self, selector: Selector) -> int:
        """Here and, through the shared stream, in every other replica."""
        removed = self.index.invalidate(selector)
        if self.shared is not None:
            await self.shared.publish_invalidation(selector)
        return removed

    @admin_doc("Drop semantic cache entries (on every replica)",
               request=SELECTOR_SCHEMA, response=INVALIDATED_SCHEMA, errors=(400, 413))
    async def admin_invalidate(self, scope: Scope, receive: Receive, send: Send) -> None:
        from costops.cache.stage import parse_selector

        selector = parse_selector(await read_body(scope, receive, 64 * 1024))
        removed = await self.invalidate(selector)
        await respond(send, 200, orjson.dumps({"invalidated": selector.to_json(), "removed": {"semantic": removed}}))


def _board_item(claim: str, vector: Any, wait_s: float) -> bytes:
    """A leader on its scope's board: until when it may be followed (Unix ms), its claim, its
    vector (float16: half the bytes, and a cosine gate does not need more)."""
    key = claim.encode()
    until = int((time.time() + wait_s) * 1000)
    return struct.pack(">QH", until, len(key)) + key + np.asarray(vector, np.float16).tobytes()


def semantic_cache_stage(config: Config, clock: Callable[[], float], shared: Shared | None = None) -> SemanticCacheStage:
    """The stage from the config; with ``shared`` from a gateway, LLM checks run through its provider attempt."""
    cache = config.sections.get("cache") or {}
    cfg = parse_semantic(config.sections, config.redis_url)
    targets = {r.llm_check: target(config, r.llm_check, f"cache.semantic.routes.{name}.llm_check")
               for name, r in cfg.routes.items() if r.llm_check is not None}
    checker = None
    if targets and shared is not None and shared.attempt is not None and shared.record_attempt is not None:
        checker = LLMCheck(shared.attempt, shared.record_attempt, clock)
    return SemanticCacheStage(
        cfg, clock, exact_cache=cache.get("exact") is not None,
        exact_config=parse_exact(config.sections, config.redis_url), checker=checker, check_targets=targets,
    )
