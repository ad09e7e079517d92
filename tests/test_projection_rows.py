"""Message → row mapping and the sink's batching rules, without ClickHouse."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from clickhouse_driver.errors import NetworkError

from projections.rows import (
    COMPLAINT_EVENTS,
    DEAD_LETTERS,
    SLA_EVENTS,
    SLA_OUTCOMES_TABLE,
    TABLES,
    TICKETS,
    Position,
    Table,
    UnprojectableMessage,
    rows_for_message,
    undecodable_letter,
)
from projections.sink import BatchingSink, SinkError
from schemas import serde
from schemas.event import Event
from streams import topics
from streams.deadletter import DeadLetter
from streams.sla.clock import advance, on_ticket_state
from streams.sla.holiday_gaps import HolidayNotices, holiday_gaps
from streams.sla.policy import load_default_policy
from streams.sla.registry import calendar_record
from streams.tickets.model import evolve, state_changed_event
from tests.factories import event as input_event

T0_MS = 1_772_438_400_123  # 2026-03-02 08:00:00.123 UTC
T0_S = 1_772_438_400
INGESTED = 1_772_500_000


def as_dict(table: Table, row: tuple[Any, ...]) -> dict[str, Any]:
    assert len(row) == len(table.columns)
    return dict(zip(table.columns, row, strict=True))


def project(topic: str, raw: bytes | None, offset: int = 7) -> list[tuple[str, dict[str, Any]]]:
    rows = rows_for_message(raw, Position(topic, 2, offset), INGESTED)
    return [(table.name, as_dict(table, row)) for table, row in rows]


def received(**data: Any) -> Event:
    payload = {"channel": "wechat", "category": "logistics", "priority": "high",
               "customer_id": "c-9", "customer_tier": "vip", "region": "华东", "summary": None,
               "kind": "complaint", **data}
    return Event("e-1", "complaint.received", "t-1", T0_MS, 2, payload)


def state_changed(**state: Any) -> Event:
    data = {"status": "resolved", "version": 4, "kind": "complaint", "channel": "phone",
            "category": "billing", "priority": "normal", "customer_id": "c-1",
            "customer_tier": "regular", "region": "north", "team": "billing", "agent": None,
            "received_at": T0_MS, "first_response_at": T0_MS + 600_000,
            "first_resolved_at": T0_MS + 3_600_000, "resolved_at": T0_MS + 3_600_000,
            "closed_at": None, "updated_at": T0_MS + 3_600_000, "transfer_count": 1,
            "reopen_count": 0, "escalation_level": 0, "csat": None, "nps": 9,
            "compensation_total": 20.0, "last_event_type": "ticket.resolved",
            "resolution_code": "refund", **state}
    return Event("e-4:state", "ticket.state_changed", "t-1", T0_MS + 3_600_000, 1, data,
                 source="ticket-state", caused_by="e-4")


def sla_event(event_type: str, event_id: str = "s-1") -> Event:
    data = {"metric": "first_response", "cycle": 1, "policy_version": "2026-01",
            "calendar": "cn-business", "target_seconds": 1800, "deadline": T0_MS + 1_800_000,
            "elapsed_business_seconds": 1500, "threshold": 0.8, "reason": None,
            "team": "logistics", "priority": "high", "customer_tier": "vip",
            "category": "logistics",
            **({"outcome": "breached"} if event_type == "sla.stopped" else {})}
    return Event(event_id, event_type, "t-1", T0_MS + 1_500_000, 1, data, source="sla",
                 caused_by="e-1")


def test_every_table_row_requires_exactly_its_columns() -> None:
    with pytest.raises(ValueError, match=r"missing \['b'\], unknown \['c'\]"):
        Table("t", ("a", "b")).row(a=1, c=2)
    assert Table("t", ("a", "b")).row(b=2, a=1) == (1, 2)
    for table in TABLES:
        assert table.insert_sql == f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES"


def test_input_event_is_archived_with_its_dimensions_and_kafka_position() -> None:
    [(table, row)] = project(topics.EVENTS.name, serde.encode(received()))
    assert table == COMPLAINT_EVENTS.name
    assert row["occurred_at"] == T0_S and row["occurred_at_ms"] == T0_MS
    assert (row["channel"], row["category"], row["priority"], row["customer_tier"],
            row["region"], row["customer_id"]) == ("wechat", "logistics", "high", "vip",
                                                   "华东", "c-9")
    assert (row["kafka_partition"], row["kafka_offset"], row["ingested_at"]) == (2, 7, INGESTED)
    assert json.loads(row["payload"])["region"] == "华东"
    assert row["schema_version"] == 2 and row["source"] == "intake"


def test_dimensions_an_event_does_not_carry_are_empty_strings() -> None:
    assigned = Event("e-2", "ticket.assigned", "t-1", T0_MS, 1, {"team": "t", "agent": None})
    [(_, row)] = project(topics.EVENTS.name, serde.encode(assigned))
    assert (row["channel"], row["category"], row["region"], row["customer_id"]) == \
        ("", "", "", "")
    assert json.loads(row["payload"]) == {"agent": None, "team": "t"}


def test_ticket_state_becomes_a_versioned_ticket_row() -> None:
    [(table, row)] = project(topics.TICKET_STATE.name, serde.encode(state_changed()))
    assert table == TICKETS.name
    assert (row["ticket_id"], row["version"], row["status"]) == ("t-1", 4, "resolved")
    assert row["received_at"] == T0_S
    assert row["first_response_at"] == T0_S + 600
    assert row["closed_at"] is None
    assert (row["updated_at"], row["updated_ms"]) == (T0_S + 3600, T0_MS + 3_600_000)
    assert (row["agent"], row["csat"], row["nps"]) == ("", None, 9)
    assert row["caused_by"] == "e-4"


@pytest.mark.parametrize(("event_type", "outcome", "stopped"), [
    ("sla.started", "running", False),
    ("sla.warning", "warning", False),
    ("sla.breached", "breached", False),
    ("sla.met", "met", True),
    ("sla.paused", "paused", False),
    ("sla.resumed", "running", False),
    ("sla.breach_retracted", "retracted", False),
    ("sla.stopped", "breached", True),
])
def test_sla_event_is_archived_and_sets_its_clock_outcome(event_type: str, outcome: str,
                                                         stopped: bool) -> None:
    rows = dict(project(topics.SLA.name, serde.encode(sla_event(event_type))))
    archived, clock = rows[SLA_EVENTS.name], rows[SLA_OUTCOMES_TABLE.name]
    assert archived["event_type"] == event_type and archived["threshold"] == 0.8
    assert (clock["ticket_id"], clock["metric"], clock["cycle"]) == ("t-1", "first_response", 1)
    assert clock["outcome"] == outcome
    assert clock["deadline"] == T0_S + 1800
    assert clock["updated_ms"] == T0_MS + 1_500_000
    assert clock["stopped_at"] == (T0_S + 1500 if stopped else None)


def test_a_late_stop_leaves_its_clock_breached_with_its_stop_time() -> None:
    # The real engine: urgent (2 min on 24x7), a live breach, then a late first response.
    policy = load_default_policy()
    opened = input_event("complaint.received", ticket_id="t-1", at=T0_MS, priority="urgent")
    ticket = evolve(None, opened)
    state, slas = on_ticket_state(None, state_changed_event(ticket, opened), policy, 0)
    state, due = advance(state, T0_MS + 3 * 60_000, policy)
    reply = input_event("ticket.first_response_sent", ticket_id="t-1", at=T0_MS + 5 * 60_000)
    ticket = evolve(ticket, reply)
    _, stop = on_ticket_state(state, state_changed_event(ticket, reply), policy, 0)

    rows = [row for offset, sla in enumerate(slas + due + stop)
            for table, row in project(topics.SLA.name, serde.encode(sla), offset)
            if table == SLA_OUTCOMES_TABLE.name and row["metric"] == "first_response"]
    assert [row["outcome"] for row in rows] == [
        "running", "warning", "warning", "breached", "breached"]
    # sla_outcomes is a ReplacingMergeTree(updated_ms): FINAL reads the row with the highest
    # version, whatever order the rows were inserted in.
    latest = max(rows, key=lambda row: row["updated_ms"])
    assert [row["updated_ms"] for row in rows].count(latest["updated_ms"]) == 1
    assert (latest["outcome"], latest["stopped_at"], latest["last_event_id"]) == (
        "breached", (T0_MS + 5 * 60_000) // 1000, "t-1:first_response:1:sla.stopped:4")
    assert latest["elapsed_business_seconds"] == 300


def test_holiday_data_warning_and_pinned_calendar_get_their_own_tables() -> None:
    policy = load_default_policy()
    cn = policy.calendars["cn_business"]
    opened = input_event("complaint.received", ticket_id="t-1", at=1_798_710_600_000)
    # 2026-12-31 17:50 Shanghai: the first response runs into provisional 2027.
    _, slas = on_ticket_state(None, state_changed_event(evolve(None, opened), opened), policy, 0)
    warning = HolidayNotices().announce(holiday_gaps(slas[0], policy), slas[0])[0]
    ((table, row),) = project(topics.SLA.name, serde.encode(warning))
    assert table == "sla_holiday_warnings"
    assert (row["calendar"], row["year"], row["status"], row["calendar_fingerprint"]) == (
        "cn_business", 2027, "provisional", cn.fingerprint)
    started = dict(project(topics.SLA.name, serde.encode(slas[0])))
    assert started[SLA_EVENTS.name]["calendar_fingerprint"] == cn.fingerprint
    assert started[SLA_OUTCOMES_TABLE.name]["calendar_fingerprint"] == cn.fingerprint

    _, value = calendar_record(cn, policy.version, at_ms=T0_MS)
    ((table, row),) = project(topics.SLA_CALENDARS.name, value)
    assert (table, row["fingerprint"], row["name"], row["registered_ms"]) == (
        "sla_calendars", cn.fingerprint, "cn_business", T0_MS)
    assert json.loads(row["spec"]) == cn.to_spec()


def test_dead_letter_from_the_dlq_topic_keeps_its_origin() -> None:
    letter = DeadLetter.for_event(received(), "ticket_state", "ticket t-1 already exists",
                                  T0_MS + 5, field="ticket_id", source_topic="complaints.events",
                                  source_partition=1, source_offset=42)
    [(table, row)] = project(topics.DLQ.name, letter.to_json())
    assert table == DEAD_LETTERS.name
    assert (row["dlq_id"], row["stage"], row["event_id"], row["field"]) == \
        ("e-1", "ticket_state", "e-1", "ticket_id")
    assert (row["occurred_at"], row["recorded_at"], row["recorded_ms"]) == \
        (T0_S, T0_S, T0_MS + 5)
    assert (row["source_partition"], row["source_offset"]) == (1, 42)


def test_dead_letter_of_raw_bytes_has_no_event_fields() -> None:
    letter = DeadLetter.for_bytes(b"\x00junk", "decode", "bad", T0_MS, "complaints.events", 0, 3)
    [(_, row)] = project(topics.DLQ.name, letter.to_json())
    assert (row["event_id"], row["ticket_id"], row["occurred_at"]) == ("", "", None)
    assert row["dlq_id"] == "complaints.events:0:3"


@pytest.mark.parametrize(("topic", "raw", "reason"), [
    (topics.EVENTS.name, b"not avro", "DecodeError"),
    (topics.EVENTS.name, None, "tombstone"),
    (topics.EVENTS.name, serde.encode(state_changed()), "ticket.state_changed on a topic"),
    (topics.TICKET_STATE.name, serde.encode(received()), "complaint.received on a topic"),
    (topics.SLA.name, serde.encode(received()), "carries sla"),
    (topics.DLQ.name, b"{not json", "JSONDecodeError"),
    (topics.DLQ.name, b'{"dlq_id": "x"}', "TypeError"),
    (topics.DETECTIONS.name, serde.encode(received()), "does not read topic"),
])
def test_messages_that_cannot_be_projected_say_why(topic: str, raw: bytes | None,
                                                   reason: str) -> None:
    with pytest.raises(UnprojectableMessage, match=reason):
        rows_for_message(raw, Position(topic, 0, 1), INGESTED)


def test_projector_dead_letter_never_collides_with_the_processors_letter() -> None:
    position = Position(topics.EVENTS.name, 3, 99)
    letter = undecodable_letter(b"\x01junk", position, "DecodeError: magic", T0_MS)
    processors = DeadLetter.for_bytes(b"\x01junk", "decode", "x", T0_MS, position.topic, 3, 99)
    assert letter.dlq_id == f"projector:{processors.dlq_id}"
    assert letter.stage == "projector"
    assert base64.b64decode(letter.original or "") == b"\x01junk"


# ---------------------------------------------------------------- the batching sink


class RecordingClient:
    def __init__(self, fail_on: str | None = None) -> None:
        self.inserts: list[tuple[str, list[tuple[Any, ...]]]] = []
        self.fail_on = fail_on

    def execute(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        if self.fail_on and self.fail_on in query:
            raise NetworkError("connection refused")
        self.inserts.append((query, list(rows)))


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


A = Table("a", ("x",))
B = Table("b", ("y", "z"))


def test_sink_is_due_when_full() -> None:
    sink = BatchingSink(RecordingClient(), max_rows=3, max_age_s=60, clock=FakeClock())
    sink.add_all([(A, (1,)), (B, (2, 3))])
    assert not sink.due()
    sink.add(A, (4,))
    assert sink.due() and sink.pending == 3


def test_sink_is_due_when_its_oldest_row_is_old_enough() -> None:
    clock = FakeClock()
    sink = BatchingSink(RecordingClient(), max_rows=1000, max_age_s=0.5, clock=clock)
    assert not sink.due()  # empty: never due
    sink.add(A, (1,))
    clock.now += 0.4
    sink.add(A, (2,))
    assert not sink.due()
    clock.now += 0.1
    assert sink.due()


def test_flush_inserts_each_table_once_with_explicit_columns() -> None:
    client = RecordingClient()
    sink = BatchingSink(client, clock=FakeClock())
    sink.add_all([(A, (1,)), (B, (2, 3)), (A, (4,))])
    assert sink.flush() == {"a": 2, "b": 1}
    assert client.inserts == [("INSERT INTO a (x) VALUES", [(1,), (4,)]),
                              ("INSERT INTO b (y, z) VALUES", [(2, 3)])]
    assert sink.pending == 0 and not sink.due()


def test_failed_flush_raises_sink_error_and_keeps_the_whole_buffer() -> None:
    client = RecordingClient(fail_on="INSERT INTO b")
    sink = BatchingSink(client, clock=FakeClock())
    sink.add_all([(A, (1,)), (B, (2, 3))])
    with pytest.raises(SinkError, match="1 rows into b failed: .*connection refused"):
        sink.flush()
    assert sink.pending == 2
    client.fail_on = None
    assert sink.flush() == {"a": 1, "b": 1}  # table a again: a no-op for a ReplacingMergeTree
