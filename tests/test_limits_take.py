"""LocalBuckets.take walks a plan's precomputed shape in one pass: it must decide, charge and
name the refusing limit exactly as judge() over the plan's demands does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from costops.control.bucket import Bucket, LocalBuckets, Plan, Slots, Verdict, judge

REQ = (Bucket("key:k:rpm", "key k: 5 rpm", 5, 5 / 60), Bucket("tenant:t:rpm", "tenant t: 3 rpm", 3, 3 / 60))
TOK = (Bucket("key:k:tpm", "key k: 100 tpm", 100, 100 / 60),)
PLAN = Plan(REQ, TOK, (Slots("key:k:conc", "key k: 2 at once", 2),))


class Reference(LocalBuckets):
    """take() as it was: lists of demands and levels, then judge()."""

    def take(self, now: float, plan: Plan, tokens: float) -> Verdict:
        demands = [(b, 1.0) for b in plan.request_buckets] + [(b, tokens) for b in plan.token_buckets]
        levels = [self.level(b, now) for b, _ in demands]
        verdict = judge(levels, demands)
        if verdict.ok:
            for s in plan.slots:
                if self.in_use.get(s.ident, 0) >= s.limit:
                    return Verdict(False, s.ident, s.label, s.scope, 1.0, slot=True)
        if not verdict.ok:
            return verdict
        for level, (bucket, amount) in zip(levels, demands, strict=True):
            self.levels[bucket.ident] = (level - amount, now)
            self.known[bucket.ident] = bucket
        for s in plan.slots:
            self.in_use[s.ident] = self.in_use.get(s.ident, 0) + 1
            self.known[s.ident] = s
        return Verdict(True)


def test_the_shape_and_idents_are_the_plans_buckets_in_order() -> None:
    assert PLAN.shape == ((REQ[0], False), (REQ[1], False), (TOK[0], True))
    assert PLAN.idents == ("key:k:rpm", "tenant:t:rpm", "key:k:tpm", "key:k:conc")
    assert PLAN.demands(7) == [(REQ[0], 1.0), (REQ[1], 1.0), (TOK[0], 7)]


steps = st.lists(st.tuples(st.floats(0, 30), st.integers(0, 150), st.booleans()), min_size=1, max_size=40)


@given(steps)
def test_take_decides_and_charges_as_judge_does(seq) -> None:
    fast, ref = LocalBuckets(), Reference()
    now = 1000.0
    for dt, tokens, settle in seq:
        now += dt
        got, want = fast.take(now, PLAN, tokens), ref.take(now, PLAN, tokens)
        assert got == want
        assert fast.levels == ref.levels and fast.in_use == ref.in_use
        if settle and got.ok:  # the call ends: a slot frees, tokens are settled
            fast.settle(now, PLAN, -tokens / 2)
            ref.settle(now, PLAN, -tokens / 2)
