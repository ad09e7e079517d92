"""Fixtures: the real local stack (Tansu broker, ClickHouse, api, worker, projector)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from complaintflow import stack
from complaintflow.config import Settings, load_settings
from complaintflow.services import clickhouse_client, migrate_clickhouse, start_services

API_TOKEN = "integration-token"
FAST_SLA_POLICY = Path(__file__).parent / "data" / "sla_policy_fast.yaml"
T = TypeVar("T")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One stack for the whole session, stopped by PID at the end."""
    state_dir: Path = tmp_path_factory.mktemp("stack")
    try:
        stack.up(state_dir)
        settings = load_settings(env={"CF_API_TOKEN": API_TOKEN,
                                      "CF_SLA_POLICY": str(FAST_SLA_POLICY)},
                                 state_dir=state_dir)
        migrate_clickhouse(settings)
        start_services(settings)
        yield settings
    finally:
        stack.down(state_dir)


@pytest.fixture
def clickhouse(local_stack: Settings):
    return clickhouse_client(local_stack)


def post_events(settings: Settings, payload: Any, token: str | None = API_TOKEN
                ) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(f"{settings.api_url}/v1/events", data=body,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def eventually(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.5) -> T:
    """Poll until check() returns a truthy value; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    assert value, f"condition not met within {timeout}s (last value: {value!r})"
    return value
