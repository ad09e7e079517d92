"""Settings: environment over the stack's state file, with errors that name the variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from complaintflow.config import ConfigError, load_settings, settings_env

BASE = {"CF_KAFKA_BOOTSTRAP": "127.0.0.1:9092", "CF_CLICKHOUSE_HOST": "127.0.0.1",
        "CF_CLICKHOUSE_PORT": "9000"}


def test_environment_gives_every_setting(tmp_path: Path):
    settings = load_settings({**BASE, "CF_API_PORT": "8081", "CF_PROFILE": "kafka",
                              "CF_SLA_POLICY": "p.yaml"}, state_dir=tmp_path)
    assert (settings.clickhouse_port, settings.api_url, settings.profile) == \
        (9000, "http://127.0.0.1:8081", "kafka")
    assert settings.sla_policy == Path("p.yaml")


def test_stack_state_file_fills_what_the_environment_leaves_out(tmp_path: Path):
    (tmp_path / "state.json").write_text(json.dumps({"endpoints": {
        "kafka_bootstrap": "127.0.0.1:1111", "clickhouse_host": "127.0.0.1",
        "clickhouse_port": 2222, "api_url": "http://127.0.0.1:3333"}}))
    settings = load_settings({"CF_CLICKHOUSE_PORT": "4444"}, state_dir=tmp_path)
    assert (settings.kafka_bootstrap, settings.clickhouse_port, settings.api_port) == \
        ("127.0.0.1:1111", 4444, 3333)


@pytest.mark.parametrize(("env", "message"), [
    ({}, "CF_KAFKA_BOOTSTRAP, CF_CLICKHOUSE_HOST, CF_CLICKHOUSE_PORT not set"),
    ({**BASE, "CF_CLICKHOUSE_PORT": "ninety"}, "CF_CLICKHOUSE_PORT must be a port number"),
    ({**BASE, "CF_API_PORT": "70000"}, "CF_API_PORT must be between 1 and 65535"),
    ({**BASE, "CF_PROFILE": "prod"}, "CF_PROFILE must be one of"),
])
def test_bad_settings_name_the_variable(tmp_path: Path, env: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        load_settings(env, state_dir=tmp_path)


def test_settings_env_round_trips(tmp_path: Path):
    settings = load_settings({**BASE, "CF_API_TOKEN": "t"}, state_dir=tmp_path)
    assert load_settings(settings_env(settings)) == \
        load_settings({**BASE, "CF_API_TOKEN": "t"}, state_dir=tmp_path.resolve())
