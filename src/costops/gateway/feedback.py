"""``POST /v1/feedback {request_id, score}``: how good an answer was, from the application.

Scores are numbers in [0, 1] (1 = the answer was right / the user was satisfied); a later score
for the same request replaces the earlier one. A key may score only its own tenant's requests;
an id the gateway never issued, or another tenant's, is a 404 (the two are not told apart, so
ids cannot be probed). Experiments, bandits and reports read the scores from the ledger.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from costops.errors import BadRequest, NotFound

MAX_ID = 200
MAX_COMMENT = 2000
RECENT = 200_000
"""Request ids remembered in memory (with their tenant) so a score can follow its call before the
ledger has written the row."""


@dataclass(frozen=True, slots=True)
class Feedback:
    request_id: str
    score: float
    comment: str | None = None
    source: str | None = None


def parse_feedback(body: Any) -> Feedback:
    """The feedback in a request body, or a 400 that names the field (pure)."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object: {\"request_id\": \"...\", \"score\": 0.9}")
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > MAX_ID:
        raise BadRequest("'request_id' must be the x-costops-request-id of a call, a non-empty string", code="invalid_value")
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise BadRequest("'score' must be a number from 0 to 1 (1 = a good answer)", code="invalid_type")
    if not 0 <= score <= 1:
        raise BadRequest(f"'score' must be from 0 to 1, not {score}", code="invalid_value")
    comment, source = body.get("comment"), body.get("source")
    for name, value in (("comment", comment), ("source", source)):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_COMMENT):
            raise BadRequest(f"'{name}' must be a string of at most {MAX_COMMENT} characters", code="invalid_type")
    return Feedback(request_id, float(score), comment, source)


class RecentRequests:
    """A bounded map request id -> tenant of the calls this process answered lately."""

    def __init__(self, size: int = RECENT) -> None:
        self.size = size
        self._ids: OrderedDict[str, str] = OrderedDict()

    def add(self, request_id: str, tenant: str) -> None:
        self._ids[request_id] = tenant
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)

    def tenant(self, request_id: str) -> str | None:
        return self._ids.get(request_id)


def unknown(request_id: str) -> NotFound:
    return NotFound(
        f"no call with request id {request_id!r} for this key: send the x-costops-request-id header of a "
        "call made with the same tenant's key"
    )
