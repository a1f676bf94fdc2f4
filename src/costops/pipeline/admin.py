"""How an admin handler declares what it takes and answers, next to its code.

The OpenAPI document (:mod:`costops.gateway.openapi`) reads these declarations; the stages make
them. Kept in this low module so a stage never imports the gateway that serves it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSONSchema = Mapping[str, Any]
F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "admin_doc"
"""The attribute :func:`admin_doc` sets on a handler (read through bound methods too)."""


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter of an admin route."""

    name: str
    description: str
    schema: JSONSchema = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True, slots=True)
class AdminDoc:
    """What one admin handler takes and answers, for the OpenAPI document."""

    summary: str
    response: JSONSchema
    """The JSON schema of the successful answer's body."""
    request: JSONSchema | None = None
    """The JSON schema of the request body; None: the route reads no body."""
    query: tuple[Param, ...] = ()
    status: int = 200
    errors: tuple[int, ...] = ()
    """Error statuses the handler itself answers (the admin key's 401 / 403 are added for all)."""


def admin_doc(
    summary: str,
    *,
    response: JSONSchema,
    request: JSONSchema | None = None,
    query: tuple[Param, ...] = (),
    status: int = 200,
    errors: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Declare an admin handler's request and answer where the handler is written::

    @admin_doc("Cache counters", response={"type": "object"})
    async def admin_stats(self, scope, receive, send): ...
    """
    doc = AdminDoc(summary, response, request, query, status, errors)

    def attach(handler: F) -> F:
        setattr(handler, ATTRIBUTE, doc)
        return handler

    return attach
