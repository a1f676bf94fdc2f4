"""Configuration: standard env vars, strict file loading, errors that name the key, bind safety."""

from __future__ import annotations

import hashlib

import pytest

from costops.config import ConfigError, load_config, reject_unknown
from costops.errors import BadRequest, Unauthorized, UnknownModel
from costops.gateway.principal import authenticate, credential, parse_tag_header, request_tags
from costops.gateway.resolve import resolve_model


def test_zero_config_reads_the_ecosystem_variables() -> None:
    config = load_config(env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1/", "OPENAI_API_KEY": "sk-1", "COSTOPS_DB": "sqlite:///x.db"})
    openai = config.deployment("openai")
    assert openai.base_url == "http://127.0.0.1:9/v1" and openai.api_key == "sk-1"
    assert config.deployment("anthropic").base_url == "https://api.anthropic.com"
    assert config.ledger.db == "sqlite:///x.db"
    assert config.server.host == "127.0.0.1"


def test_models_resolve_to_their_family_aliases_and_named_deployments(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "deployments:\n"
        "  - {name: groq, kind: openai, base_url: 'http://127.0.0.1:1/openai/v1', models: ['llama-*'], price_provider: groq}\n"
        "aliases: {fast: gpt-4o-mini, local: groq/llama-3.1-8b-instant}\n"
    )
    config = load_config(path, env={})
    assert resolve_model(config, "claude-3-5-haiku-latest")[0].name == "anthropic"
    assert resolve_model(config, "gemini-2.5-flash")[0].name == "gemini"
    assert resolve_model(config, "fast") == (config.deployment("openai"), "gpt-4o-mini")
    assert resolve_model(config, "local") == (config.deployment("groq"), "llama-3.1-8b-instant")
    assert resolve_model(config, "llama-3.3-70b")[0].name == "groq"
    with pytest.raises(UnknownModel, match="not served by any deployment"):
        resolve_model(config, "mystery-model")


@pytest.mark.parametrize(
    "text, message",
    [
        ("servr: {}\n", r"servr: unknown setting"),
        ("deployments:\n  - {name: x, kind: cohere}\n", r"deployments\[0\]\.kind: 'cohere' is not one of"),
        ("deployments:\n  - {name: x, base_ur: y}\n", r"deployments\[0\]\.base_ur: unknown setting"),
        ("keys:\n  - {tenant: a}\n", r"keys\[0\]: give exactly one of 'key'"),
        ("prices:\n  - {model: m, input: 1}\n", r"prices\[0\]: missing 'output'"),
        ("deployments:\n  - {name: a, discount_pct: 150}\n", r"discount_pct: must be between 0 and 100"),
        ("ledger: {db: '${NOPE}'}\n", r"ledger.db: environment variable NOPE is not set"),
        ("- just a list\n", r"top level must be a mapping"),
        ("redis: {url: 'http://x'}\n", r"redis.url: 'http://x' is not a redis:// URL"),
        ("redis: {url: 'redis://x', db: 2}\n", r"redis.db: unknown setting"),
    ],
)
def test_bad_config_names_the_setting_to_change(tmp_path, text, message) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


def test_a_network_bind_without_virtual_keys_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no virtual keys are configured"):
        load_config(env={}, host="0.0.0.0").check_bind()
    load_config(env={}, host="127.0.0.1").check_bind()
    path = tmp_path / "c.toml"
    path.write_text('[[keys]]\nkey = "sk-team-a"\ntenant = "a"\n')
    load_config(path, env={}, host="0.0.0.0").check_bind()  # keys configured: allowed


def test_virtual_keys_authenticate_by_secret_or_digest(tmp_path) -> None:
    digest = hashlib.sha256(b"sk-b").hexdigest()
    path = tmp_path / "c.yaml"
    path.write_text(
        f"keys:\n  - {{id: a, key: sk-a, tenant: acme, project: bot, tags: {{team: x}}}}\n"
        f"  - {{id: b, key_sha256: {digest}, tenant: globex, models: ['gpt-4o*']}}\n"
    )
    config = load_config(path, env={})
    assert authenticate(config, "sk-a")[0].tenant == "acme"
    key_b = authenticate(config, "sk-b")[0]
    assert key_b.id == "b" and key_b.allows("gpt-4o-mini") and not key_b.allows("claude-3-opus")
    with pytest.raises(Unauthorized, match="invalid API key"):
        authenticate(config, "sk-wrong")
    with pytest.raises(Unauthorized, match="missing API key"):
        authenticate(config, None)


def test_credentials_come_from_any_sdk_header() -> None:
    assert credential("Bearer sk-1", None, None) == "sk-1"
    assert credential(None, "sk-2", None) == "sk-2"
    assert credential(None, None, "g-3") == "g-3"
    assert credential("Basic abc", None, None) is None


def test_tags_merge_key_defaults_body_metadata_and_header() -> None:
    from costops.config import VirtualKey

    key = VirtualKey(id="k", key_sha256="", tenant="t", tags={"env": "prod", "team": "a"})
    tags, user = request_tags(key, "feature=search, env=staging", {"metadata": {"team": "b", "run": 3}, "user": "u-9"})
    assert tags == {"env": "staging", "team": "b", "run": "3", "feature": "search"}
    assert user == "u-9"
    _, user = request_tags(key, None, {"metadata": {"user_id": "anthropic-user"}})
    assert user == "anthropic-user"
    with pytest.raises(BadRequest, match="is not name=value"):
        parse_tag_header("feature")


def test_reject_unknown_names_the_first_key_written_and_every_known_spelling() -> None:
    """One helper serves every parser: the same message shape, the first typo in the order written."""
    reject_unknown({"ttl": 1}, {"ttl", "place"}, "cache.exact")  # known keys pass
    with pytest.raises(ConfigError) as err:
        reject_unknown({"zz": 1, "ttl": 1, "aa": 2}, {"ttl", "place"}, "cache.exact")
    assert str(err.value) == "cache.exact.zz: unknown setting (known: place, ttl)"
    with pytest.raises(ConfigError) as err:
        reject_unknown({"servr": {}}, {"server"}, "")
    assert str(err.value) == "servr: unknown setting (known: server)"
    with pytest.raises(ConfigError) as err:
        reject_unknown({"jsn": True}, {"json"}, "routing.policies.p.accept", "check")
    assert str(err.value) == "routing.policies.p.accept.jsn: unknown check (known: json)"
