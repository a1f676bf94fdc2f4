"""The learned router as a library: it learns a known rule, the knob moves along the curve,
candidates narrow the choice, a saved router chooses the same, prices come from where they say."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from costops.pricing import PriceCatalog
from costops.routing import (
    NoCandidate,
    OutcomeDataError,
    Router,
    RouterFileError,
    decide,
    read_outcomes,
    train,
)
from costops.routing.classifier import Hyper
from costops.routing.costs import build_cost_model, read_price_file
from tests import router_data

FAST = Hyper(iterations=150)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Router:
    d = tmp_path_factory.mktemp("router")
    rows = read_outcomes(router_data.write(d / "train.jsonl", router_data.rows(1000)))
    prices = read_price_file(router_data.write_prices(d / "prices.json"))
    return train(rows, prices=prices, hyper=FAST)


def test_it_learns_which_prompts_need_the_strong_model(trained: Router) -> None:
    rng = random.Random(99)  # prompts it has not seen
    for hard in (True, False) * 10:
        text = router_data.prompt(rng, hard)
        choice = trained.choose(text, 0.9)
        assert choice.model == ("big" if hard else "small"), (text, choice)
        if hard:
            assert choice.p_good["small"] < 0.3 < 0.8 < choice.p_good["big"]
        else:
            assert choice.p_good["small"] > 0.8
    assert choice.cost_usd["big"] > 50 * choice.cost_usd["small"]
    assert choice.expected_cost_usd == choice.cost_usd[choice.model]


def test_the_threshold_ends_are_cheapest_and_best(trained: Router) -> None:
    hard = "Prove the theorem: every bounded monotone sequence of reals converges."
    assert trained.choose(hard, 0.0).model == "small"
    assert trained.choose(hard, 1.0).model == "big"
    assert trained.strongest == "big"


def test_candidates_narrow_the_choice(trained: Router) -> None:
    hard = "Prove the theorem: there are infinitely many primes."
    choice = trained.choose(hard, 0.9, candidates=["small", "gpt-unknown"])
    assert choice.model == "small" and set(choice.p_good) == {"small"}
    with pytest.raises(NoCandidate, match="gpt-unknown.*trained for \\(big, small\\)"):
        trained.choose(hard, 0.9, candidates=["gpt-unknown"])
    assert NoCandidate("x").status == 400


def test_an_empty_prompt_gets_a_choice(trained: Router) -> None:
    assert trained.choose("", 0.9).model in ("small", "big")


def test_a_saved_router_chooses_the_same(trained: Router, tmp_path) -> None:  # noqa: ANN001
    trained.save(tmp_path / "r")
    doc = json.loads((tmp_path / "r" / "router.json").read_text())
    assert doc["prices"]["models"]["big"]["input_usd_per_mtok"] == "10"
    assert doc["prices"]["models"]["big"]["source"] == "given"
    assert doc["prices"]["output_tokens"] == 256
    loaded = Router.load(tmp_path / "r")
    for text in ("Prove the theorem: 2 is prime.", "What is the capital of Peru?", ""):
        a, b = trained.choose(text, 0.9), loaded.choose(text, 0.9)
        assert a.model == b.model
        assert a.p_good == pytest.approx(b.p_good, abs=1e-6)


def test_a_missing_or_foreign_directory_says_how_to_fix_it(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(RouterFileError, match="no router.json; write a router there with `costops router train"):
        Router.load(tmp_path)
    (tmp_path / "router.json").write_text('{"format": "something-else"}')
    with pytest.raises(RouterFileError, match="format 'something-else'"):
        Router.load(tmp_path)


@pytest.mark.parametrize(("edit", "message"), [
    ({"cost_scale_usd": None}, r"incomplete or damaged router \(cost_scale_usd"),
    ({"cost_scale_usd": "x"}, r"incomplete or damaged router \(cost_scale_usd"),
    ({"rule": "magic"}, r"rule 'magic' is not one this costops knows \(utility, threshold\)"),
])
def test_a_damaged_router_json_is_a_router_file_error(trained: Router, tmp_path, edit, message) -> None:  # noqa: ANN001
    d = trained.save(tmp_path / "r")
    doc = json.loads((d / "router.json").read_text())
    doc.update({k: v for k, v in edit.items() if v is not None})
    for k in [k for k, v in edit.items() if v is None]:
        del doc[k]
    (d / "router.json").write_text(json.dumps(doc))
    with pytest.raises(RouterFileError, match=message):
        Router.load(d)


def test_weights_that_are_not_a_routers_say_so_without_advice_to_unpickle(trained: Router, tmp_path) -> None:  # noqa: ANN001
    d = trained.save(tmp_path / "r")
    (d / "heads.npz").write_bytes(b"garbage")
    with pytest.raises(RouterFileError, match=r"heads.npz is damaged or not one `costops router train` wrote") as err:
        Router.load(d)
    assert "pickle" not in str(err.value)


def test_decide_utility_weighs_the_gain_against_the_cost() -> None:
    P = np.array([[0.50, 0.90], [0.85, 0.90], [0.20, 0.30]])
    C = np.array([[1.0, 10.0]] * 3)
    # λ = (1 - 0.95) / 0.95 ≈ 0.053 per cost_scale (10): a 9-unit dearer call needs +0.047
    assert decide(P, C, 0.95, cost_scale=10.0).tolist() == [1, 1, 1]
    # λ = 1/9 at T = 0.9: +0.1 needed; only the first row's +0.40 pays
    assert decide(P, C, 0.9, cost_scale=10.0).tolist() == [1, 0, 0]
    avail = np.array([[True, False], [True, True], [False, False]])
    assert decide(P, C, 1.0, cost_scale=10.0, available=avail).tolist() == [0, 1, -1]


def test_decide_threshold_rule_takes_the_cheapest_good_enough() -> None:
    P = np.array([[0.50, 0.90], [0.85, 0.90], [0.20, 0.30]])
    C = np.array([[1.0, 10.0]] * 3)
    assert decide(P, C, 0.8, rule="threshold").tolist() == [1, 0, 1]  # nobody >= 0.8 in row 3: the likelier
    with pytest.raises(ValueError, match="threshold must be in \\[0, 1\\]"):
        decide(P, C, 1.5)


def test_costs_are_learned_from_cost_usd_where_rows_carry_it() -> None:
    observed = {"m": [(10, 0.003), (20, 0.005), (40, 0.009)]}  # 0.001 + 0.0002 per token
    cm = build_cost_model(["m"], costs=observed, standins={})
    (e,) = cm.entries
    assert e.source == "learned from 3 rows' cost_usd"
    assert e.fixed_usd == pytest.approx(0.001) and e.per_prompt_token_usd == pytest.approx(0.0002)
    assert cm.matrix(np.array([100]))[0, 0] == pytest.approx(0.021)


def test_training_rows_with_cost_usd_set_the_router_costs(tmp_path) -> None:  # noqa: ANN001
    rows = read_outcomes(router_data.write(tmp_path / "c.jsonl", router_data.rows(60, cost_usd=True)))
    router = train(rows, hyper=Hyper(iterations=20))
    assert {e.source for e in router.costs.entries} == {"learned from 60 rows' cost_usd"}
    big = router.costs.entries[router.models.index("big")]
    assert (big.fixed_usd, big.per_prompt_token_usd) == (pytest.approx(0.01), 0.0)


def test_catalog_prices_and_the_output_assumption() -> None:
    cm = build_cost_model(["gpt-4-1106-preview"], standins={}, output_tokens=100)
    (e,) = cm.entries
    assert e.source.startswith("catalog: genai-prices") and (e.input_usd_per_mtok, e.output_usd_per_mtok) == ("10", "30")
    assert cm.matrix(np.array([1000]))[0, 0] == pytest.approx(1000 * 10e-6 + 100 * 30e-6)


def test_a_model_nobody_prices_is_an_error_that_names_the_fix() -> None:
    with pytest.raises(OutcomeDataError, match="no price for model 'my-private-llm'.*--prices FILE"):
        build_cost_model(["my-private-llm"], standins={})


def test_every_stand_in_is_a_model_the_catalog_lacks_and_resolves() -> None:
    catalog = PriceCatalog()
    standins = read_price_file()
    assert len(standins) > 50
    for model, entry in standins.items():
        assert catalog.lookup(model) is None, f"{model}: the catalog prices it; drop the stand-in"
        assert entry.why, f"{model}: say where the stand-in price comes from"
    costs = build_cost_model(list(standins), standins=standins, catalog=catalog)
    assert all(e.source.startswith("stand-in") for e in costs.entries)
    by = {e.model: e for e in costs.entries}
    assert (by["text_davinci_003"].input_usd_per_mtok, by["Qwen1.5-110B"].output_usd_per_mtok) == ("20", "1.8")


def test_models_without_outcomes_cannot_be_trained_for(tmp_path) -> None:  # noqa: ANN001
    rows = read_outcomes(router_data.write(tmp_path / "t.jsonl", router_data.rows(10)))
    with pytest.raises(OutcomeDataError, match="no outcome in the training data for 'gpt-9'"):
        train(rows, models=["big", "gpt-9"])
    only_prompts = read_outcomes(router_data.write(tmp_path / "p.jsonl", [{"id": 1, "prompt": "hi"}]))
    with pytest.raises(OutcomeDataError, match="has no outcomes"):
        train(only_prompts)


def test_the_reader_skips_a_bom_and_names_repeated_ids_and_non_utf8_lines(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "bom.jsonl").write_bytes(b'\xef\xbb\xbf{"id": 1, "prompt": "hi"}\n{"id": 2, "prompt": "\xc3\xa9"}\n')
    assert [(r.id, r.prompt) for r in read_outcomes(tmp_path / "bom.jsonl")] == [(1, "hi"), (2, "é")]
    (tmp_path / "dup.jsonl").write_text('{"id": "a", "prompt": "x"}\n\n{"id": "a", "prompt": "y"}\n')
    with pytest.raises(OutcomeDataError, match=r"dup.jsonl:3: id 'a' repeats line 1; give each row its own id"):
        read_outcomes(tmp_path / "dup.jsonl")
    # the same ids in two files are two files' rows, not repeats
    assert len(read_outcomes([tmp_path / "bom.jsonl", tmp_path / "bom.jsonl"])) == 4
    (tmp_path / "latin1.jsonl").write_bytes(b'{"id": 1, "prompt": "caf\xe9"}\n')
    with pytest.raises(OutcomeDataError, match=r"latin1.jsonl:1: not UTF-8 text \(byte 0xe9 at column 25\); save the file"):
        read_outcomes(tmp_path / "latin1.jsonl")
