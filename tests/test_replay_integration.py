"""Replay and restore on the real local stack (Tansu + ClickHouse + api, worker, projector).

The stack here is this module's own (not the session's): the tests stop it and start a new
broker, whose log is empty, while ClickHouse keeps its data. What the projections show before
must come back after: through `stack up` (which restores the broker from the archive),
through `replay --from-archive` (twice: the same result each time), and through `replay`.

Events are dated in the minutes before the tests start and every SLA threshold of a clock
left running lies 10 minutes or more ahead, so no warning or breach falls due while the tests
run, live or in a replay: the results depend on the events alone, as a replay's must. (A
clock whose deadline passed before a replay is announced breached once the worker has caught
up, dated at its deadline, just as live; but a late event then retracts a breach that live
processing announced and a replay never does, so such histories are not compared here.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clickhouse_driver import Client

from complaintflow import stack
from complaintflow.config import Settings, load_settings
from complaintflow.services import clickhouse_client, migrate_clickhouse, start_services
from projections.report import format_report, kpi_report, reconciliation
from projections.rows import SLA_OUTCOMES_TABLE, TICKETS
from tests.conftest import API_TOKEN, FAST_SLA_POLICY, eventually, post_events

pytestmark = pytest.mark.integration

SETTLE_TIMEOUT_S = 120.0
TICKET = {"channel": "wechat", "category": "logistics", "priority": "high",
          "customer_id": "C-replay", "customer_tier": "vip", "region": "shanghai"}


def _event(base_s: float, ticket_id: str, n: int, event_type: str, minute: float,
           **data: Any) -> dict:
    occurred = datetime.fromtimestamp(base_s + minute * 60, UTC).isoformat()
    return {"event_type": event_type, "event_id": f"{ticket_id}-{n}", "ticket_id": ticket_id,
            "occurred_at": occurred, **data}


def batch_a(base_s: float) -> list[dict]:
    """First responses are due 30 min after receipt (high priority, fast test policy),
    resolutions 24 h after: with the events dated in the 5 minutes before the test starts,
    the first threshold of a running clock (50%, at 15 min) is 10 minutes away."""
    e = _event
    return [
        e(base_s, "R-closed", 0, "complaint.received", 0.0, **TICKET),
        e(base_s, "R-closed", 1, "ticket.assigned", 0.2, team="logistics", agent="li.wei"),
        e(base_s, "R-closed", 2, "ticket.first_response_sent", 0.4, agent="li.wei"),
        e(base_s, "R-closed", 3, "ticket.resolved", 0.6, resolution_code="reshipped"),
        e(base_s, "R-closed", 4, "ticket.customer_confirmed", 0.8),
        e(base_s, "R-open", 0, "complaint.received", 1.0, **TICKET),
        e(base_s, "R-open", 1, "ticket.assigned", 1.2, team="logistics", agent="wang.fang"),
        e(base_s, "R-resolved", 0, "complaint.received", 1.4, **{**TICKET, "category": "billing"}),
        e(base_s, "R-resolved", 1, "ticket.assigned", 1.6, team="billing", agent="zhao.lei"),
        e(base_s, "R-resolved", 2, "ticket.first_response_sent", 1.8, agent="zhao.lei"),
        e(base_s, "R-resolved", 3, "ticket.resolved", 2.0, resolution_code="refund"),
        e(base_s, "R-dlq", 0, "complaint.received", 2.2, **TICKET),
        e(base_s, "R-dlq", 1, "ticket.customer_confirmed", 2.4),  # not resolved: dead letter
    ]


def batch_b(base_s: float) -> list[dict]:
    """After the first restore, the same tickets go on."""
    e = _event
    return [
        e(base_s, "R-resolved", 4, "ticket.customer_confirmed", 4.0),
        e(base_s, "R-open", 2, "ticket.first_response_sent", 4.2, agent="wang.fang"),
        e(base_s, "R-open", 3, "ticket.resolved", 4.4, resolution_code="reshipped"),
        e(base_s, "R-closed", 5, "ticket.reopened", 4.6),
    ]


VERSIONS_A = {"R-closed": 5, "R-open": 2, "R-resolved": 4, "R-dlq": 1}
VERSIONS_B = {"R-closed": 6, "R-open": 4, "R-resolved": 5, "R-dlq": 1}


# ---------------------------------------------------------------- what the projections show


def _columns(table: str, columns: tuple[str, ...], order: str):
    return f"SELECT {', '.join(columns)} FROM {table} FINAL ORDER BY {order}"


def snapshot(client: Client) -> dict[str, Any]:
    """Everything a replay must reproduce (not ingest times, nor Kafka positions)."""
    return {
        "tickets": client.execute(_columns("tickets", TICKETS.columns, "ticket_id")),
        "sla_outcomes": client.execute(_columns("sla_outcomes", SLA_OUTCOMES_TABLE.columns,
                                                "ticket_id, metric, cycle")),
        "sla_events": client.execute(
            "SELECT event_id, event_type, ticket_id, occurred_at_ms, caused_by, metric, cycle "
            "FROM sla_events FINAL ORDER BY event_id"),
        "dead_letters": client.execute(
            "SELECT dlq_id, stage, reason, event_id FROM dead_letters FINAL ORDER BY dlq_id"),
        "report": format_report(kpi_report(client)),
    }


def versions(client: Client) -> dict[str, int]:
    return dict(client.execute("SELECT ticket_id, version FROM tickets FINAL"))


# ---------------------------------------------------------------- the module's own stack


@dataclass
class Lab:
    state_dir: Path
    settings: Settings | None = None
    clients: list[Client] = field(default_factory=list)
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # snapshots by stage
    base_s: float = field(default_factory=lambda: time.time() - 5 * 60)  # events' time 0

    def client(self) -> Client:
        assert self.settings is not None
        client = clickhouse_client(self.settings)
        self.clients.append(client)
        return client

    def down(self) -> None:
        # ClickHouse 18.16 takes ~10 s to stop while a client is still connected.
        for client in self.clients:
            client.disconnect()
        self.clients.clear()
        stack.down(self.state_dir)
        self.settings = None

    def up(self, restore: bool) -> subprocess.CompletedProcess | None:
        """restore: `complaintflow stack up` (the CLI, which restores a new broker); else
        stack.up() alone, which leaves the new broker empty."""
        done = None
        if restore:
            done = self.cli("stack", "up", "--state-dir", str(self.state_dir), state=False)
            assert done.returncode == 0, done.stderr
        else:
            stack.up(self.state_dir)
        self.settings = load_settings(env={"CF_API_TOKEN": API_TOKEN,
                                           "CF_SLA_POLICY": str(FAST_SLA_POLICY)},
                                      state_dir=self.state_dir)
        migrate_clickhouse(self.settings)
        return done

    def start_services(self) -> float:
        assert self.settings is not None
        started = time.monotonic()
        start_services(self.settings)
        return time.monotonic() - started

    def cli(self, *args: str, state: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CF_")}
        if state:
            env["CF_STATE_DIR"] = str(self.state_dir)
        return subprocess.run([sys.executable, "-m", "complaintflow.cli", *args], env=env,
                              capture_output=True, text=True, timeout=180)

    def settled(self, expected: dict[str, Any] | None = None,
                expected_versions: dict[str, int] | None = None) -> dict[str, Any]:
        """The snapshot once it equals `expected`, or (without one) once the tickets have
        their versions, the counts reconcile and two snapshots 2 s apart agree."""
        client = self.client()
        if expected is not None:
            def check() -> dict[str, Any] | None:
                now = snapshot(client)
                return now if now == expected else None
            try:
                return eventually(check, timeout=SETTLE_TIMEOUT_S, interval=1.0)
            except AssertionError:
                _assert_same(snapshot(client), expected)  # the difference, table by table
                raise
        last: dict[str, Any] = {}

        def stable() -> dict[str, Any] | None:
            nonlocal last
            now = snapshot(client)
            ready = (versions(client) == expected_versions
                     and reconciliation(client)["balanced"] and now == last)
            last = now
            return now if ready else None

        return eventually(stable, timeout=SETTLE_TIMEOUT_S, interval=2.0)


def _assert_same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in expected:
        assert actual[key] == expected[key], f"{key} differs"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A stack that has processed batch A the normal way: API, worker, projector."""
    env = Lab(tmp_path_factory.mktemp("replay-stack"))
    try:
        env.up(restore=False)
        env.start_services()
        assert env.settings is not None
        batch = batch_a(env.base_s)
        assert post_events(env.settings, batch)[0] == 202
        assert post_events(env.settings, batch[1:3])[0] == 202  # a re-delivery, ignored
        env.seen["original"] = env.settled(expected_versions=VERSIONS_A)
        yield env
    finally:
        env.down()


# ---------------------------------------------------------------- the tests


def test_stack_up_restores_a_new_broker_from_the_archive_and_tickets_go_on(lab: Lab):
    original = lab.seen["original"]
    assert [row[0] for row in original["dead_letters"]] == ["R-dlq-1"]
    assert len(original["sla_outcomes"]) == 8  # first response + resolution of 4 tickets

    lab.down()
    started = time.monotonic()
    done = lab.up(restore=True)
    up_seconds = time.monotonic() - started
    assert done is not None
    endpoints = json.loads(done.stdout)
    assert endpoints["kafka_bootstrap"] == lab.settings.kafka_bootstrap
    assert "restored from the ClickHouse archive" in done.stderr
    assert f"{len(batch_a(0))} input events of 4 tickets" in done.stderr
    assert "1 pinned calendars" in done.stderr
    worker_seconds = lab.start_services()
    settled = time.monotonic()
    lab.seen["restored"] = lab.settled(expected=original)
    print(f"\nstack up with restore {up_seconds:.1f} s, services {worker_seconds:.1f} s, "
          f"rebuilt in {time.monotonic() - settled:.1f} s; {done.stderr.strip()}")

    # The restored worker holds the tickets' state: their versions go on.
    assert post_events(lab.settings, batch_b(lab.base_s))[0] == 202
    lab.seen["after_b"] = lab.settled(expected_versions=VERSIONS_B)
    statuses = dict(lab.client().execute("SELECT ticket_id, status FROM tickets FINAL"))
    assert statuses == {"R-closed": "reopened", "R-open": "resolved", "R-resolved": "closed",
                        "R-dlq": "new"}

    # A stack that runs is not restored again.
    again = lab.cli("stack", "up", "--state-dir", str(lab.state_dir), state=False)
    assert again.returncode == 0 and "restored" not in again.stderr


def test_replay_from_the_topics_rebuilds_the_same_projections(lab: Lab):
    before = lab.settled(expected_versions=versions(lab.client()))
    done = lab.cli("replay")
    assert done.returncode == 0, done.stderr
    assert "emptied complaint_events" in done.stderr and "kept schema_migrations" in done.stderr
    assert "replay: " in done.stderr and "/s" in done.stderr  # the progress display
    print(f"\n{done.stdout.strip()}")
    assert lab.settled(expected=before) == before

    refused = lab.cli("replay", "--from-archive")
    assert refused.returncode == 1
    assert "complaints.events is not empty" in refused.stderr


def test_two_replays_from_the_archive_give_the_same_result(lab: Lab):
    live = lab.settled(expected_versions=versions(lab.client()))
    results = []
    for _ in range(2):
        lab.down()
        lab.up(restore=False)  # a new, empty broker; ClickHouse keeps the archive
        refused = lab.cli("replay")  # the topics lack the archive: nothing is emptied
        assert refused.returncode == 1 and "replay --from-archive" in refused.stderr
        done = lab.cli("replay", "--from-archive")
        assert done.returncode == 0, done.stderr
        assert "restore: " in done.stderr  # the progress display
        print(f"\n{done.stdout.strip()}")
        lab.start_services()
        results.append(lab.settled(expected=live))
    first, second = results
    _assert_same(second, first)
    assert first["sla_events"] and [row[0] for row in first["sla_events"]] == [
        row[0] for row in live["sla_events"]]
