"""One error tree; each error knows its HTTP status and how to look in each API.

    CostopsError                      500  api_error
    ├── BadRequest                    400  invalid_request_error
    │   ├── InvalidJSON               400
    │   ├── MissingModel              400
    │   ├── MethodNotAllowed          405                       (carries the Allow list)
    │   ├── RequestTimeout            408  request_timeout      (headers or body too slow)
    │   ├── BodyTooLarge              413
    │   └── HeadersTooLarge           431
    ├── Unauthorized                  401  authentication_error
    ├── Forbidden                     403  permission_error
    ├── NotFound                      404  not_found_error
    │   └── UnknownModel              404  model_not_found
    ├── RateLimited                   429  rate_limit_error     (carries retry_after)
    ├── ClientDisconnected            499  (never sent: recorded, the client has gone)
    ├── ServerBusy                    503  overloaded_error     (over server.max_connections)
    ├── InternalError                 500  api_error            (a bug: an unexpected exception)
    └── UpstreamError                 502  api_error            (the provider failed us)
        ├── UpstreamTimeout           504  timeout
        ├── UpstreamUnavailable       503  overloaded_error     (connection refused / reset)
        └── UpstreamStatus            4xx/5xx as the provider said, its message kept

Upstream failures are mapped into this tree at the provider boundary, so the gateway answers
an OpenAI client in OpenAI's shape and an Anthropic client in Anthropic's, whichever provider
actually failed.
"""

from __future__ import annotations

from typing import Any

import orjson


class CostopsError(Exception):
    status = 500
    type = "api_error"
    code: str | None = None
    retry_after: float | None = None

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def openai_body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": None, "code": self.code}}

    def anthropic_body(self) -> dict[str, Any]:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            405: "invalid_request_error",
            408: "invalid_request_error",
            413: "request_too_large",
            431: "request_too_large",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(self.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": self.message}}

    def render(self, api: str) -> bytes:
        return orjson.dumps(self.anthropic_body() if api == "anthropic" else self.openai_body())


class BadRequest(CostopsError):
    status = 400
    type = "invalid_request_error"


class InvalidJSON(BadRequest):
    code = "invalid_json"


class MissingModel(BadRequest):
    code = "missing_model"


class BodyTooLarge(BadRequest):
    status = 413
    code = "request_too_large"


class MethodNotAllowed(BadRequest):
    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allow = allow


class RequestTimeout(BadRequest):
    status = 408
    code = "request_timeout"


class HeadersTooLarge(BadRequest):
    status = 431
    code = "request_header_fields_too_large"


class ClientDisconnected(CostopsError):
    """The client went away before its request was whole: nothing is forwarded or billed, and
    the ledger row says so (499, nginx's code for it; no response can reach the client)."""

    status = 499
    type = "invalid_request_error"
    code = "client_disconnected"


class ServerBusy(CostopsError):
    status = 503
    type = "overloaded_error"
    code = "server_busy"


class Unauthorized(CostopsError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class Forbidden(CostopsError):
    status = 403
    type = "permission_error"


class NotFound(CostopsError):
    status = 404
    type = "not_found_error"


class UnknownModel(NotFound):
    code = "model_not_found"
    type = "invalid_request_error"


class RateLimited(CostopsError):
    status = 429
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class InternalError(CostopsError):
    """What the client sees when costops itself failed: any exception that is not a
    ``CostopsError`` is turned into this at the request's edge, logged with its traceback."""

    code = "internal_error"


class UpstreamError(CostopsError):
    status = 502
    type = "api_error"
    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout"
    code = "upstream_timeout"
    may_be_billed = True
    """A read timeout: the provider had the request and may bill it; a connect timeout: it did not."""


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "upstream_unavailable"


class UpstreamStatus(UpstreamError):
    """The provider answered with an error; its status and message are passed on as they were."""

    def __init__(self, status: int, message: str, *, type: str | None = None, retry_after: float | None = None):
        super().__init__(message, status=status)
        if type:
            self.type = type
        elif status == 429:
            self.type = "rate_limit_error"
        elif 400 <= status < 500:
            self.type = "invalid_request_error"
        self.retry_after = retry_after
