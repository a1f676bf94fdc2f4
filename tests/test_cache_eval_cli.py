"""costops cache eval | calibrate on small pair files whose results are known: a pair of identical
texts is served at any threshold (whatever its label says), two unrelated texts at none."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from costops.cache.semantic.embedder import StaticEmbedder
from costops.cli import main

SAME_HIT = {"a": "How do I reset my password?", "b": "How do I reset my password?", "label": "hit",
            "kind": "same", "domain": "support"}
SAME_MISS = {"a": "Convert 5 euros to US dollars.", "b": "Convert 5 euros to US dollars.", "label": "miss",
             "kind": "trap", "domain": "support"}
FAR_HIT = {"a": "What is the capital of Japan?", "b": "How do I bake sourdough bread at home?", "label": "hit",
           "kind": "far", "domain": "misc"}
FAR_MISS = {"a": "How do I raise a Kubernetes pod's memory limit?", "b": "When is the best season to visit Lisbon?",
            "label": "miss", "kind": "far", "domain": "misc"}


def _file(tmp_path, name, rows) -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _run(*args: str):
    return CliRunner().invoke(main, ["cache", *args])


def test_eval_counts_served_pairs_per_kind_and_domain(tmp_path) -> None:
    pairs = _file(tmp_path, "pairs.jsonl", [SAME_HIT, SAME_MISS, FAR_HIT, FAR_MISS])
    config = tmp_path / "costops.yaml"
    config.write_text("cache: {semantic: {threshold: 0.9, routes: {faq: 0.95}}}\n")
    result = _run("eval", "--pairs", pairs, "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["settings"]["threshold"] == 0.9 and data["settings"]["verify"] is True
    assert data["overall"] == {"pairs": 4, "hits": 2, "misses": 2, "served": 2, "served_hits": 1, "served_misses": 1,
                               "precision": 0.5, "recall": 0.5, "false_hit_rate": 0.5}
    kinds = {(k["label"], k["kind"]): (k["served"], k["recall"], k["false_hit_rate"]) for k in data["by_kind"]}
    assert kinds == {("hit", "same"): (1, 1.0, None), ("hit", "far"): (0, 0.0, None),
                     ("miss", "trap"): (1, None, 1.0), ("miss", "far"): (0, None, 0.0)}
    assert data["by_domain"]["support"]["precision"] == 0.5
    assert data["by_domain"]["misc"]["served"] == 0 and data["by_domain"]["misc"]["precision"] is None

    text = _run("eval", "--pairs", pairs, "--config", str(config), "--route", "faq")
    assert text.exit_code == 0, text.output
    assert "threshold 0.95 (cache.semantic.routes.faq), verifier on" in text.output
    assert "served 2, precision 0.500, recall 0.500, false-hit rate 0.500" in text.output
    assert "miss/trap" in text.output and "false-hit rate 1.000" in text.output


def test_eval_reads_the_old_cached_query_format_without_kinds(tmp_path) -> None:
    rows = [{"cached": r["a"], "query": r["b"], "label": r["label"]} for r in (SAME_HIT, FAR_MISS)]
    result = _run("eval", "--pairs", _file(tmp_path, "old.jsonl", rows), "--threshold", "0.9", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["overall"]["precision"], data["overall"]["recall"]) == (1.0, 1.0)
    assert data["by_kind"] == [] and data["by_domain"] == {}


def test_calibrate_finds_the_threshold_between_the_miss_and_the_hits_and_writes_it(tmp_path) -> None:
    near = {"a": "How do I reset my password?", "b": "How can I reset my password, please?", "label": "hit"}
    embed = StaticEmbedder.load().embed
    c_near = float(embed(near["a"]) @ embed(near["b"]))
    c_far = float(embed(FAR_MISS["a"]) @ embed(FAR_MISS["b"]))
    assert c_far < c_near < 1.0  # the premise of the known answer below
    pairs = _file(tmp_path, "pairs.jsonl", [SAME_HIT, near, FAR_MISS])
    config = tmp_path / "costops.yaml"
    config.write_text("# my gateway\nserver: {port: 4100}\ncache:\n  semantic: {verify: false}\n")

    result = _run("calibrate", "--pairs", pairs, "--target-precision", "1", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert c_far < data["threshold"] <= c_near
    assert (data["precision"], data["recall"], data["served"], data["written"]) == (1.0, 1.0, 2, False)

    result = _run("calibrate", "--pairs", pairs, "--target-precision", "0.99", "--config", str(config), "--write")
    assert result.exit_code == 0, result.output
    assert "reaches precision 1.000 (target 0.99)" in result.output and "recall 1.000" in result.output
    written = yaml.safe_load(config.read_text())
    assert c_far < written["cache"]["semantic"]["threshold"] <= c_near
    assert written["server"] == {"port": 4100} and written["cache"]["semantic"]["verify"] is False
    assert (tmp_path / "costops.yaml.bak").read_text().startswith("# my gateway")
    again = json.loads(_run("eval", "--pairs", pairs, "--config", str(config), "--json").output)
    assert (again["overall"]["precision"], again["overall"]["recall"]) == (1.0, 1.0)

    result = _run("calibrate", "--pairs", pairs, "--target-precision", "0.99", "--config", str(config),
                  "--route", "faq", "--write")
    assert result.exit_code == 0, result.output
    routes = yaml.safe_load(config.read_text())["cache"]["semantic"]["routes"]
    assert c_far < routes["faq"] <= c_near


def test_calibrate_says_when_no_threshold_reaches_the_target(tmp_path) -> None:
    pairs = _file(tmp_path, "pairs.jsonl", [SAME_HIT, SAME_MISS, FAR_MISS])
    result = _run("calibrate", "--pairs", pairs, "--target-precision", "0.9")
    assert result.exit_code == 1
    assert "No threshold in (0, 1] reaches precision 0.9" in result.output
    assert "the best is precision 0.500" in result.output


def test_bad_pair_files_and_options_get_messages_naming_the_fix(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(SAME_HIT) + "\n" + json.dumps({**SAME_HIT, "label": "maybe"}) + "\n")
    result = _run("eval", "--pairs", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:2: 'label' is 'maybe'; it must be 'hit'" in result.output
    bad.write_text('{"a": "x"}\n')
    assert "'a' (the cached prompt) and 'b' (the new one) must be non-empty strings" in _run("eval", "--pairs", str(bad)).output
    bad.write_text("not json\n")
    assert f"{bad}:1: not JSON" in _run("eval", "--pairs", str(bad)).output

    pairs = _file(tmp_path, "pairs.jsonl", [SAME_HIT, FAR_MISS])
    result = _run("calibrate", "--pairs", pairs, "--target-precision", "0.98", "--write")
    assert result.exit_code == 2 and "--write needs --config FILE" in result.output
    toml = tmp_path / "costops.toml"
    toml.write_text("[cache.semantic]\nverify = true\n")
    result = _run("calibrate", "--pairs", pairs, "--target-precision", "0.98", "--config", str(toml), "--write")
    assert result.exit_code == 1 and "--write edits YAML configs only" in result.output
    assert toml.read_text() == "[cache.semantic]\nverify = true\n"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("cache: {semantic: {threshold: 2}}\n")
    result = _run("eval", "--pairs", pairs, "--config", str(wrong))
    assert result.exit_code == 1 and "cache.semantic.threshold: 2 must be a number in (0, 1]" in result.output
