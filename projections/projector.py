"""The projector: Kafka topics → ClickHouse tables, at least once, replays harmless.

Loop: poll, map every message to rows (projections.rows), buffer them in the batching sink,
and when the sink is due insert the batch and only then commit the consumer's offsets. A crash
between insert and commit replays the batch, which the ReplacingMergeTree keys absorb. When an
insert fails the buffer is dropped and the consumer rewinds to its committed offsets, so the
same messages come back once ClickHouse does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass, field

from clickhouse_driver import Client
from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from prometheus_client import Counter, Histogram

from projections.migrate import migrate
from projections.rows import (
    DEAD_LETTERS,
    Position,
    UnprojectableMessage,
    dead_letter_row,
    rows_for_message,
    undecodable_letter,
)
from projections.sink import DEFAULT_MAX_AGE_S, DEFAULT_MAX_ROWS, BatchingSink, SinkError
from streams import topics
from streams.consuming import committing_consumer, rewind_to_committed

log = logging.getLogger(__name__)

SOURCE_TOPICS = (topics.EVENTS.name, topics.TICKET_STATE.name, topics.SLA.name, topics.DLQ.name,
                 topics.SLA_CALENDARS.name)
POLL_TIMEOUT_MS = 100
RETRY_BACKOFF_S = (0.5, 1.0, 2.0)  # stays under max_poll_interval_ms, so the group keeps us

ROWS_PROJECTED = Counter("projector_rows", "Rows inserted into ClickHouse, per table", ["table"])
UNDECODABLE = Counter("projector_undecodable",
                      "Messages the projector could not decode (dead-lettered with "
                      "stage=projector)", ["topic"])
FLUSH_FAILURES = Counter("projector_flush_failures", "Inserts that failed and were replayed")
FLUSH_SECONDS = Histogram("projector_flush_seconds", "Time to insert one batch into ClickHouse",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))


@dataclass
class ProjectorStats:
    """What one projector has done, readable from Python (tests, demo)."""

    messages: int = 0  # messages whose rows are in ClickHouse
    rows: Tally[str] = field(default_factory=Tally)  # rows inserted per table
    undecodable: int = 0
    flushes: int = 0
    flush_failures: int = 0
    commit_failures: int = 0


def consumer_for(bootstrap: str, group_id: str) -> KafkaConsumer:
    return committing_consumer(bootstrap, list(SOURCE_TOPICS), group_id)


class Projector:
    """One poll → buffer → insert → commit step at a time; run_projector drives it."""

    def __init__(self, consumer: KafkaConsumer, sink: BatchingSink,
                 stats: ProjectorStats) -> None:
        self._consumer = consumer
        self._sink = sink
        self._stats = stats
        self._buffered_messages = 0
        self._failed_flushes_in_a_row = 0

    def step(self, max_records: int) -> float:
        """Poll once, flush if due; return how long to back off (0 when all is well)."""
        polled = self._consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=max_records)
        for records in polled.values():
            for record in records:
                self._buffer(record)
        return self.flush() if self._sink.due() else 0.0

    def _buffer(self, record: ConsumerRecord) -> None:
        position = Position(record.topic, record.partition, record.offset)
        now = time.time()
        try:
            rows = rows_for_message(record.value, position, ingested_at=int(now))
        except UnprojectableMessage as exc:
            log.warning("cannot project %s[%d]@%d: %s", position.topic, position.partition,
                        position.offset, exc)
            UNDECODABLE.labels(position.topic).inc()
            self._stats.undecodable += 1
            letter = undecodable_letter(record.value, position, str(exc), int(now * 1000))
            rows = [(DEAD_LETTERS, dead_letter_row(letter))]
        self._sink.add_all(rows)
        self._buffered_messages += 1

    def flush(self) -> float:
        """Insert the buffer and commit; on failure rewind and return the back-off."""
        if self._sink.pending == 0:
            return 0.0
        started = time.perf_counter()
        try:
            written = self._sink.flush()
        except SinkError as exc:
            return self._replay_later(exc)
        FLUSH_SECONDS.observe(time.perf_counter() - started)
        for table, count in written.items():
            ROWS_PROJECTED.labels(table).inc(count)
        self._stats.rows.update(written)
        self._stats.flushes += 1
        self._stats.messages += self._buffered_messages
        self._buffered_messages = 0
        self._failed_flushes_in_a_row = 0
        self._commit()
        return 0.0

    def _commit(self) -> None:
        try:
            self._consumer.commit()
        except KafkaError as exc:
            # Typically CommitFailedError: a rebalance took partitions away. Their new owner
            # replays from the last commit, and the replayed rows collapse on their keys.
            self._stats.commit_failures += 1
            log.warning("offset commit failed, the batch will be replayed: %s", exc)

    def _replay_later(self, exc: SinkError) -> float:
        log.error("ClickHouse insert failed, replaying from the last commit: %s", exc)
        FLUSH_FAILURES.inc()
        self._stats.flush_failures += 1
        self._sink.discard()
        self._buffered_messages = 0
        rewind_to_committed(self._consumer)
        backoff = RETRY_BACKOFF_S[min(self._failed_flushes_in_a_row, len(RETRY_BACKOFF_S) - 1)]
        self._failed_flushes_in_a_row += 1
        return backoff


def run_projector(bootstrap: str, ch_host: str, ch_port: int,
                  stop_event: threading.Event | None = None,
                  group_id: str = "complaintflow-projector", *,
                  ch_database: str = "default", stats: ProjectorStats | None = None,
                  max_rows: int = DEFAULT_MAX_ROWS,
                  max_age_s: float = DEFAULT_MAX_AGE_S) -> ProjectorStats:
    """Project the topics into ClickHouse until stop_event is set (forever without one).

    Applies pending migrations first. Pass `stats` to watch progress from another thread.
    """
    stop_event = stop_event or threading.Event()
    stats = stats if stats is not None else ProjectorStats()
    client = Client(ch_host, port=ch_port, database=ch_database)
    try:
        applied = migrate(client)
        if applied:
            log.info("applied ClickHouse migrations %s", applied)
        consumer = consumer_for(bootstrap, group_id)
        projector = Projector(consumer, BatchingSink(client, max_rows, max_age_s), stats)
        try:
            while not stop_event.is_set():
                backoff = projector.step(max_records=max_rows)
                if backoff:
                    stop_event.wait(backoff)
            projector.flush()
        finally:
            consumer.close(autocommit=False)
    finally:
        client.disconnect()
    return stats
