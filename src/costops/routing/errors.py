"""The router's errors, as branches of the one tree in :mod:`costops.errors`.

    BadRequest (400)
    ├── OutcomeDataError     an outcome/prompt file or a price file is malformed (names file:line)
    ├── RouterFileError      a router directory is missing, unreadable or from another version
    └── NoCandidate          none of the candidate models is one the router knows

They subclass ``BadRequest`` because each is the caller's input at fault, so when the gateway's
routing policy meets one it answers in the client's API shape like any other bad request.
"""

from __future__ import annotations

from costops.errors import BadRequest


class OutcomeDataError(BadRequest):
    code = "invalid_outcome_data"


class RouterFileError(BadRequest):
    code = "invalid_router"


class NoCandidate(BadRequest):
    code = "no_routable_model"
