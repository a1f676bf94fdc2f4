"""The semantic cache's judge: a trained score over pair features, calibrated to a target precision.

Over real HTTP with the OpenAI SDK: rewordings (another question form, greetings, a clause moved)
are served; each kind of near-miss (sides or roles swapped, another operator, an opposite, another
question about the same pasted context, number, unit, negation, entity) goes upstream; a route's
own target precision or score applies; tenants never share. The pure parts are tested directly.
"""

from __future__ import annotations

import pytest

from costops.cache.semantic.calibration import calibrate
from costops.cache.semantic.config import RouteSettings, parse_semantic
from costops.cache.semantic.embedder import StaticEmbedder
from costops.cache.semantic.judge import Judge, Scorer
from costops.config import ConfigError
from tests.test_semantic_gateway import MIN_SCORE, ask, client, config

EMAIL = ("Dear support, my order 8812 (two wool blankets) was delivered to my neighbour instead of me, and one "
         "blanket has a stain. I paid 79 euros and would like a refund for the stained one. Regards, Mara.")


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(StaticEmbedder.load())


def test_calibration_takes_the_lowest_threshold_whose_precision_holds_above_it() -> None:
    cal = calibrate([0.9, 0.8, 0.7, 0.6, 0.5], [True, True, False, True, True])
    assert [p[:2] for p in cal.points] == [(0.5, 0.8), (0.6, 0.75), (0.7, 0.666667), (0.8, 1.0), (0.9, 1.0)]
    assert cal.threshold_for(0.98) == 0.8
    assert cal.threshold_for(0.7) == 0.8  # 0.6 has 0.75, but 0.7 below it has less: not monotone, not taken
    assert cal.threshold_for(0.6) == 0.5
    assert calibrate([0.4], [False]).threshold_for(0.98) == 1.0  # nothing reaches it: serve nothing


def test_the_shipped_judge_has_a_calibrated_threshold() -> None:
    judge = Judge.load()
    strict, loose = judge.threshold_for(0.995), judge.threshold_for(0.9)
    assert 0 < loose <= judge.threshold_for(0.98) <= strict <= 1
    assert judge.calibration.pairs > 0 and judge.calibration.source


@pytest.mark.parametrize(("cached", "query"), [
    ("How do I copy a file from my laptop to the server?", "How do I copy a file from the server to my laptop?"),
    ("Should Alice pay Bob for the broken window?", "Should Bob pay Alice for the broken window?"),
    ("Is 3 + 4 equal to 7?", "Is 3 - 4 equal to 7?"),
    ("What are the pros of moving to a four-day week?", "What are the cons of moving to a four-day week?"),
])
def test_what_a_sum_of_word_vectors_cannot_see_scores_zero(scorer: Scorer, cached: str, query: str) -> None:
    assert float(scorer.embedder.embed(cached) @ scorer.embedder.embed(query)) > 0.9  # the embedding can't tell
    assert scorer.score_texts(query, cached) == 0.0


def test_a_clause_moved_whole_is_not_a_swap(scorer: Scorer) -> None:
    accept = MIN_SCORE
    assert scorer.score_texts("Is there a fee if I cancel within 14 days?", "If I cancel within 14 days, is there a fee?") >= accept
    assert scorer.score_texts("Which is faster, Go or Rust?", "Which is faster, Rust or Go?") >= accept


def test_another_question_about_the_same_context_scores_low(scorer: Scorer) -> None:
    accept = MIN_SCORE
    summary = f"{EMAIL}\n\nSummarize this email in two sentences."
    assert scorer.score_texts(f"{EMAIL}\n\nGive me a two-sentence summary of this email.", summary) >= accept
    assert scorer.score_texts(f"{EMAIL}\n\nWrite a reply apologizing to the customer.", summary) < accept


def test_route_settings_parse_strictly() -> None:
    cfg = parse_semantic({"cache": {"semantic": {"target_precision": 0.99, "routes": {
        "faq": 0.6, "payments": {"target_precision": 0.999}, "pinned": {"min_score": 0.9, "threshold": 0.7}}}}})
    assert cfg.routes["faq"] == RouteSettings(threshold=0.6)
    assert cfg.acceptance({"route": "payments"}) == (None, 0.999)
    assert cfg.acceptance({"feature": "pinned"}) == (0.9, 0.99) and cfg.threshold_for({"route": "pinned"}) == 0.7
    assert cfg.acceptance({}) == (None, 0.99) and cfg.threshold_for({}) == 0.5
    with pytest.raises(ConfigError, match=r"cache.semantic.routes.payments.target_precison: unknown setting"):
        parse_semantic({"cache": {"semantic": {"routes": {"payments": {"target_precison": 0.99}}}}})
    with pytest.raises(ConfigError, match="cache.semantic.verifier"):
        parse_semantic({"cache": {"semantic": {"verifier": "llm"}}})
    with pytest.raises(ConfigError, match="cache.semantic.target_precision"):
        parse_semantic({"cache": {"semantic": {"target_precision": 1.5}}})


# -- over HTTP -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cached", "query"), [
    ("How do I copy a file from my laptop to the server?", "Hi, what's the way to copy a file from my laptop to the server? Thanks!"),
    ("If I cancel within 14 days, is there a fee?", "Is there a fee if I cancel within 14 days?"),
    ("How do I turn on dark mode?", "How can I enable dark mode?"),
    (f"{EMAIL}\n\nSummarize this email in two sentences.", f"{EMAIL}\n\nGive me a two-sentence summary of this email."),
])
def test_rewordings_are_served(make_gateway, cached: str, query: str) -> None:
    gw = make_gateway(config())
    c = client(gw)
    _, first = ask(c, cached)
    header, second = ask(c, query)
    assert header == "semantic"
    assert second.choices[0].message.content == first.choices[0].message.content


@pytest.mark.parametrize(("cached", "query"), [
    ("How do I copy a file from my laptop to the server?", "How do I copy a file from the server to my laptop?"),  # sides
    ("Should Alice pay Bob for the broken window?", "Should Bob pay Alice for the broken window?"),  # roles
    ("Is 3 + 4 equal to 7?", "Is 3 - 4 equal to 7?"),  # operator
    ("What are the pros of moving to a four-day week?", "What are the cons of moving to a four-day week?"),  # opposite
    (f"{EMAIL}\n\nSummarize this email in two sentences.", f"{EMAIL}\n\nWrite a reply apologizing to the customer."),
    ("How long does it take to ship 5 boxes to Lyon?", "How long does it take to ship 50 boxes to Lyon?"),  # number
    ("How many kilometers is a marathon?", "How many miles is a marathon?"),  # unit
    ("Is it safe to run the migration during business hours?", "Is it not safe to run the migration during business hours?"),
    ("Can I bring my dog on the train to Paris?", "Can I bring my dog on the train to Berlin?"),  # entity
])
def test_each_kind_of_near_miss_goes_upstream(make_gateway, cached: str, query: str) -> None:
    gw = make_gateway(config())
    c = client(gw)
    ask(c, cached)
    assert ask(c, query)[0] == "miss"
    assert [r.cache for r in gw.records(2)] == ["miss", "miss"]


def test_a_route_can_ask_for_more_certainty(make_gateway) -> None:
    gw = make_gateway(config("{routes: {payments: {min_score: 1.0}, faq: {target_precision: 0.7}}}"))
    c = client(gw)
    ask(c, "How do I reset my password?")
    payments, faq = client(gw), client(gw)
    payments._custom_headers["x-costops-tags"] = "route=payments"
    faq._custom_headers["x-costops-tags"] = "route=faq"
    assert ask(payments, "Hello! How can I reset my password?")[0] == "miss"
    assert ask(faq, "Hello! How can I reset my password?")[0] == "semantic"


def test_tenants_never_share_even_an_exact_rewording(make_gateway) -> None:
    gw = make_gateway(config())
    acme, globex = client(gw), client(gw, "sk-globex")
    ask(acme, "How do I copy a file from my laptop to the server?")
    assert ask(globex, "How can I copy a file from my laptop to the server?")[0] == "miss"
    assert ask(acme, "How can I copy a file from my laptop to the server?")[0] == "semantic"


def test_calibrate_sets_the_judges_acceptance_score(tmp_path) -> None:
    import json

    import yaml
    from click.testing import CliRunner

    from costops.cli import main

    rows = [{"a": "How do I reset my password?", "b": "Hi! How can I reset my password?", "label": "hit"},
            {"a": "How do I copy a file from my laptop to the server?",
             "b": "How do I copy a file from the server to my laptop?", "label": "miss"},
            {"a": "Is it safe to store the key in the repo?", "b": "Is it safe to store the key in the vault?",
             "label": "miss"}]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scorer = Scorer(StaticEmbedder.load())
    hit, swap, vault = (scorer.score_texts(r["b"], r["a"]) for r in rows)
    assert swap == 0.0 < vault < hit  # the premise of the known answer below
    config = tmp_path / "costops.yaml"
    config.write_text("cache:\n  semantic: {routes: {faq: 0.4}}\n")
    run = CliRunner().invoke
    result = run(main, ["cache", "calibrate", "--pairs", str(pairs), "--target-precision", "1", "--config", str(config),
                        "--route", "faq", "--write", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["setting"] == "cache.semantic.routes.faq.min_score"
    assert vault < data["threshold"] <= hit and (data["precision"], data["recall"]) == (1.0, 1.0)
    assert yaml.safe_load(config.read_text())["cache"]["semantic"]["routes"]["faq"] == {
        "threshold": 0.4, "min_score": data["threshold"]}
    again = json.loads(run(main, ["cache", "eval", "--pairs", str(pairs), "--config", str(config), "--route", "faq",
                                  "--json"]).output)
    assert again["settings"]["accept_score"] == data["threshold"]
    assert (again["overall"]["served"], again["overall"]["precision"]) == (1, 1.0)


def test_the_early_vetoes_score_what_the_full_features_score(scorer: Scorer) -> None:
    """The lookup refuses on numbers, negation, periods, operators... before aligning words: on the
    dev pairs the short cut gives the score the model gives from every feature, pair by pair."""
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in (Path(__file__).parent.parent / "bench" / "data" / "semantic_pairs"
                                          / "dev.jsonl").open()][::10]
    vetoed = 0
    for r in rows:
        q, c = scorer.profile(r["b"]), scorer.profile(r["a"])
        cosine = float(scorer.embedder.embed(r["b"]) @ scorer.embedder.embed(r["a"]))
        full = 1.0 if q.text == c.text else scorer.judge.score_features(scorer.features(q, c, cosine))
        assert scorer.score(q, c, cosine) == pytest.approx(full, abs=1e-12), (r["a"], r["b"])
        vetoed += full == 0.0
    assert 0 < vetoed < len(rows)  # both paths were taken


def test_typos_forms_and_synonyms_align_as_the_same_word(scorer: Scorer) -> None:
    from costops.cache.semantic.judge import _same_word

    other = scorer.profile("How do I change the shipping address of my subscription?")
    assert _same_word("subscriptoin", other) and _same_word("shipped", other) and _same_word("modify", other)
    assert not _same_word("password", other)
