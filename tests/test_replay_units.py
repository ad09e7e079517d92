"""`complaintflow replay` without a broker: the archive's rows back into the records they were,
the cheap event-id read, the log-order query (on chdb) and the progress display."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from complaintflow import archive
from complaintflow.progress import Progress, progress_line
from complaintflow.replay import event_id_of
from complaintflow.simulator import SimulationConfig, plan
from projections.rows import (
    COMPLAINT_EVENTS,
    DEAD_LETTERS,
    Position,
    archive_row,
    calendar_row,
    dead_letter_row,
)
from schemas import serde
from schemas.event import Event
from schemas.validation import parse_event
from streams import topics
from streams.deadletter import DeadLetter
from streams.sla.calendar import calendar_from_spec
from streams.sla.policy import load_default_policy
from streams.sla.registry import calendar_from_record, calendar_record

END_MS = 1_772_438_400_000  # 2026-03-02 08:00 UTC
FAR_FUTURE_MS = 4_102_444_800_000


def simulated_events(tickets: int = 40) -> list[Event]:
    sim = plan(SimulationConfig(tickets=tickets, seed=11), END_MS)
    events = []
    for item in sim.events:
        event, problems = parse_event(item, FAR_FUTURE_MS)
        assert event is not None, problems
        events.append(event)
    return events


def _archived(event: Event, offset: int = 0) -> tuple:
    row = dict(zip(COMPLAINT_EVENTS.columns,
                   archive_row(event, Position(topics.EVENTS.name, 1, offset), 0), strict=True))
    return (row["event_id"], row["event_type"], row["ticket_id"], row["occurred_at_ms"],
            row["schema_version"], row["source"], row["payload"], offset)


def test_every_archived_event_encodes_to_what_the_worker_decoded() -> None:
    events = simulated_events()
    types = {event.event_type for event in events}
    assert {"complaint.received", "ticket.resolved", "survey.responded"} <= types
    for offset, event in enumerate(events):
        restored = archive.event_from_archive(_archived(event, offset))
        assert serde.decode(serde.encode(restored)) == serde.decode(serde.encode(event))


def test_an_archived_older_schema_version_restores_as_the_version_it_was_decoded_to() -> None:
    v1 = Event("e-v1", "complaint.received", "T-v1", END_MS, 1,
               {"channel": "wechat", "category": "logistics", "priority": "high",
                "customer_id": "C-1", "customer_tier": "vip", "region": "上海",
                "summary": "包裹丢失"})
    decoded = serde.decode(serde.encode(v1))  # what the projector archived
    assert decoded.schema_version > 1
    restored = archive.event_from_archive(_archived(decoded))
    assert serde.decode(serde.encode(restored)) == decoded


def test_event_id_is_read_from_the_wire_without_decoding() -> None:
    for event in simulated_events(5):
        assert event_id_of(serde.encode(event)) == event.event_id
    long_id = "工单-" + "x" * 300  # a multi-byte varint length, non-ASCII
    event = Event(long_id, "ticket.reopened", "T-1", END_MS, 1, {})
    assert event_id_of(serde.encode(event)) == long_id
    assert event_id_of(None) is None
    assert event_id_of(b"not avro") is None
    assert event_id_of(serde.encode(event)[:8]) is None  # truncated


def test_an_archived_calendar_is_published_as_the_registry_published_it() -> None:
    policy = load_default_policy()
    for cal in policy.calendars.values():
        key, value = calendar_record(cal, policy.version, END_MS)
        row = calendar_row(value)  # sla_calendars: fingerprint, name, version, at, at_ms, spec
        fingerprint, name, policy_version, _, registered_ms, spec = row
        restored_key, restored_value = archive.calendar_record_from_archive(
            (fingerprint, name, policy_version, registered_ms, spec))
        assert restored_key == key
        assert json.loads(restored_value) == json.loads(value)
        assert calendar_from_record(restored_key, restored_value).fingerprint == cal.fingerprint
        assert calendar_from_spec(name, json.loads(spec)).fingerprint == cal.fingerprint


def test_an_archived_dead_letter_projects_to_the_same_row() -> None:
    event = simulated_events(1)[0]
    letters = [
        DeadLetter.for_event(event, "ticket_state", "refused", END_MS + 5, "ticket_id",
                             source_topic=topics.EVENTS.name, source_partition=2,
                             source_offset=9),
        DeadLetter("intake:abc", "intake", "event_type: unknown", END_MS, field="event_type",
                   original='{"event_type": "ticket.nope"}', source_topic="bulk.jsonl",
                   source_offset=3),
        DeadLetter.for_bytes(b"\x00junk", "decode", "bad", END_MS, topics.EVENTS.name, 0, 4),
    ]
    for letter in letters:
        row = dict(zip(DEAD_LETTERS.columns, dead_letter_row(letter), strict=True))
        occurred = row["occurred_at"]
        row["occurred_at"] = (None if occurred is None
                              else datetime.fromtimestamp(occurred, UTC))  # as the driver reads
        restored = archive.letter_from_archive([row[c] for c in archive.LETTER_COLUMNS])
        assert dead_letter_row(restored) == dead_letter_row(letter)


def test_the_worker_stages_are_the_ones_the_archive_treats_as_derived() -> None:
    from streams.sla.handling import STAGE as SLA_STAGE
    from streams.tickets.handling import STAGE as TICKET_STAGE

    assert set(archive.DERIVED_STAGES) == {TICKET_STAGE, SLA_STAGE}


# ---------------------------------------------------------------- the queries, on chdb


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from projections.migrate import migrate
    from tests.test_migrations_chdb import ChdbExecutor

    executor = ChdbExecutor(tmp_path_factory.mktemp("chdb-replay"))
    migrate(executor)
    yield executor
    executor.close()  # chdb allows one embedded server per process at a time


def _insert_archive(chdb, placed: list[tuple[Event, int, int]]) -> None:
    rows = [archive_row(event, Position(topics.EVENTS.name, partition, offset), 0)
            for event, partition, offset in placed]
    chdb.execute(COMPLAINT_EVENTS.insert_sql, rows)


def test_the_archive_is_read_once_per_event_in_log_order(chdb) -> None:
    a, b = (Event(f"T-a-{n}", "ticket.reopened", "T-a", END_MS + n, 1, {}) for n in range(2))
    c = Event("T-c-0", "ticket.reopened", "T-c", END_MS, 1, {})
    chdb.execute("TRUNCATE TABLE complaint_events")
    # a0 at offset 0, b at 1, a0 re-delivered at 2 (the worker ignored it there); c on p0.
    # Separate inserts: until a merge collapses them, both rows of a0 are there, and the
    # first position wins (after a merge only the last is left: see docs/replay.md).
    _insert_archive(chdb, [(a, 3, 0), (b, 3, 1), (c, 0, 7)])
    _insert_archive(chdb, [(a, 3, 2)])
    rows = chdb.execute(archive.ARCHIVE_IN_LOG_ORDER)
    assert [row[0] for row in rows] == ["T-c-0", "T-a-0", "T-a-1"]
    assert [archive.event_from_archive(row).ticket_id for row in rows] == ["T-c", "T-a", "T-a"]
    assert chdb.execute(archive.ARCHIVE_COUNTS) == [(3, 2)]


def test_letter_selections_split_restored_from_derived(chdb) -> None:
    chdb.execute("TRUNCATE TABLE dead_letters")
    letters = [DeadLetter(f"id-{stage}-{topic}", stage, "r", END_MS, source_topic=topic)
               for stage, topic in (("intake", "x.jsonl"), ("decode", topics.EVENTS.name),
                                    ("ticket_state", topics.EVENTS.name),
                                    ("sla", None), ("projector", topics.EVENTS.name),
                                    ("projector", topics.SLA.name))]
    chdb.execute(DEAD_LETTERS.insert_sql, [dead_letter_row(letter) for letter in letters])
    restored = {row[0] for row in chdb.execute(archive.RESTORED_LETTER_ROWS)}
    derived = {row[0] for row in chdb.execute(
        f"SELECT dlq_id FROM dead_letters WHERE {archive.DERIVED_LETTERS}")}
    archival = {row[0] for row in chdb.execute(archive.ARCHIVAL_LETTER_IDS)}
    assert restored == {"id-intake-x.jsonl", f"id-decode-{topics.EVENTS.name}",
                        f"id-projector-{topics.EVENTS.name}"}
    assert derived == {f"id-ticket_state-{topics.EVENTS.name}", "id-sla-None",
                       f"id-projector-{topics.SLA.name}"}
    assert archival == {"id-intake-x.jsonl", f"id-decode-{topics.EVENTS.name}"}


# ---------------------------------------------------------------- progress


def test_progress_line_has_count_rate_and_eta() -> None:
    assert progress_line("replay", 500, 2000, 2.0) == (
        "replay: 500 / 2,000 events (25%), 250/s, ETA 6 s")
    assert progress_line("replay", 3000, 2000, 2.0, "messages") == (
        "replay: 3,000 / 3,000 messages (100%), 1,500/s, ETA 0 s")  # an estimate passed
    assert progress_line("scan", 10, None, 0.0) == "scan: 10 events, 0/s, 0 s"
    assert "ETA 2 h 46 min" in progress_line("r", 1, 10_001, 1.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_terminal_and_prints_lines_otherwise() -> None:
    for stream, tty in ((Terminal(), True), (io.StringIO(), False)):
        clock = FakeClock()
        progress = Progress("replay", total=100, stream=stream, clock=clock)
        for step in range(1, 101):
            clock.now = step * 0.1  # 10 s in all
            progress.update(step)
        progress.finish()
        text = stream.getvalue()
        if tty:
            assert text.count("\n") == 1 and text.count("\r") > 40  # every 0.2 s, in place
        else:
            assert text.count("\r") == 0 and text.count("\n") == 3  # at 5 s, 10 s, the end
        assert text.rstrip().endswith("replay: 100 / 100 events (100%), 10/s, ETA 0 s")

