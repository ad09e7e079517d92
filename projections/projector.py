"""The projector: Kafka topics → ClickHouse tables, at least once, replays harmless.

Loop: poll, map every message to rows (projections.rows), buffer them in the batching sink,
and when the sink is due insert the batch and only then commit the consumer's offsets. A crash
between insert and commit replays the batch, which the ReplacingMergeTree keys absorb. When an
insert fails the buffer is dropped and the consumer rewinds to its committed offsets, so the
same messages come back once ClickHouse does.

What makes that safe is one invariant: for every partition this consumer holds, each message
between its committed offset and its position is in ClickHouse or in the buffer. Polling and
flushing keep it; so does a rebalance by itself (a partition kept keeps its position, one
gained starts at its committed offset). Dropping the buffer breaks it, so every drop rewinds
to the committed offsets before anything is committed again.

Several projector processes may run with the same group id: Kafka splits the partitions
between them (no more useful processes than a source topic has partitions). When a
rebalance takes partitions away, the rebalance listener only notes it (it runs on the
consumer's network thread, where blocking calls are not allowed); the next step then drops
the buffer and rewinds, so the rows of a partition that moved are written by its new owner
alone, from the last commit, and the partitions kept are re-read. A commit racing with a
rebalance fails (the batch is then replayed) or commits only partitions still held.
Duplicates from either case collapse on the tables' ReplacingMergeTree keys. docs/scaling.md
has the operator's view.

Within one poll batch only the newest message of a ticket on complaints.ticket-state is
decoded (see Projector._buffer_newest_states).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass, field

from clickhouse_driver import Client
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram

from projections.migrate import migrate
from projections.rows import (
    DEAD_LETTERS,
    STATE_CHANGED,
    Position,
    UnprojectableMessage,
    dead_letter_row,
    header_event_type,
    rows_for_message,
    undecodable_letter,
)
from projections.sink import DEFAULT_MAX_AGE_S, DEFAULT_MAX_ROWS, BatchingSink, SinkError
from streams import topics
from streams.consuming import committing_consumer, rewind_to_committed

log = logging.getLogger(__name__)

SOURCE_TOPICS = (topics.EVENTS.name, topics.TICKET_STATE.name, topics.SLA.name, topics.DLQ.name,
                 topics.SLA_CALENDARS.name)
STATE_TOPIC = topics.TICKET_STATE.name
POLL_TIMEOUT_MS = 100
RETRY_BACKOFF_S = (0.5, 1.0, 2.0)  # stays under max_poll_interval_ms, so the group keeps us

ROWS_PROJECTED = Counter("projector_rows", "Rows inserted into ClickHouse, per table", ["table"])
UNDECODABLE = Counter("projector_undecodable",
                      "Messages the projector could not decode (dead-lettered with "
                      "stage=projector)", ["topic"])
DRAIN_S = 5.0
FLUSH_FAILURES = Counter("projector_flush_failures", "Inserts that failed and were replayed")
SUPERSEDED = Counter("projector_superseded",
                     "ticket-state messages skipped: a newer state of the same ticket was in "
                     "the same poll batch")
REBALANCES = Counter("projector_rebalances",
                     "Partitions taken away from this projector; its buffer was re-read")
ASSIGNED = Gauge("projector_assigned_partitions",
                 "Partitions this projector holds now (its share of the consumer group)")
FLUSH_SECONDS = Histogram("projector_flush_seconds", "Time to insert one batch into ClickHouse",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))


@dataclass
class ProjectorStats:
    """What one projector has done, readable from Python (tests, demo)."""

    messages: int = 0  # messages whose rows are in ClickHouse (or were superseded there)
    rows: Tally[str] = field(default_factory=Tally)  # rows inserted per table
    undecodable: int = 0
    flushes: int = 0
    flush_failures: int = 0
    commit_failures: int = 0
    superseded: int = 0  # ticket states not decoded: a newer one was in the same batch
    rebalances: int = 0  # times partitions were taken away and the buffer was re-read


def consumer_for(bootstrap: str, group_id: str,
                 listener: ConsumerRebalanceListener | None = None) -> KafkaConsumer:
    """The projector's consumer, subscribed to SOURCE_TOPICS; `listener` hears rebalances."""
    consumer = committing_consumer(bootstrap, [], group_id)  # subscribed here, with listener
    consumer.subscribe(list(SOURCE_TOPICS), listener=listener)
    return consumer


class RevocationListener(ConsumerRebalanceListener):
    """Notes that partitions were taken away (revoked, or lost with the membership); the
    projector acts on it in its next step. Runs on the consumer's network thread, where
    blocking consumer calls are refused, so it does no I/O itself."""

    def __init__(self) -> None:
        self.revoked = threading.Event()
        self._held: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:  # the first join revokes nothing
            self.revoked.set()
        self._held.difference_update(revoked)
        ASSIGNED.set(len(self._held))

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._held.update(assigned)
        ASSIGNED.set(len(self._held))


class Projector:
    """One poll → buffer → insert → commit step at a time; run_projector drives it."""

    def __init__(self, consumer: KafkaConsumer, sink: BatchingSink, stats: ProjectorStats,
                 listener: RevocationListener | None = None) -> None:
        self._consumer = consumer
        self._sink = sink
        self._stats = stats
        self._buffered_messages = 0
        self._failed_flushes_in_a_row = 0
        self._listener = listener or RevocationListener()
        self._revoked = self._listener.revoked

    def rebalance_listener(self) -> RevocationListener:
        """The listener the consumer must be subscribed with (run_projector does)."""
        return self._listener

    def step(self, max_records: int) -> float:
        """Poll once, flush if due; return how long to back off (0 when all is well)."""
        polled = self._consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=max_records)
        if self._revoked.is_set():
            # This poll's records go with the buffer: the rewind gives them back.
            return self._reread_after_rebalance()
        now = time.time()
        for partition, records in polled.items():
            if partition.topic == STATE_TOPIC:
                self._buffer_newest_states(records, now)
            else:
                for record in records:
                    self._buffer(record, now)
            self._buffered_messages += len(records)
        return self.flush() if self._sink.due() else 0.0

    def _buffer(self, record: ConsumerRecord, now: float) -> bool:
        """Buffer the message's rows, or its dead letter; True if it was projected."""
        position = Position(record.topic, record.partition, record.offset)
        try:
            rows = rows_for_message(record.value, position, ingested_at=int(now))
        except UnprojectableMessage as exc:
            log.warning("cannot project %s[%d]@%d: %s", position.topic, position.partition,
                        position.offset, exc)
            UNDECODABLE.labels(position.topic).inc()
            self._stats.undecodable += 1
            letter = undecodable_letter(record.value, position, str(exc), int(now * 1000))
            self._sink.add_all([(DEAD_LETTERS, dead_letter_row(letter))])
            return False
        self._sink.add_all(rows)
        return True

    def _buffer_newest_states(self, records: list[ConsumerRecord], now: float) -> None:
        """complaints.ticket-state: decode and buffer only each ticket's newest message.

        Every message is a ticket's full state, and `tickets` keeps the highest version of a
        ticket, so the older states of a ticket in the same batch change no result. Newest =
        highest offset: the topic is keyed by ticket id, so a ticket's states are on one
        partition in the order the ticket processor wrote them, which is version order (a
        processor that restarts may write some versions again, and then writes the newer
        ones again after them too). Only the wire header of an older message is read: one
        that is not a ticket.state_changed, or has no key, is projected (dead-lettered) on
        its own as before; one whose body alone is corrupt is skipped unnoticed. If a
        ticket's newest message does not decode, it is dead-lettered and the one before it
        is tried.
        """
        by_ticket: dict[bytes, list[ConsumerRecord]] = {}
        for record in records:
            if record.key is None or header_event_type(record.value) != STATE_CHANGED:
                self._buffer(record, now)
            else:
                by_ticket.setdefault(record.key, []).append(record)
        superseded = 0
        for states in by_ticket.values():
            remaining = len(states)
            for record in reversed(states):  # newest first
                remaining -= 1
                if self._buffer(record, now):
                    break
            superseded += remaining
        if superseded:
            SUPERSEDED.inc(superseded)
            self._stats.superseded += superseded

    def _reread_after_rebalance(self) -> float:
        """Partitions were taken away: drop the buffer and re-read from the last commit.

        Their new owners re-read their part from the committed offsets, and so does this
        projector for the partitions it kept (rewind_to_committed), so nothing is committed
        past what is in ClickHouse. The flag is cleared first: a rebalance during the rewind
        sets it again, and the next step drops and rewinds again; so does a failed rewind.
        """
        self._revoked.clear()
        dropped = self._buffered_messages
        self._sink.discard()
        self._buffered_messages = 0
        try:
            rewind_to_committed(self._consumer)
        except KafkaError as exc:
            self._revoked.set()
            log.warning("rewind after a rebalance failed, trying again: %s", exc)
            return RETRY_BACKOFF_S[0]
        REBALANCES.inc()
        self._stats.rebalances += 1
        log.info("partitions reassigned: dropped %d buffered messages, re-reading the "
                 "partitions kept from their committed offsets", dropped)
        return 0.0

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


def _drain(projector: Projector, stats: ProjectorStats, max_rows: int) -> None:
    """Asked to stop: first read what the topics still hold (until a poll brings nothing, at
    most DRAIN_S), so that stopping the local stack — whose broker keeps no log — leaves
    nothing that reached the broker outside the archive."""
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline:
        before = stats.messages
        if projector.step(max_records=max_rows) or stats.messages == before:
            return


def run_projector(bootstrap: str, ch_host: str, ch_port: int,
                  stop_event: threading.Event | None = None,
                  group_id: str = "complaintflow-projector", *,
                  ch_database: str = "default", stats: ProjectorStats | None = None,
                  max_rows: int = DEFAULT_MAX_ROWS,
                  max_age_s: float = DEFAULT_MAX_AGE_S) -> ProjectorStats:
    """Project the topics into ClickHouse until stop_event is set (forever without one).

    Applies pending migrations first. Pass `stats` to watch progress from another thread.
    Any number of these (threads or processes) may share one group_id: they split the
    partitions between them.
    """
    stop_event = stop_event or threading.Event()
    stats = stats if stats is not None else ProjectorStats()
    client = Client(ch_host, port=ch_port, database=ch_database)
    try:
        applied = migrate(client)
        if applied:
            log.info("applied ClickHouse migrations %s", applied)
        listener = RevocationListener()
        consumer = consumer_for(bootstrap, group_id, listener)
        projector = Projector(consumer, BatchingSink(client, max_rows, max_age_s), stats,
                              listener)
        try:
            while not stop_event.is_set():
                backoff = projector.step(max_records=max_rows)
                if backoff:
                    stop_event.wait(backoff)
            _drain(projector, stats, max_rows)
            projector.flush()
        finally:
            consumer.close(autocommit=False)
    finally:
        client.disconnect()
    return stats
