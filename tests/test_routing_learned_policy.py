"""The learned policy over real HTTP: "model": "auto" goes to the model a trained router picks
from the prompt; the row says which policy and route chose it."""

from __future__ import annotations

import openai
import pytest

from costops.config import ConfigError
from costops.routing import read_outcomes, train
from costops.routing.classifier import Hyper
from costops.routing.costs import read_price_file
from tests import router_data


@pytest.fixture(scope="module")
def router_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("router")
    rows = read_outcomes(router_data.write(d / "train.jsonl", router_data.rows(1000)))
    router = train(rows, prices=read_price_file(router_data.write_prices(d / "prices.json")), hyper=Hyper(iterations=150))
    return str(router.save(d / "out"))


def test_auto_sends_hard_prompts_to_the_strong_model(make_gateway, router_dir) -> None:
    gw = make_gateway(
        "routing:\n  policies:\n"
        f"    auto: {{kind: learned, router: '{router_dir}', threshold: 0.9, models: {{small: gpt-4o-mini, big: gpt-4o}}}}\n"
    )
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    easy = oa.chat.completions.create(model="auto", messages=[{"role": "user", "content": "What is the capital of Peru?"}])
    hard = oa.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Prove the theorem that a group of order 221 has a subgroup of order 13."}]
    )
    assert easy.model.startswith("gpt-4o-mini") and hard.model.startswith("gpt-4o") and not hard.model.startswith("gpt-4o-mini")
    rows = gw.records(2)
    assert [(r.model_requested, r.model, r.policy, r.route) for r in rows] == [
        ("auto", "gpt-4o-mini", "auto", "learned"), ("auto", "gpt-4o", "auto", "learned"),
    ]


def test_a_learned_policy_is_checked_at_start(make_gateway, router_dir, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"routing.policies.auto.router"):
        make_gateway(f"routing:\n  policies:\n    auto: {{kind: learned, router: '{tmp_path}/none'}}\n")
    with pytest.raises(ConfigError, match=r"models.big: 'big': model 'big' is not served.*; the router's names are "
                                          r"served as they are unless you map them: models: \{big: <a served model>"):
        make_gateway(f"routing:\n  policies:\n    auto: {{kind: learned, router: '{router_dir}'}}\n")
    with pytest.raises(ConfigError, match=r"'medium' is not one of the router's models"):
        make_gateway(f"routing:\n  policies:\n    auto: {{kind: learned, router: '{router_dir}', models: [medium]}}\n")
    with pytest.raises(ConfigError, match=r"routing.policies.auto.models.big: 'nope-1'"):
        make_gateway(f"routing:\n  policies:\n    auto: {{kind: learned, router: '{router_dir}', models: {{small: gpt-4o-mini, big: nope-1}}}}\n")


def test_a_router_trained_by_the_cli_on_served_names_needs_no_mapping(make_gateway, tmp_path) -> None:  # noqa: ANN001
    """What a user does first: `costops router train` on their own outcome file whose models the
    gateway serves under those names and whose rows carry cost_usd (so no --prices), then
    `kind: learned` with no `models:` at all."""
    from click.testing import CliRunner

    from costops.cli import main

    rows = [{**r, "outcomes": {"gpt-4o-mini": r["outcomes"]["small"], "gpt-4o": r["outcomes"]["big"]},
             "cost_usd": {"gpt-4o-mini": 0.0001, "gpt-4o": 0.01}} for r in router_data.rows(600, seed=4)]
    data = router_data.write(tmp_path / "mine.jsonl", rows)
    trained = CliRunner().invoke(main, ["router", "train", "--data", str(data), "--out", str(tmp_path / "r")])
    assert trained.exit_code == 0 and "gpt-4o: mean score 1.000 on 600 rows, per call, learned from 600 rows' cost_usd" \
        in trained.output, trained.output
    gw = make_gateway(f"routing:\n  policies:\n    auto: {{kind: learned, router: '{tmp_path / 'r'}', threshold: 0.9}}\n")
    oa = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    hard = oa.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Prove the theorem: 9 is odd."}])
    easy = oa.chat.completions.create(model="auto", messages=[{"role": "user", "content": "What is the capital of Spain?"}])
    assert [(r.model_requested, r.model, r.route) for r in gw.records(2)] == [
        ("auto", "gpt-4o", "learned"), ("auto", "gpt-4o-mini", "learned")]
    assert hard.model.startswith("gpt-4o") and easy.model.startswith("gpt-4o-mini")
