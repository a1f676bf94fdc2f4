"""The chain ``compose`` builds: handlers outermost first, consecutive two-method stages run in
one frame with the same outcome nested handlers gave (an answer or a refusal stops the rest, and
every stage whose ``before`` ran is owed its ``after``)."""

from __future__ import annotations

import asyncio

import pytest

from costops.errors import Forbidden
from costops.pipeline.chain import StageHandler, compose
from costops.pipeline.contract import Call, Reply
from costops.usage import Usage


class Stage:
    def __init__(self, name: str, seen: list[str], answer: bool = False, refuse: bool = False) -> None:
        self.name, self.seen, self.answer, self.refuse = name, seen, answer, refuse

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def before(self, call: Call) -> Reply | None:
        self.seen.append(self.name)
        if self.refuse:
            raise Forbidden(f"{self.name} refuses")
        return Reply(self.name.encode(), Usage(), "exact") if self.answer else None

    async def after(self, call: Call) -> None: ...


class Handler:
    def __init__(self, name: str, seen: list[str]) -> None:
        self.name, self.seen = name, seen

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def handle(self, call, next):
        self.seen.append(f"{self.name}>")
        reply = await next(call)
        self.seen.append(f"<{self.name}")
        return reply


class Innermost(Handler):
    async def handle(self, call, next):
        self.seen.append(self.name)
        await asyncio.sleep(0)  # suspends, as a provider attempt does
        return Reply(b"provider", Usage(), "provider")


class FakeCall:
    def __init__(self) -> None:
        self.entered: list = []


def run(handlers, innermost):
    call = FakeCall()
    return call, asyncio.run(compose(handlers, innermost)(call))


def test_stages_and_handlers_run_outermost_first_and_the_innermost_answers() -> None:
    seen: list[str] = []
    stages = [Stage(n, seen) for n in ("limits", "budgets", "cache")]
    handlers = [Handler("route", seen), *(StageHandler(s) for s in stages[:2]), Handler("mid", seen), StageHandler(stages[2])]
    call, reply = run(handlers, Innermost("attempt", seen))
    assert reply.body == b"provider"
    assert seen == ["route>", "limits", "budgets", "mid>", "cache", "attempt", "<mid", "<route"]
    assert call.entered == stages


def test_a_stage_that_answers_stops_the_rest_and_only_stages_that_ran_are_owed_after() -> None:
    seen: list[str] = []
    stages = [Stage("limits", seen), Stage("cache", seen, answer=True), Stage("prompt", seen)]
    call, reply = run([Handler("route", seen), *(StageHandler(s) for s in stages)], Innermost("attempt", seen))
    assert reply.body == b"cache"
    assert seen == ["route>", "limits", "cache", "<route"]
    assert call.entered == stages[:2]


def test_a_stage_that_refuses_raises_through_the_chain_with_its_after_owed() -> None:
    seen: list[str] = []
    stages = [Stage("limits", seen), Stage("budgets", seen, refuse=True), Stage("cache", seen)]
    call = FakeCall()
    with pytest.raises(Forbidden, match="budgets refuses"):
        asyncio.run(compose([StageHandler(s) for s in stages], Innermost("attempt", seen))(call))
    assert seen == ["limits", "budgets"] and call.entered == stages[:2]
