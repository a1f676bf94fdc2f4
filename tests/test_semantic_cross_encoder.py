"""The cross-encoder judge (``verifier: cross-encoder``): the exact vetoes, then the shipped model,
at its shipped calibration (target precision 0.98), over real HTTP with the OpenAI SDK and through
``costops cache eval`` / ``calibrate``. The pure parts are tested directly."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from costops.cache.semantic.config import parse_semantic
from costops.cache.semantic.crossjudge import MIN_OVERLAP, CrossJudge, overlap, vetoed
from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.index import Entry, Neighbour
from costops.cache.semantic.stage import SemanticCacheStage
from costops.cache.semantic.verify import facts
from costops.cli import main
from tests.test_semantic_gateway import KEYS, ask, client

EMAIL = ("Dear support, my order 8812 (two wool blankets) was delivered to my neighbour instead of me, and one "
         "blanket has a stain. I paid 79 euros and would like a refund for the stained one. Regards, Mara.")
CONFIG = KEYS + "cache:\n  semantic: {verifier: cross-encoder}\n"


@pytest.fixture(scope="module")
def judge() -> CrossJudge:
    return CrossJudge(StaticEmbedder.load())


def test_the_shipped_model_has_a_calibration_table_from_held_out_bases(judge: CrossJudge) -> None:
    assert 0 < judge.threshold_for(0.9) <= judge.threshold_for(0.98) <= judge.threshold_for(0.995) <= 1
    assert judge.calibration.pairs > 0 and "held-out bases" in judge.calibration.source


@pytest.mark.parametrize(("a", "b"), [
    ("How long does it take to ship 5 boxes to Lyon?", "How long does it take to ship 50 boxes to Lyon?"),
    ("Is it safe to run the migration now?", "Is it not safe to run the migration now?"),
    ("What was our revenue in 2023?", "What was our revenue in 2024?"),
    ("How do I set a 2-second timeout?", "How do I set a 2-millisecond timeout?"),
    ("How do I copy a file from my laptop to the server?", "How do I copy a file from the server to my laptop?"),
])
def test_what_never_has_the_same_answer_is_vetoed_before_the_model(judge: CrossJudge, a: str, b: str) -> None:
    assert vetoed(facts(b), facts(a))
    assert judge.score_texts(b, a) == 0.0


@pytest.mark.parametrize(("a", "b"), [
    ("How do I set a 6-second timeout?", "How do I set a 6-second timeout? Sorry for the long week of questions."),
    ("Could you explain how one reverses a list in Java?", "How do I reverse a list in Java?"),
])
def test_a_unit_added_or_a_pronoun_one_is_left_to_the_model(judge: CrossJudge, a: str, b: str) -> None:
    assert not vetoed(facts(b), facts(a))
    assert judge.score_texts(b, a) > 0.0


def test_a_pair_with_little_in_common_is_refused_without_the_model(judge: CrossJudge) -> None:
    a, b = judge.query("How do I reset my password?"), judge.query("Which wines go well with grilled salmon?")
    assert overlap(a.pieces, b.pieces) < MIN_OVERLAP and judge.score(b, a) == 0.0
    close = judge.query("How can I reset my password?")
    assert overlap(a.pieces, close.pieces) >= MIN_OVERLAP and judge.score(close, a) > 0.0


def test_the_same_text_scores_one_and_a_pasted_context_does_not_hide_another_question(judge: CrossJudge) -> None:
    summary = f"{EMAIL}\n\nSummarize this email in two sentences."
    assert judge.score_texts(summary, summary) == 1.0
    reply = judge.score_texts(f"{EMAIL}\n\nWrite a reply apologizing to the customer.", summary)
    assert reply < judge.score_texts(f"{EMAIL}\n\nGive me a two-sentence summary of this email.", summary)
    assert reply < judge.threshold_for(0.98)


def test_a_lookup_stops_at_the_first_neighbour_served_and_reads_each_entry_once(judge: CrossJudge) -> None:
    settings = parse_semantic({"cache": {"semantic": {"verifier": "cross-encoder"}}})
    stage = SemanticCacheStage(settings, time.time, exact_cache=False, embedder=judge.embedder)
    model = stage.scorer.model  # type: ignore[union-attr]
    passes: list[int] = []
    score_ids = model.score_ids
    model.score_ids = lambda a, b: passes.append(1) or score_ids(a, b)  # type: ignore[method-assign]
    near, far = (Entry(str(i), "s", t, b"{}", {}, 0.0, float("inf"))
                 for i, t in enumerate(["How do I reset my password?", "How can I reset my password, please?"]))
    neighbours = [Neighbour(near, 0.95), Neighbour(far, 0.94)]
    assert stage.choose("How can I reset my password?", neighbours, 0.5, accept=0.0) is near
    assert passes == [1] and near.judged is not None and far.judged is None
    kept = near.judged
    assert stage.choose("How could I reset my password?", neighbours, 0.5, accept=1.0) is None  # refused: both judged
    assert passes == [1, 1, 1] and near.judged is kept and far.judged is not None


# -- over HTTP, at the shipped defaults ------------------------------------------------------------

def test_a_rewording_is_served_at_the_default_acceptance(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    c = client(gw)
    _, first = ask(c, "Can I pay by bank transfer?")
    header, second = ask(c, "Is paying by bank transfer possible?")
    assert header == "semantic"
    assert second.choices[0].message.content == first.choices[0].message.content
    assert [r.cache for r in gw.records(2)] == ["miss", "semantic"]


@pytest.mark.parametrize(("cached", "query"), [
    ("How do I copy a file from my laptop to the server?", "How do I copy a file from the server to my laptop?"),  # sides
    ("How long does it take to ship 5 boxes to Lyon?", "How long does it take to ship 50 boxes to Lyon?"),  # number
    ("Can I bring my dog on the train to Paris?", "Can I bring my dog on the train to Berlin?"),  # entity
    ("Should Alice pay Bob for the broken window?", "Should Bob pay Alice for the broken window?"),  # roles
    (f"{EMAIL}\n\nSummarize this email in two sentences.", f"{EMAIL}\n\nWrite a reply apologizing to the customer."),
])
def test_near_misses_go_upstream(make_gateway, cached: str, query: str) -> None:
    gw = make_gateway(CONFIG)
    c = client(gw)
    ask(c, cached)
    assert ask(c, query)[0] == "miss"
    assert [r.cache for r in gw.records(2)] == ["miss", "miss"]


def test_tenants_never_share(make_gateway) -> None:
    gw = make_gateway(CONFIG)
    acme, globex = client(gw), client(gw, "sk-globex")
    ask(acme, "Can I pay by bank transfer?")
    assert ask(globex, "Is paying by bank transfer possible?")[0] == "miss"
    assert ask(acme, "Is paying by bank transfer possible?")[0] == "semantic"


def test_eval_and_calibrate_go_through_the_stage_with_the_model(tmp_path, judge: CrossJudge) -> None:
    rows = [{"a": "Can I pay by bank transfer?", "b": "Is paying by bank transfer possible?", "label": "hit"},
            {"a": "How do I copy a file from my laptop to the server?",
             "b": "How do I copy a file from the server to my laptop?", "label": "miss", "kind": "direction"},
            {"a": "Can I bring my dog on the train to Paris?", "b": "Can I bring my dog on the train to Berlin?",
             "label": "miss", "kind": "entity"}]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    hit, swap, entity = (judge.score_texts(r["b"], r["a"]) for r in rows)
    assert max(swap, entity) < hit  # the premise of the known answers below
    config = tmp_path / "costops.yaml"
    config.write_text("cache:\n  semantic: {verifier: cross-encoder}\n")
    run = CliRunner().invoke
    result = run(main, ["cache", "eval", "--pairs", str(pairs), "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["settings"]["accept_score"] == judge.threshold_for(0.98)
    assert (data["overall"]["served"], data["overall"]["precision"], data["overall"]["false_hit_rate"]) == (1, 1.0, 0.0)
    result = run(main, ["cache", "calibrate", "--pairs", str(pairs), "--target-precision", "1", "--config",
                        str(config), "--write", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["setting"] == "cache.semantic.min_score"
    assert max(swap, entity) < data["threshold"] <= hit and (data["precision"], data["recall"]) == (1.0, 1.0)
