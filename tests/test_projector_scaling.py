"""Two `complaintflow project` processes in one consumer group, on the session's stack.

The stack already runs one projector; a second joins (a rebalance), events are posted over
HTTP, and the counts reconcile exactly; then the second is stopped by PID without a
goodbye (its partitions come back after the session timeout, its unflushed work is
re-read by the first) and the counts reconcile again.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from complaintflow import stack
from complaintflow.config import Settings, settings_env
from complaintflow.processes import free_loopback_ports
from tests.conftest import eventually, post_events

pytestmark = pytest.mark.integration

SECOND = "project-2"
TICKETS_PER_ROUND = 16


def _iso(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=2) + timedelta(minutes=minutes)).isoformat()


def _ticket(ticket_id: str, refused: bool) -> list[dict]:
    """Five valid events (version 5 at the end), and optionally a refused confirmation."""
    steps = [
        ("complaint.received", {"channel": "phone", "category": "billing",
                                "priority": "normal", "customer_id": f"C-{ticket_id}",
                                "customer_tier": "regular", "region": "north"}),
        ("ticket.assigned", {"team": "billing", "agent": "an"}),
        ("ticket.first_response_sent", {"agent": "an"}),
        ("ticket.resolved", {"resolution_code": "refund"}),
        ("ticket.customer_confirmed", {}),
    ]
    events = [{"event_type": t, "event_id": f"{ticket_id}-{n}", "ticket_id": ticket_id,
               "occurred_at": _iso(n * 10), **data} for n, (t, data) in enumerate(steps)]
    if refused:  # confirmed before it was resolved: the ticket processor dead-letters it
        events.insert(2, {"event_type": "ticket.customer_confirmed",
                          "event_id": f"{ticket_id}-early", "ticket_id": ticket_id,
                          "occurred_at": _iso(5)})
    return events


def _post_round(settings: Settings, prefix: str) -> dict[str, int]:
    """Post a round of tickets (one batch posted twice: a re-delivery); the exact counts it
    must leave in ClickHouse."""
    expected = {"archived": 0, "tickets": 0, "applied": 0, "dead_lettered": 0}
    for n in range(TICKETS_PER_ROUND):
        refused = n % 4 == 0
        events = _ticket(f"{prefix}-{n:02d}", refused)
        for _ in range(2 if n == 1 else 1):
            status, body = post_events(settings, events)
            assert status == 202, body
        expected["archived"] += len(events)
        expected["tickets"] += 1
        expected["applied"] += 5
        expected["dead_lettered"] += refused
    return expected


def _counts(clickhouse, prefix: str) -> dict[str, int]:
    like = {"p": f"{prefix}-%"}
    [(archived, archived_rows)] = clickhouse.execute(
        "SELECT uniqExact(event_id), count() FROM complaint_events FINAL "
        "WHERE ticket_id LIKE %(p)s", like)
    [(tickets, applied)] = clickhouse.execute(
        "SELECT count(), sum(version) FROM tickets FINAL WHERE ticket_id LIKE %(p)s", like)
    [(dead,)] = clickhouse.execute(
        "SELECT count() FROM dead_letters FINAL WHERE stage = 'ticket_state' "
        "AND ticket_id LIKE %(p)s", like)
    assert archived_rows == archived  # FINAL leaves one row per event, re-deliveries or not
    return {"archived": archived, "tickets": tickets, "applied": applied,
            "dead_lettered": dead}


def _metric(port: int, name: str) -> float:
    """The sum of a metric's samples on a process's /metrics (0 when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0.0
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == name)


def test_two_projector_processes_share_the_partitions_and_counts_reconcile(
        local_stack: Settings, clickhouse) -> None:
    prefix = f"SCALE-{uuid.uuid4().hex[:6]}"
    [port] = free_loopback_ports(1)
    stack.spawn_service(local_stack.state_dir, SECOND,
                        [sys.executable, "-m", "complaintflow.cli", "project",
                         "--metrics-port", str(port)], env=settings_env(local_stack))
    try:
        # Joined and given its share: the session's projector gave partitions up for it.
        eventually(lambda: _metric(port, "projector_assigned_partitions") > 0, timeout=60)
        expected = _post_round(local_stack, f"{prefix}-a")
        eventually(lambda: _counts(clickhouse, f"{prefix}-a") == expected, timeout=120)
        # The second process wrote rows of these tickets' events (its own partitions).
        eventually(lambda: _metric(port, "projector_rows_total") > 0, timeout=30)
    finally:
        stack.stop_service(local_stack.state_dir, SECOND)

    # One projector again: it takes every partition back and misses nothing.
    expected_b = _post_round(local_stack, f"{prefix}-b")
    eventually(lambda: _counts(clickhouse, f"{prefix}-b") == expected_b, timeout=120)
    assert _counts(clickhouse, f"{prefix}-a") == expected
