"""The ClickHouse side against the real local stack: ClickHouse 18.16 and the Tansu broker.

One hand-built scenario of five tickets, folded through the ticket model as the ticket
processor would, whose KPIs are computed by hand below. Each test gets a database of its own.
The projector's replay after a failed insert is tested first, with a fake consumer.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import NetworkError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from complaintflow import stack
from projections.migrate import discover, migrate
from projections.projector import Projector, ProjectorStats, run_projector
from projections.report import format_report, kpi_report
from projections.rows import TABLES, Position, rows_for_message
from projections.sink import BatchingSink
from schemas import serde
from schemas.event import Event
from streams import topics
from streams.deadletter import DeadLetter
from streams.tickets.model import Rejected, TicketState, decide, evolve, state_changed_event

T0_MS = 1_772_438_400_000  # 2026-03-02 08:00 UTC
MINUTE_MS = 60_000
GARBAGE = b"\x07 not a framed event"

# ---------------------------------------------------------------- the scenario


def _at(minute: int) -> int:
    return T0_MS + minute * MINUTE_MS


def _received(ticket: str, channel: str, category: str, priority: str,
              kind: str = "complaint") -> Event:
    return Event(f"{ticket}-received", "complaint.received", ticket, _at(0), 2, {
        "channel": channel, "category": category, "priority": priority,
        "customer_id": f"cust-{ticket}", "customer_tier": "regular", "region": "east",
        "summary": None, "kind": kind})


def _action(ticket: str, event_type: str, minute: int, **data: Any) -> Event:
    return Event(f"{ticket}-{event_type}-{minute}", event_type, ticket, _at(minute), 1, data)


INPUTS = [
    # T1: answered in 10 min, resolved in 60, confirmed (closed), CSAT 5, NPS 10.
    _received("T1", "phone", "product_quality", "urgent"),
    _action("T1", "ticket.assigned", 1, team="quality", agent="li"),
    _action("T1", "ticket.first_response_sent", 10, agent="li", channel="phone"),
    _action("T1", "ticket.resolved", 60, resolution_code="replaced", agent="li"),
    _action("T1", "ticket.customer_confirmed", 120, channel="phone"),
    _action("T1", "survey.responded", 130, csat=5, nps=10, comment=None),
    # T2: answered in 20, resolved in 120, not confirmed yet; CSAT 3, NPS 6.
    _received("T2", "wechat", "logistics", "normal"),
    _action("T2", "ticket.assigned", 2, team="delivery", agent="wang"),
    _action("T2", "ticket.first_response_sent", 20, agent="wang", channel="wechat"),
    _action("T2", "ticket.resolved", 120, resolution_code="redelivered", agent="wang"),
    _action("T2", "survey.responded", 125, csat=3, nps=6, comment=None),
    # T3: answered in 30, resolved in 180, confirmed, then reopened.
    _received("T3", "phone", "logistics", "high"),
    _action("T3", "ticket.assigned", 3, team="delivery", agent="zhao"),
    _action("T3", "ticket.first_response_sent", 30, agent="zhao", channel="phone"),
    _action("T3", "ticket.resolved", 180, resolution_code="refund", agent="zhao"),
    _action("T3", "ticket.customer_confirmed", 190, channel="phone"),
    _action("T3", "ticket.reopened", 200, reason="refund never arrived"),
    # T4: a suggestion, assigned, no answer yet.
    _received("T4", "app", "billing", "low", kind="suggestion"),
    _action("T4", "ticket.assigned", 5, team="billing", agent=None),
    # T5: new; a confirmation of an unresolved ticket is refused (dead-lettered).
    _received("T5", "phone", "service_attitude", "normal"),
    _action("T5", "ticket.customer_confirmed", 6, channel="phone"),
]


def _sla(ticket: str, event_type: str, minute: int) -> Event:
    return Event(f"{ticket}-sla-{event_type}-{minute}", event_type, ticket, _at(minute), 1, {
        "metric": "first_response", "cycle": 1, "policy_version": "v1", "calendar": "24x7",
        "target_seconds": 1800, "deadline": _at(30), "elapsed_business_seconds": minute * 60,
        "threshold": None, "reason": None, "team": None, "priority": None,
        "customer_tier": None, "category": None}, source="sla", caused_by=None)


T2_WARNING = _sla("T2", "sla.warning", 15)
SLA_EVENTS = [
    _sla("T1", "sla.met", 10),
    T2_WARNING,
    _sla("T2", "sla.breached", 30),
    T2_WARNING,  # re-delivered after the breach: the older event must not win
    _sla("T3", "sla.met", 30),
    _sla("T4", "sla.warning", 24),
]

EXPECTED = {
    "total_tickets": 5,
    "volume_by_kind": {"complaint": 4, "suggestion": 1},
    "volume_by_channel": {"phone": 3, "app": 1, "wechat": 1},
    "volume_by_category": {"logistics": 2, "billing": 1, "product_quality": 1,
                           "service_attitude": 1},
    "open_total": 3,
    "open_backlog": {"assigned": 1, "new": 1, "reopened": 1},
    "resolved_unconfirmed": 1,
    # quantiles() interpolates linearly: over 10, 20, 30 the 90th percentile is 28.
    "first_response_minutes": {"p50": 20.0, "p90": 28.0},
    "resolution_minutes": {"p50": 120.0, "p90": 168.0},
    "resolution_rate": 2 / 5,  # T1 closed, T2 resolved
    "closed_loop_rate": 1 / 2,  # T1 of T1, T2
    "reopen_rate": 1 / 3,  # T3 of the three ever resolved
    "csat": 1 / 2,  # 5 and 3
    "csat_answered": 2,
    "nps": 0.0,  # one promoter (10), one detractor (6)
    "nps_answered": 2,
    "sla": {"first_response": {"clocks": 4, "met": 2, "breached": 1, "running": 1,
                               "compliance": 2 / 3}},
    "daily_volume": {"2026-03-02": 5},
    "reconciliation": {"archived": 21, "applied": 20, "dead_lettered": 1, "balanced": True},
}


def fold(inputs: list[Event]) -> tuple[list[Event], list[DeadLetter]]:
    """What the ticket processor writes for the inputs: state changes and refusals."""
    states: dict[str, TicketState] = {}
    changes: list[Event] = []
    refusals: list[DeadLetter] = []
    for event in inputs:
        decision = decide(states.get(event.ticket_id), event)
        if isinstance(decision, Rejected):
            refusals.append(DeadLetter.for_event(event, "ticket_state", decision.reason,
                                                 event.occurred_at, decision.field))
            continue
        assert decision is None, decision
        states[event.ticket_id] = evolve(states.get(event.ticket_id), event)
        changes.append(state_changed_event(states[event.ticket_id], event))
    return changes, refusals


def scenario_messages() -> list[tuple[str, str, bytes]]:
    """(topic, key, value) of every message, in the order they are produced."""
    changes, refusals = fold(INPUTS)
    return [
        *((topics.EVENTS.name, e.ticket_id, serde.encode(e)) for e in INPUTS),
        (topics.EVENTS.name, "T9", GARBAGE),
        *((topics.TICKET_STATE.name, e.ticket_id, serde.encode(e)) for e in changes),
        *((topics.DLQ.name, d.ticket_id or "", d.to_json()) for d in refusals),
        *((topics.SLA.name, e.ticket_id, serde.encode(e)) for e in SLA_EVENTS),
    ]


def assert_report_is_expected(report: dict[str, Any]) -> None:
    assert [row["ticket_id"] for row in report["oldest_resolved_unconfirmed"]] == ["T2"]
    got = {key: report[key] for key in EXPECTED}
    assert _approx(got) == _approx(EXPECTED)


def _approx(value: Any) -> Any:
    # Rates such as 1/3 are compared to 9 places, not bit for bit.
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    return round(value, 9) if isinstance(value, float) else value


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.Endpoints]:
    state_dir: Path = tmp_path_factory.mktemp("stack")
    try:
        yield stack.up(state_dir)
    finally:
        stack.down(state_dir)


@pytest.fixture
def database(endpoints: stack.Endpoints) -> Iterator[str]:
    name = f"projection_test_{uuid.uuid4().hex[:12]}"
    admin = Client(endpoints.clickhouse_host, port=endpoints.clickhouse_port)
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.disconnect()


@pytest.fixture
def db_client(endpoints: stack.Endpoints, database: str) -> Iterator[Client]:
    """A client of this test's own database (conftest's `clickhouse` is the shared stack's)."""
    client = Client(endpoints.clickhouse_host, port=endpoints.clickhouse_port, database=database)
    yield client
    client.disconnect()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------- replay, with fakes


class FakeConsumer:
    """Hands out the same records after every rewind, like a partition log would."""

    def __init__(self, records: list[SimpleNamespace], topic: str = topics.EVENTS.name,
                 batch: int | None = None) -> None:
        self.partition = TopicPartition(topic, 0)
        self.records = records
        self.position = 0
        self.commits = 0
        self.batch = batch or len(records)  # records per poll

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        batch = self.records[self.position:self.position + self.batch]
        self.position += len(batch)
        return {self.partition: batch} if batch else {}

    def assignment(self) -> set[TopicPartition]:
        return {self.partition}

    def committed(self, partition: TopicPartition) -> int | None:
        return None

    def seek_to_beginning(self, partition: TopicPartition) -> None:
        self.position = 0

    def commit(self) -> None:
        self.commits += 1


class FlakyClient:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.inserted = 0
        self.rows: dict[str, list[tuple[Any, ...]]] = {}

    def execute(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        if self.failures:
            self.failures -= 1
            raise NetworkError("ClickHouse is down")
        self.inserted += len(rows)
        self.rows.setdefault(query.split()[2], []).extend(rows)


def test_failed_insert_commits_nothing_and_replays_from_the_last_commit() -> None:
    records = [SimpleNamespace(topic=topics.EVENTS.name, partition=0, offset=n,
                               value=serde.encode(event)) for n, event in enumerate(INPUTS[:3])]
    consumer, client, stats = FakeConsumer(records), FlakyClient(failures=1), ProjectorStats()
    projector = Projector(consumer, BatchingSink(client, max_rows=3), stats)  # type: ignore[arg-type]

    assert projector.step(max_records=10) > 0  # back off
    assert (consumer.commits, stats.messages, stats.flush_failures) == (0, 0, 1)
    assert consumer.position == 0  # rewound: the messages come back

    assert projector.step(max_records=10) == 0
    assert (consumer.commits, stats.messages, client.inserted) == (1, 3, 3)
    assert stats.rows == {"complaint_events": 3}


def _state_records(messages: list[tuple[str, bytes | None]]) -> list[SimpleNamespace]:
    return [SimpleNamespace(topic=topics.TICKET_STATE.name, partition=0, offset=n,
                            key=key.encode() if key else None, value=value)
            for n, (key, value) in enumerate(messages)]


def test_only_the_newest_state_of_a_ticket_in_a_batch_is_decoded() -> None:
    changes, _ = fold(INPUTS)
    t1 = [serde.encode(e) for e in changes if e.ticket_id == "T1"]  # versions 1 to 6
    t4 = [serde.encode(e) for e in changes if e.ticket_id == "T4"]  # versions 1 and 2
    t5 = serde.encode(next(e for e in changes if e.ticket_id == "T5"))
    corrupt = t4[1][:-8]  # T4 v2 with a truncated body: its header still says state change
    records = _state_records([
        *(("T1", value) for value in t1[:-1]),
        ("T5", t5),
        ("T5", serde.encode(INPUTS[-2])),  # not a state change: dead-lettered as before
        ("T4", t4[0]),
        ("T4", corrupt),  # T4's newest does not decode: dead-lettered, and v1 is used
        ("T1", t1[-1]),
        (None, t5),  # no key: projected on its own
        ("T9", GARBAGE),
    ])
    consumer, client, stats = FakeConsumer(records, topics.TICKET_STATE.name), FlakyClient(), \
        ProjectorStats()
    projector = Projector(consumer, BatchingSink(client), stats)  # type: ignore[arg-type]
    projector.step(max_records=100)
    projector.flush()

    versions = sorted((row[0], row[1]) for row in client.rows["tickets"])
    assert versions == [("T1", 6), ("T4", 1), ("T5", 1), ("T5", 1)]
    assert len(client.rows["dead_letters"]) == 3  # complaint.received, corrupt T4 v2, garbage
    assert (stats.messages, stats.superseded, stats.undecodable) == (len(records), 5, 3)
    assert consumer.commits == 1


def test_a_rebalance_drops_the_buffer_and_rereads_from_the_last_commit() -> None:
    records = [SimpleNamespace(topic=topics.EVENTS.name, partition=0, offset=n,
                               value=serde.encode(event)) for n, event in enumerate(INPUTS[:6])]
    consumer, client, stats = FakeConsumer(records, batch=2), FlakyClient(), ProjectorStats()
    projector = Projector(consumer, BatchingSink(client, max_rows=4), stats)  # type: ignore[arg-type]
    listener = projector.rebalance_listener()

    listener.on_partitions_assigned({consumer.partition})
    listener.on_partitions_revoked(set())  # the first join: nothing was taken away
    assert projector.step(max_records=2) == 0  # 2 buffered
    listener.on_partitions_revoked({consumer.partition})  # a second projector joins
    assert projector.step(max_records=2) == 0  # dropped, with this poll's records
    assert (consumer.position, consumer.commits, client.inserted, stats.rebalances) == \
        (0, 0, 0, 1)  # rewound to the committed offset (none yet): nothing skipped

    while consumer.position < len(records):
        projector.step(max_records=2)
    projector.flush()
    assert (stats.messages, client.inserted) == (6, 6)
    assert sorted(row[0] for row in client.rows["complaint_events"]) == \
        sorted(event.event_id for event in INPUTS[:6])


# ---------------------------------------------------------------- against the real stack


@pytest.mark.integration
def test_migrations_apply_once_on_clickhouse_18(db_client: Client) -> None:
    assert db_client.execute("SELECT version()")[0][0].startswith("18.16")
    assert migrate(db_client) == [m.version for m in discover()]
    assert migrate(db_client) == []
    for table in TABLES:
        columns = db_client.execute(
            "SELECT name FROM system.columns WHERE database = currentDatabase() "
            "AND table = %(table)s", {"table": table.name})
        assert tuple(name for (name,) in columns) == table.columns


def _load(client: Client, times: int) -> None:
    sink = BatchingSink(client)
    for _ in range(times):
        for offset, (topic, _key, value) in enumerate(scenario_messages()):
            if value != GARBAGE:  # the projector's job; tested with it below
                sink.add_all(rows_for_message(value, Position(topic, 0, offset), 0))
        sink.flush()


@pytest.mark.integration
def test_reinserted_batch_changes_no_count_and_report_matches(db_client: Client) -> None:
    migrate(db_client)
    _load(db_client, times=1)
    first = kpi_report(db_client)
    assert_report_is_expected(first)
    _load(db_client, times=2)
    assert kpi_report(db_client) == first
    stored = db_client.execute("SELECT count() FROM complaint_events")[0][0]
    assert stored >= 21  # duplicates stay on disk until a merge; FINAL / uniqExact hide them
    assert db_client.execute("SELECT count() FROM complaint_events FINAL") == [(21,)]
    assert "T2  delivery / wang, resolved 2026-03-02 10:00:00" in format_report(first)


@pytest.mark.integration
def test_report_of_empty_and_of_unanswered_tickets(db_client: Client) -> None:
    """Aggregates over no rows, or over only NULLs (no survey, no response yet)."""
    migrate(db_client)
    empty = kpi_report(db_client)
    assert empty["total_tickets"] == 0
    assert (empty["resolution_rate"], empty["csat"], empty["nps"]) == (None, None, None)
    assert empty["first_response_minutes"] == {"p50": None, "p90": None}
    assert empty["reconciliation"]["balanced"]

    changes, _ = fold(INPUTS[-2:-1])  # T5: received, nothing else
    sink = BatchingSink(db_client)
    sink.add_all(rows_for_message(serde.encode(changes[0]), Position(topics.TICKET_STATE.name,
                                                                     0, 0), 0))
    sink.flush()
    report = kpi_report(db_client)
    assert (report["total_tickets"], report["open_total"], report["csat_answered"]) == (1, 1, 0)
    assert (report["csat"], report["nps"], report["reopen_rate"]) == (None, None, None)
    assert report["first_response_minutes"] == {"p50": None, "p90": None}
    assert "CSAT (>= 4 of 0 answers)  -" in format_report(report)


def _produce(bootstrap: str, messages: list[tuple[str, str, bytes]]) -> dict[TopicPartition, int]:
    """Send one record per batch (Tansu's high-watermark bug, docs/local-stack.md); return, per
    partition, the offset after the last record sent."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    ends: dict[TopicPartition, int] = {}
    try:
        for topic, key, value in messages:
            meta = producer.send(topic, key=key.encode(), value=value).get(timeout=10)
            ends[TopicPartition(topic, meta.partition)] = meta.offset + 1
    finally:
        producer.close()
    return ends


def _project(endpoints: stack.Endpoints, database: str, group_id: str,
             until_messages: int) -> ProjectorStats:
    stats, stop = ProjectorStats(), threading.Event()
    worker = threading.Thread(target=run_projector, kwargs={
        "bootstrap": endpoints.kafka_bootstrap, "ch_host": endpoints.clickhouse_host,
        "ch_port": endpoints.clickhouse_port, "ch_database": database, "stop_event": stop,
        "group_id": group_id, "stats": stats}, daemon=True)
    worker.start()
    try:
        wait_until(lambda: stats.messages >= until_messages, 60, f"{until_messages} messages")
    finally:
        stop.set()
        worker.join(timeout=20)
    assert not worker.is_alive()
    return stats


@pytest.mark.integration
def test_projector_from_kafka_to_report(endpoints: stack.Endpoints, database: str,
                                        db_client: Client) -> None:
    messages = scenario_messages()
    ends = _produce(endpoints.kafka_bootstrap, messages)
    undecodable_before = REGISTRY.get_sample_value(
        "projector_undecodable_total", {"topic": topics.EVENTS.name}) or 0.0

    group = f"projector-test-{uuid.uuid4().hex[:8]}"
    stats = _project(endpoints, database, group, until_messages=len(messages))
    assert stats.messages == len(messages)
    assert stats.undecodable == 1
    assert REGISTRY.get_sample_value("projector_undecodable_total",
                                     {"topic": topics.EVENTS.name}) == undecodable_before + 1
    report = kpi_report(db_client)
    assert_report_is_expected(report)
    [(stage, reason)] = db_client.execute(
        "SELECT stage, reason FROM dead_letters FINAL WHERE source_topic = %(topic)s",
        {"topic": topics.EVENTS.name})
    assert stage == "projector" and "DecodeError" in reason

    # Offsets were committed after the inserts, up to the last message of each partition.
    reader = KafkaConsumer(bootstrap_servers=endpoints.kafka_bootstrap, group_id=group,
                           enable_auto_commit=False)
    try:
        assert {tp: reader.committed(tp) for tp in ends} == ends
    finally:
        reader.close()

    # A second group re-delivers everything: no count changes.
    _project(endpoints, database, f"{group}-replay", until_messages=len(messages))
    assert kpi_report(db_client) == report


class _Running:
    """run_projector on a thread, as one projector process would run it."""

    def __init__(self, endpoints: stack.Endpoints, database: str, group_id: str) -> None:
        self.stats, self.stop = ProjectorStats(), threading.Event()
        self.thread = threading.Thread(target=run_projector, kwargs={
            "bootstrap": endpoints.kafka_bootstrap, "ch_host": endpoints.clickhouse_host,
            "ch_port": endpoints.clickhouse_port, "ch_database": database,
            "stop_event": self.stop, "group_id": group_id, "stats": self.stats}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def _committed_cover(bootstrap: str, group_id: str, ends: dict[TopicPartition, int]
                     ) -> Callable[[], bool]:
    def check() -> bool:
        reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id,
                               enable_auto_commit=False)
        try:
            return all((reader.committed(tp) or 0) >= end for tp, end in ends.items())
        finally:
            reader.close()
    return check


@pytest.mark.integration
def test_two_projectors_in_one_group_share_the_log_through_rebalances(
        endpoints: stack.Endpoints, database: str, db_client: Client) -> None:
    """A second projector joins mid-stream and leaves again: every message is projected,
    counts are exact, and each projector wrote a share."""
    messages = scenario_messages()
    inputs = [m for m in messages if m[0] == topics.EVENTS.name]
    derived = [m for m in messages if m[0] in (topics.TICKET_STATE.name, topics.DLQ.name)]
    sla = [m for m in messages if m[0] == topics.SLA.name]
    assert len(inputs) + len(derived) + len(sla) == len(messages)
    bootstrap, group = endpoints.kafka_bootstrap, f"projector-pair-{uuid.uuid4().hex[:8]}"

    assert inputs[-1][2] == GARBAGE
    ends = _produce(bootstrap, inputs[:-1])
    [(garbage_tp, garbage_end)] = _produce(bootstrap, inputs[-1:]).items()
    ends[garbage_tp] = garbage_end
    first = _Running(endpoints, database, group)
    second = None
    try:
        wait_until(lambda: first.stats.messages >= len(inputs), 60, "the first projector")
        second = _Running(endpoints, database, group)
        # The join takes partitions from the first projector: it drops its buffer.
        wait_until(lambda: first.stats.rebalances >= 1, 60, "the first projector's rebalance")
        ends.update(_produce(bootstrap, derived))
        wait_until(_committed_cover(bootstrap, group, ends), 60, "commits of the pair")
        second.close()  # its partitions go back to the first projector
        second_stats, second = second.stats, None
        ends.update(_produce(bootstrap, sla))
        wait_until(_committed_cover(bootstrap, group, ends), 60, "commits after it left")
    finally:
        for running in (first, second):
            if running is not None:
                running.close()

    assert second_stats.messages > 0 and first.stats.rebalances >= 2
    assert_report_is_expected(kpi_report(db_client))
    assert db_client.execute("SELECT count() FROM complaint_events FINAL") == [(21,)]
    assert db_client.execute("SELECT count() FROM tickets FINAL") == [(5,)]
    assert db_client.execute(
        "SELECT count() FROM dead_letters FINAL WHERE dlq_id = %(id)s",
        {"id": f"projector:{garbage_tp.topic}:{garbage_tp.partition}:{garbage_end - 1}"}
    ) == [(1,)]
