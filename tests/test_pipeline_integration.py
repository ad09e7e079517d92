"""End to end on the real local stack: HTTP intake → Tansu → Faust → ClickHouse."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from kafka import KafkaConsumer

from complaintflow import stack
from complaintflow.services import start_services
from streams import topics
from streams.deadletter import DeadLetter
from streams.intake.producer import EventProducer, import_lines
from tests.conftest import eventually, post_events

pytestmark = pytest.mark.integration


def _iso(offset_s: float) -> str:
    return datetime.fromtimestamp(time.time() - 3600 + offset_s, UTC).isoformat()


def lifecycle(ticket_id: str) -> list[dict]:
    steps = [
        ("complaint.received", {"channel": "wechat", "category": "logistics",
                                "priority": "high", "customer_id": "C-int",
                                "customer_tier": "vip", "region": "shanghai"}),
        ("ticket.assigned", {"team": "logistics", "agent": "li.wei"}),
        ("ticket.first_response_sent", {"agent": "li.wei"}),
        ("ticket.resolved", {"resolution_code": "reshipped"}),
        ("ticket.customer_confirmed", {}),
    ]
    return [{"event_type": t, "event_id": f"{ticket_id}-{n}", "ticket_id": ticket_id,
             "occurred_at": _iso(n * 60), **data} for n, (t, data) in enumerate(steps)]


def ticket_row(clickhouse, ticket_id: str) -> dict | None:
    rows = clickhouse.execute(
        "SELECT status, version, team, transfer_count, first_response_at IS NOT NULL "
        "FROM tickets FINAL WHERE ticket_id = %(t)s", {"t": ticket_id})
    return dict(zip(("status", "version", "team", "transfers", "responded"), rows[0],
                    strict=True)) if rows else None


def counts(clickhouse) -> dict[str, int]:
    archived, applied, dead = clickhouse.execute(
        "SELECT (SELECT uniqExact(event_id) FROM complaint_events),"
        " (SELECT sum(version) FROM tickets FINAL),"
        " (SELECT count() FROM dead_letters FINAL WHERE stage = 'ticket_state')")[0]
    tickets = clickhouse.execute("SELECT count() FROM tickets FINAL")[0][0]
    return {"archived": archived, "applied": applied, "dead_lettered": dead, "tickets": tickets}


def settled(clickhouse, archived: int):
    """Counts once every archived event is applied or dead-lettered."""
    def check():
        now = counts(clickhouse)
        balanced = now["archived"] == now["applied"] + now["dead_lettered"]
        return now if now["archived"] >= archived and balanced else None
    return eventually(check, timeout=90)


def find_dead_letter(settings, event_id: str) -> DeadLetter | None:
    consumer = KafkaConsumer(topics.DLQ.name, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        for message in consumer:
            letter = DeadLetter.from_json(message.value)
            if letter.event_id == event_id:
                return letter
    finally:
        consumer.close()
    return None


def test_lifecycle_posted_over_http_ends_closed_in_clickhouse(local_stack, clickhouse):
    status, body = post_events(local_stack, lifecycle("IT-closed"))
    assert status == 202
    assert body["accepted"] == [f"IT-closed-{n}" for n in range(5)]
    row = eventually(lambda: (r := ticket_row(clickhouse, "IT-closed")) and
                     r["status"] == "closed" and r)
    assert row == {"status": "closed", "version": 5, "team": "logistics", "transfers": 0,
                   "responded": 1}


def test_bad_event_gets_400_naming_the_field(local_stack):
    bad = lifecycle("IT-bad")[:1]
    bad[0]["channel"] = "carrier-pigeon"
    status, body = post_events(local_stack, bad)
    assert status == 400
    assert body["errors"][0]["field"] == "channel"
    assert body["errors"][0]["index"] == 0


def test_missing_token_gets_401(local_stack):
    status, _ = post_events(local_stack, lifecycle("IT-auth")[:1], token=None)
    assert status == 401


def test_invalid_transition_lands_on_the_dlq_with_its_reason(local_stack, clickhouse):
    events = lifecycle("IT-dlq")[:2] + [{
        "event_type": "ticket.customer_confirmed", "event_id": "IT-dlq-confirm-early",
        "ticket_id": "IT-dlq", "occurred_at": _iso(500)}]
    assert post_events(local_stack, events)[0] == 202
    letter = eventually(lambda: find_dead_letter(local_stack, "IT-dlq-confirm-early"))
    assert letter.stage == "ticket_state"
    assert "only a resolved ticket can be confirmed" in letter.reason
    assert letter.source_topic == topics.EVENTS.name
    stored = eventually(lambda: clickhouse.execute(
        "SELECT reason FROM dead_letters FINAL WHERE event_id = 'IT-dlq-confirm-early'"))
    assert "assigned" in stored[0][0]


def test_same_batch_twice_changes_no_count_and_counts_reconcile(local_stack, clickhouse):
    batch = lifecycle("IT-twice") + [{"event_type": "ticket.reopened", "event_id": "IT-x-1",
                                      "ticket_id": "IT-unknown", "occurred_at": _iso(0)}]
    status, first = post_events(local_stack, batch)
    assert status == 202
    before = settled(clickhouse, counts(clickhouse)["archived"] + len(batch))
    status, second = post_events(local_stack, batch)
    assert (status, second) == (202, first)
    time.sleep(3)  # give a re-delivery every chance to be (wrongly) counted
    after = settled(clickhouse, before["archived"])
    assert after == before
    assert after["archived"] == after["applied"] + after["dead_lettered"]


def test_bulk_import_sends_valid_lines_and_dead_letters_bad_ones(local_stack, clickhouse):
    good = lifecycle("IT-bulk")[:2]
    lines = [json.dumps(e) for e in good] + ['{"event_type": "ticket.nope"}']
    producer = EventProducer(local_stack.kafka_bootstrap)
    try:
        summary = import_lines(lines, producer, origin="bulk.jsonl")
    finally:
        producer.close()
    assert (summary.sent, summary.dead_lettered) == (2, 1)
    assert "bulk.jsonl:3" in summary.problems[0] and "ticket.nope" in summary.problems[0]
    eventually(lambda: (r := ticket_row(clickhouse, "IT-bulk")) and r["status"] == "assigned")
    intake_letters = eventually(lambda: clickhouse.execute(
        "SELECT field, reason FROM dead_letters FINAL WHERE stage = 'intake'"
        " AND source_topic = 'bulk.jsonl'"))
    assert intake_letters[0][0] == "event_type"


def test_ticket_state_survives_a_worker_restart(local_stack, clickhouse):
    events = lifecycle(f"IT-restart-{uuid.uuid4().hex[:6]}")
    ticket_id = events[0]["ticket_id"]
    assert post_events(local_stack, events[:3])[0] == 202
    eventually(lambda: (r := ticket_row(clickhouse, ticket_id)) and r["version"] == 3)
    stack.stop_service(local_stack.state_dir, "worker")
    start_services(local_stack, names=("worker",))
    assert post_events(local_stack, events[3:])[0] == 202
    # Version 5 is only reachable if the restarted worker still holds versions 1–3.
    row = eventually(lambda: (r := ticket_row(clickhouse, ticket_id)) and
                     r["status"] == "closed" and r, timeout=120)
    assert row["version"] == 5
