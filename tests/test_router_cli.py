"""`costops router train | choose | eval` as a person runs them: outputs, the JSON shape, and
errors that name what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from costops.cli import main
from tests import router_data


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    else:  # a person's mistake: exit 2, one "Error:" line, nothing half-printed, no traceback
        assert result.exit_code == 2, result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
        assert result.stdout == "" and result.stderr.count("Error:") == 1 and "Traceback" not in result.output
    return result.output


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    out = {
        "train": router_data.write(d / "train.jsonl", router_data.rows(1000, seed=1)),
        "test": router_data.write(d / "test.jsonl", router_data.rows(120, seed=2)),
        "prices": router_data.write_prices(d / "prices.json"),
        "router": d / "router",
    }
    output = run("router", "train", "--data", str(out["train"]), "--out", str(out["router"]), "--prices", str(out["prices"]))
    assert "trained on 1000 rows" in output and "strongest in the data: big" in output
    assert "big: mean score 1.000 on 1000 rows, $10/$30 per MTok, given" in output
    return out


def test_choose_prints_one_line_per_row_from_prompts_alone(files: dict[str, Path], tmp_path: Path) -> None:
    prompts = router_data.write(tmp_path / "p.jsonl", [
        {"id": "a", "prompt": "Prove the theorem: the square root of 2 is irrational."},
        {"id": 7, "prompt": "What is the capital of Japan?"},
        {"id": "empty", "prompt": ""},
    ])
    out = run("router", "choose", "--router", str(files["router"]), "--data", str(prompts), "--threshold", "0.9")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[:2] == [{"id": "a", "model": "big"}, {"id": 7, "model": "small"}]  # the id as the row spells it
    assert lines[2]["id"] == "empty" and lines[2]["model"] in ("big", "small") and len(lines) == 3


def test_eval_sweep_json_has_the_issue_shape_and_beats_the_baselines(files: dict[str, Path]) -> None:
    out = run("router", "eval", "--router", str(files["router"]), "--data", str(files["test"]), "--sweep", "--json")
    result = json.loads(out)
    assert set(result) == {"points", "baselines"}  # the issue's shape, nothing else
    for p in result["points"]:
        assert set(p) == {"threshold", "quality", "cost_usd", "mix"}
        assert sum(p["mix"].values()) == pytest.approx(1.0, abs=1e-3)
    b = result["baselines"]
    assert set(b) == {"always_strongest", "always_cheapest", "random", "oracle"}
    assert (b["always_strongest"]["model"], b["always_cheapest"]["model"]) == ("big", "small")
    assert b["always_strongest"]["quality"] == 1.0 and b["oracle"]["quality"] == 1.0
    assert b["oracle"]["cost_usd"] < b["always_strongest"]["cost_usd"]
    assert len(b["random"]) == len(result["points"])
    ends = result["points"][0], result["points"][-1]
    assert (ends[0]["threshold"], ends[1]["threshold"]) == (0.0, 1.0)
    assert ends[0]["mix"] == {"small": 1.0} and ends[1]["mix"] == {"big": 1.0}
    # the known rule is learned: full quality at the oracle's cost, far above random mixing there
    good = [p for p in result["points"] if p["quality"] >= 0.99]
    cheapest_good = min(good, key=lambda p: p["cost_usd"])
    assert cheapest_good["cost_usd"] <= 1.1 * b["oracle"]["cost_usd"]
    at_same_cost = b["random"][result["points"].index(cheapest_good)]
    assert at_same_cost["quality"] < 0.9


def test_eval_one_threshold_prints_a_table(files: dict[str, Path]) -> None:
    out = run("router", "eval", "--router", str(files["router"]), "--data", str(files["test"]), "--threshold", "0.9")
    assert "120 rows, 120 with outcomes; rule utility" in out
    assert "0.9000" in out and "always_strongest (big): quality 1.0000 (100.0%)" in out and "oracle:" in out


def test_eval_on_prompt_only_rows_prints_the_mix(files: dict[str, Path], tmp_path: Path) -> None:
    prompts = router_data.write(tmp_path / "p.jsonl", [{"id": i, "prompt": r["prompt"]} for i, r in
                                                       enumerate(router_data.rows(30, seed=5))])
    result = json.loads(run("router", "eval", "--router", str(files["router"]), "--data", str(prompts), "--sweep", "--json"))
    assert result["baselines"] == {} and set(result) == {"points", "baselines"}
    assert all(p["quality"] is None and p["cost_usd"] is None and p["mix"] for p in result["points"])
    text = run("router", "eval", "--router", str(files["router"]), "--data", str(prompts), "--threshold", "0.5")
    assert "30 rows, 0 with outcomes" in text and "0.5000     small 100%" in text


def test_eval_copes_with_nulls_unknown_models_and_missing_costs(files: dict[str, Path], tmp_path: Path) -> None:
    rows = [
        {"id": 1, "prompt": "Prove the theorem: 3 is odd.", "outcomes": {"big": None, "small": 0, "gpt-x": 1}},
        {"id": 2, "prompt": "What is the capital of Peru?", "outcomes": {"big": 1, "small": 1},
         "cost_usd": {"big": 0.5}},
        {"id": 3, "prompt": "Name the capital of Chile.", "outcomes": {"gpt-x": 1}},
    ]
    result = json.loads(run("router", "eval", "--router", str(files["router"]),
                            "--data", str(router_data.write(tmp_path / "o.jsonl", rows)), "--threshold", "1", "--json"))
    (point,) = result["points"]
    assert point["quality"] == 0.5  # row 3 scores no model the router knows, so it is not in the mean  # row 1: only small was measured, so small it is (0); row 2: big (1)
    assert point["cost_usd"] == pytest.approx(0.5 + result_cost_of_small(files, "Prove the theorem: 3 is odd."), rel=1e-6)


def result_cost_of_small(files: dict[str, Path], prompt: str) -> float:
    from costops.routing import Router

    return Router.load(files["router"]).choose(prompt, 0.0, candidates=["small"]).expected_cost_usd


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1, "prompt": "a"}\n{"id": 2, "prompt": \n', "bad.jsonl:2: not valid JSON"),
        ('{"id": 1, "prompt": "a", "outcomes": {"big": 1.5}}\n', "bad.jsonl:1: outcomes['big'] = 1.5: must be a number in [0, 1] or null"),
        ('{"id": 1}\n', "bad.jsonl:1: 'prompt' must be a string"),
        ('{"prompt": "x"}\n', "bad.jsonl:1: missing 'id'"),
        ('[1, 2]\n', "bad.jsonl:1: a row must be a JSON object"),
        ('{"id": 1, "prompt": "a", "cost_usd": {"big": -1}}\n', "cost_usd['big'] = -1: must be a number >= 0"),
        ('{"id": 1, "prompt": "a"}\n\n{"id": 2, "prompt": "b"}\n{"id": 1, "prompt": "c"}\n',
         "bad.jsonl:4: id 1 repeats line 1"),
        ('{"id": 1, "prompt": "caf\xe9"}\n'.encode("latin-1"), "bad.jsonl:1: not UTF-8 text"),
        ("", "bad.jsonl: no rows"),
        ("\n  \n", "bad.jsonl: no rows"),
    ],
)
def test_bad_rows_name_the_line_and_the_fix(files: dict[str, Path], tmp_path: Path, content: str | bytes,
                                            message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    for args in (["choose", "--threshold", "0.5"], ["eval", "--sweep"], ["train", "--out", str(tmp_path / "r")]):
        router = [] if args[0] == "train" else ["--router", str(files["router"])]
        out = run("router", args[0], *router, "--data", str(bad), *args[1:], ok=False)
        assert message in out


def test_usage_errors(files: dict[str, Path], tmp_path: Path) -> None:
    both = run("router", "eval", "--router", str(files["router"]), "--data", str(files["test"]),
               "--sweep", "--threshold", "0.5", ok=False)
    assert "give exactly one of --threshold T or --sweep" in both
    assert "0<=x<=1" in run("router", "choose", "--router", str(files["router"]), "--data", str(files["test"]),
                            "--threshold", "2", ok=False)
    for command in ("choose", "eval"):
        assert "'--threshold': nan is not a number from 0 to 1" in run(
            "router", command, "--router", str(files["router"]), "--data", str(files["test"]), "--threshold", "nan", ok=False)
    missing = run("router", "choose", "--router", str(tmp_path / "nope"), "--data", str(files["test"]),
                  "--threshold", "0.5", ok=False)
    assert "no router.json; write a router there with `costops router train" in missing
    unknown = run("router", "train", "--data", str(files["train"]), "--out", str(tmp_path / "r"),
                  "--models", "big,gpt-9", ok=False)
    assert "no outcome in the training data for 'gpt-9'" in unknown
    unpriced = run("router", "train", "--data", str(files["train"]), "--out", str(tmp_path / "r"), ok=False)
    assert "no price for model 'big'" in unpriced and "--prices FILE" in unpriced
    (tmp_path / "p.yaml").write_text("big: {input: 1, outptu: 2}\n")
    typo = run("router", "train", "--data", str(files["train"]), "--out", str(tmp_path / "r"),
               "--prices", str(tmp_path / "p.yaml"), ok=False)
    assert "p.yaml: big: unknown key(s) outptu" in typo


def test_a_byte_order_mark_is_read_as_the_same_rows(files: dict[str, Path], tmp_path: Path) -> None:
    """Editors on Windows save UTF-8 with a BOM; the rows are the same rows."""
    plain = files["test"].read_bytes()
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + plain)
    for args in (["choose", "--threshold", "0.9"], ["eval", "--threshold", "0.9", "--json"]):
        assert run("router", args[0], "--router", str(files["router"]), "--data", str(bom), *args[1:]) == \
            run("router", args[0], "--router", str(files["router"]), "--data", str(files["test"]), *args[1:])
    out = run("router", "train", "--data", str(bom), "--out", str(tmp_path / "r"), "--prices", str(files["prices"]))
    assert "trained on 120 rows" in out


def test_data_given_twice_reads_both_files(files: dict[str, Path], tmp_path: Path) -> None:
    """A repeated --data adds a file (as train's does), never silently replaces the first."""
    first = router_data.write(tmp_path / "a.jsonl", [{"id": "a", "prompt": "What is the capital of Japan?"}])
    second = router_data.write(tmp_path / "b.jsonl", [{"id": "a", "prompt": "Prove the theorem: 7 is prime."}])
    out = run("router", "choose", "--router", str(files["router"]), "--data", str(first), "--data", str(second),
              "--threshold", "0.9")
    assert [json.loads(line) for line in out.splitlines()] == [{"id": "a", "model": "small"}, {"id": "a", "model": "big"}]
    both = run("router", "eval", "--router", str(files["router"]), "--data", str(files["test"]), "--data", str(first),
               "--threshold", "0.9")
    assert both.startswith("121 rows, 120 with outcomes")


def test_train_on_files_with_different_models_says_how_many_rows_scored_each(files: dict[str, Path], tmp_path: Path) -> None:
    rows = router_data.rows(200, seed=3)
    only_big = router_data.write(tmp_path / "big.jsonl", [{**r, "outcomes": {"big": 1.0}} for r in rows[:50]])
    both = router_data.write(tmp_path / "both.jsonl", rows[50:])
    out = run("router", "train", "--data", str(only_big), "--data", str(both), "--out", str(tmp_path / "r"),
              "--prices", str(files["prices"]))
    assert "trained on 200 rows" in out
    assert "big: mean score 1.000 on 200 rows" in out and "small: mean score" in out and "on 150 rows" in out


def test_models_that_name_nothing_is_a_usage_error(files: dict[str, Path], tmp_path: Path) -> None:
    out = run("router", "train", "--data", str(files["train"]), "--out", str(tmp_path / "r"), "--models", " , ", ok=False)
    assert "--models names no model" in out


def test_training_on_prompts_alone_names_the_files(files: dict[str, Path], tmp_path: Path) -> None:
    prompts = router_data.write(tmp_path / "p.jsonl", [{"id": 1, "prompt": "hi"}, {"id": 2, "outcomes": {"big": None},
                                                                                   "prompt": "ho"}])
    out = run("router", "train", "--data", str(prompts), "--out", str(tmp_path / "r"), ok=False)
    assert f"Error: {prompts}: the training data has no outcomes" in out
