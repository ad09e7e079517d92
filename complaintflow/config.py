"""One validated settings object, read from the environment (and the local stack's state)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("local", "kafka")
WORKER_DATA_DIR = "worker-data"  # under the state dir: the Faust worker's RocksDB tables


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    clickhouse_host: str
    clickhouse_port: int
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_token: str | None = None
    # "local": workarounds for the Tansu broker (docs/local-stack.md); "kafka": Kafka defaults.
    profile: str = "local"
    state_dir: Path = Path(".stack")
    sla_policy: Path | None = None  # None: the packaged default policy
    alertmanager_url: str | None = None  # for the alert bridge, e.g. http://127.0.0.1:9093
    ticket_retention_days: float = 30.0  # a closed ticket's state leaves the worker after

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def worker_data_dir(self) -> Path:
        return self.state_dir / WORKER_DATA_DIR


ENV_VARIABLES = {
    "kafka_bootstrap": "CF_KAFKA_BOOTSTRAP",
    "clickhouse_host": "CF_CLICKHOUSE_HOST",
    "clickhouse_port": "CF_CLICKHOUSE_PORT",
    "api_host": "CF_API_HOST",
    "api_port": "CF_API_PORT",
    "api_token": "CF_API_TOKEN",
    "profile": "CF_PROFILE",
    "state_dir": "CF_STATE_DIR",
    "sla_policy": "CF_SLA_POLICY",
    "alertmanager_url": "CF_ALERTMANAGER_URL",
    "ticket_retention_days": "CF_TICKET_RETENTION_DAYS",
}
_INTS = ("clickhouse_port", "api_port")


def load_settings(env: Mapping[str, str] | None = None,
                  state_dir: Path | None = None) -> Settings:
    """Environment variables win over the local stack's state file (`<state_dir>/state.json`)."""
    env = os.environ if env is None else env
    state_dir = state_dir or Path(env.get(ENV_VARIABLES["state_dir"], ".stack"))
    values: dict[str, object] = {"state_dir": state_dir, **_from_stack_state(state_dir)}
    for key, variable in ENV_VARIABLES.items():
        if variable in env and key != "state_dir":
            values[key] = env[variable]
    if "sla_policy" in values:
        values["sla_policy"] = Path(str(values["sla_policy"]))
    for key in _INTS:
        if key in values:
            values[key] = _port(ENV_VARIABLES[key], values[key])
    if "ticket_retention_days" in values:
        values["ticket_retention_days"] = _days(values["ticket_retention_days"])
    missing = [ENV_VARIABLES[k] for k in ("kafka_bootstrap", "clickhouse_host", "clickhouse_port")
               if k not in values]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set and no local stack is running "
                          f"(run `complaintflow stack up`, or set the variables)")
    if values.get("profile", "local") not in PROFILES:
        raise ConfigError(f"CF_PROFILE must be one of {PROFILES}, got {values['profile']!r}")
    return Settings(**values)  # type: ignore[arg-type]


def _from_stack_state(state_dir: Path) -> dict[str, object]:
    state_file = state_dir / "state.json"
    if not state_file.exists():
        return {}
    state = json.loads(state_file.read_text())
    endpoints = state.get("endpoints", state)
    values: dict[str, object] = {k: endpoints[k] for k in
                                 ("kafka_bootstrap", "clickhouse_host", "clickhouse_port")
                                 if k in endpoints}
    if "api_url" in endpoints:
        host, port = endpoints["api_url"].removeprefix("http://").rsplit(":", 1)
        values.update(api_host=host, api_port=int(port))
    return values


def _days(value: object) -> float:
    try:
        days = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        days = -1.0
    if not days > 0:
        raise ConfigError(f"CF_TICKET_RETENTION_DAYS must be a number of days above 0, "
                          f"got {value!r}")
    return days


def _port(variable: str, value: object) -> int:
    try:
        port = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"{variable} must be a port number, got {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{variable} must be between 1 and 65535, got {port}")
    return port


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load these same settings."""
    values = {key: getattr(settings, key) for key in ENV_VARIABLES}
    values["state_dir"] = settings.state_dir.resolve()
    return {ENV_VARIABLES[key]: str(value) for key, value in values.items()
            if value is not None}
