"""`complaintflow replay`: rebuild the ClickHouse projections from the topics, or the topics
from the ClickHouse archive (`--from-archive`, which `stack up` runs on a new, empty local
broker). The rules, and why, are in docs/replay.md.

**From the topics.** First it checks that the topics still hold everything the archive tables
hold that nothing else can make again: every archived input event on ``complaints.events``,
every letter refused at intake or undecodable on ``complaints.dlq``, every pinned calendar on
``complaints.sla-calendars``. If not (a new broker, retention), it refuses and changes nothing.
Then it empties every projection table but ``schema_migrations`` — the archive
``complaint_events`` too, since the topics provably hold it — and projects every source topic
of the projector from offset 0 with a consumer of its own (no group, no commits), until it
has caught up with the end of the topics. A running ``complaintflow project`` is left alone:
it keeps projecting new messages from its committed offsets, and both write the same keys.

**From the archive.** Only into an empty ``complaints.events``. It empties the projections the
worker derives (``tickets``, ``sla_events``, ``sla_outcomes``, ``sla_holiday_warnings`` and
the worker's dead letters), keeps the archives, publishes the archived pinned calendars,
republishes the dead letters nothing derives again, and produces every archived input event,
once, in log order, keyed by ticket; then a worker started on this broker rebuilds its state
and output from offset 0, and the projector re-projects all of it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from clickhouse_driver import Client
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from complaintflow import archive
from complaintflow.config import Settings, load_settings
from complaintflow.progress import Progress
from projections.migrate import migrate
from projections.projector import SOURCE_TOPICS  # what the projector reads
from projections.rows import (
    DEAD_LETTERS,
    SLA_EVENTS,
    SLA_HOLIDAY_WARNINGS,
    SLA_OUTCOMES_TABLE,
    TICKETS,
    Position,
    UnprojectableMessage,
    dead_letter_row,
    rows_for_message,
    undecodable_letter,
)
from projections.sink import BatchingSink, SinkError
from schemas import serde
from schemas.event import Event
from streams import topics

# What a restore empties: the projections of the worker's output, rebuilt from the restored log.
DERIVED_TABLES = (TICKETS.name, SLA_EVENTS.name, SLA_OUTCOMES_TABLE.name,
                  SLA_HOLIDAY_WARNINGS.name)
KEPT_TABLES = ("schema_migrations",)
_PROJECTION_TABLES = """
SELECT name FROM system.tables
WHERE database = currentDatabase() AND engine LIKE '%MergeTree' AND name NOT IN ({kept})
ORDER BY name
"""
CALENDAR_PARTITION = 0  # complaints.sla-calendars has one partition (streams/sla/registry.py)

SINK_MAX_ROWS = 20_000
SINK_MAX_AGE_S = 1.0
FLUSH_ATTEMPTS = 4
POLL_MS = 200
IDLE_POLLS_AT_END = 2  # empty polls, once every partition reached its end offset
MUTATION_TIMEOUT_S = 120.0
BATCH_BYTES = 1024 * 1024


class ReplayRefused(RuntimeError):
    """The replay would lose data or cannot run here; nothing was changed."""


class ReplayFailed(RuntimeError):
    """The replay started changing things and could not finish."""


def clickhouse(settings: Settings) -> Client:
    return Client(host=settings.clickhouse_host, port=settings.clickhouse_port,
                  connect_timeout=5, send_receive_timeout=300)


# ---------------------------------------------------------------- reading topics


def _consumer(bootstrap: str) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=bootstrap, client_id="complaintflow-replay",
                         group_id=None, enable_auto_commit=False)


def _partitions(consumer: KafkaConsumer, names: Iterable[str]) -> list[TopicPartition]:
    found: list[TopicPartition] = []
    for name in names:
        numbers = consumer.partitions_for_topic(name)
        if not numbers:
            raise ReplayRefused(f"topic {name} does not exist on this broker: create the topics "
                                "first (`complaintflow setup`, or `stack up` locally)")
        found += [TopicPartition(name, number) for number in sorted(numbers)]
    return found


def end_offsets(bootstrap: str, names: Iterable[str]) -> dict[TopicPartition, int]:
    """End offsets as the broker reports them. Tansu (the local broker) reports the base offset
    of a partition's last batch + 1, so they are exact only for topics written one record per
    batch; 0 still means that nothing was ever written."""
    consumer = _consumer(bootstrap)
    try:
        return consumer.end_offsets(_partitions(consumer, names))
    finally:
        consumer.close()


def read_to_end(consumer: KafkaConsumer, partitions: list[TopicPartition]
                ) -> Iterator[list[ConsumerRecord]]:
    """Every record of the partitions from offset 0, in polled batches, until the reader has
    caught up: each partition at (or past) the end offset taken at the start, and then
    IDLE_POLLS_AT_END polls in a row with nothing new. The idle polls matter on Tansu, whose
    end offset may point into the last batch; the rest of that batch comes with its first
    record, so it is buffered by the time the position reaches the reported end."""
    consumer.assign(partitions)
    if partitions:
        consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    idle = 0
    while True:
        polled = consumer.poll(timeout_ms=POLL_MS, max_records=SINK_MAX_ROWS)
        batch = [record for records in polled.values() for record in records]
        if batch:
            idle = 0
            yield batch
            continue
        if all(consumer.position(tp) >= ends[tp] for tp in partitions):
            idle += 1
            if idle >= IDLE_POLLS_AT_END:
                return


def event_id_of(raw: bytes | None) -> str | None:
    """The event_id of a framed Avro event without decoding the rest: every schema of the
    catalogue starts with the envelope, event_id (a string) first. None if not an event."""
    try:
        serde.writer_entry(raw or b"")
        length, position, shift = 0, 5, 0
        while True:  # the string's length: a zig-zag varint
            byte = raw[position]  # type: ignore[index]
            position += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        length = (length >> 1) ^ -(length & 1)
        if length < 0 or position + length > len(raw):  # type: ignore[arg-type]
            return None
        return raw[position:position + length].decode()  # type: ignore[index]
    except (serde.DecodeError, IndexError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------- what the topics still hold


@dataclass
class Coverage:
    """What the topics hold of what the archive tables hold."""

    records: dict[str, int] = field(default_factory=dict)  # records read per topic
    archived_events: int = 0
    missing_events: int = 0
    missing_letters: int = 0
    missing_calendars: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing_events or self.missing_letters or self.missing_calendars)


_SCANNED = (topics.EVENTS.name, topics.DLQ.name, topics.SLA_CALENDARS.name)


def _letter_id(raw: bytes | None) -> str | None:
    try:
        return str(json.loads(raw or b"")["dlq_id"])
    except (ValueError, KeyError, TypeError):
        return None


def topic_coverage(settings: Settings, client: Client, stream: TextIO) -> Coverage:
    """Read complaints.events, complaints.dlq and complaints.sla-calendars once, and count what
    of the archive they lack."""
    held: dict[str, set[str]] = {name: set() for name in _SCANNED}
    coverage = Coverage(records=dict.fromkeys(_SCANNED, 0))
    progress = Progress("checking the topics against the archive", unit="records",
                        stream=stream)
    consumer = _consumer(settings.kafka_bootstrap)
    try:
        done = 0
        for batch in read_to_end(consumer, _partitions(consumer, _SCANNED)):
            for record in batch:
                coverage.records[record.topic] += 1
                if record.topic == topics.EVENTS.name:
                    key = event_id_of(record.value)
                elif record.topic == topics.DLQ.name:
                    key = _letter_id(record.value)
                else:  # a calendar, keyed by its fingerprint
                    key = (record.key or b"").decode(errors="replace")
                if key is not None:
                    held[record.topic].add(key)
            done += len(batch)
            progress.update(done)
    finally:
        consumer.close()
    progress.finish()

    def missing(query: str, on_topic: set[str], what: str) -> int:
        count = 0
        for (key,) in client.execute_iter(query, settings={"max_block_size": 50_000}):
            if key not in on_topic:
                count += 1
                if len(coverage.examples) < 5:
                    coverage.examples.append(f"{what} {key}")
        return count

    coverage.archived_events = archive.archive_counts(client)[0]
    coverage.missing_events = missing(archive.ARCHIVED_EVENT_IDS, held[topics.EVENTS.name],
                                      "event")
    coverage.missing_letters = missing(archive.ARCHIVAL_LETTER_IDS, held[topics.DLQ.name],
                                       "dead letter")
    coverage.missing_calendars = missing("SELECT DISTINCT fingerprint FROM sla_calendars",
                                         held[topics.SLA_CALENDARS.name], "calendar")
    return coverage


# ---------------------------------------------------------------- replay from the topics


@dataclass
class ReplayResult:
    emptied: list[str]
    messages: int = 0
    undecodable: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    check_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        rows = ", ".join(f"{table} {count:,}" for table, count in sorted(self.rows.items()))
        return (f"replayed {self.messages:,} messages from {len(SOURCE_TOPICS)} topics in "
                f"{self.seconds:.1f} s ({self.rate:,.0f} messages/s; checking the topics took "
                f"{self.check_seconds:.1f} s); rows: {rows or 'none'}; "
                f"undecodable (dead-lettered): {self.undecodable}")


def projection_tables(client: Client) -> list[str]:
    kept = ", ".join(f"'{name}'" for name in KEPT_TABLES)
    return [name for (name,) in client.execute(_PROJECTION_TABLES.format(kept=kept))]


def _truncate(client: Client, tables: Iterable[str]) -> list[str]:
    emptied = []
    for table in tables:
        client.execute(f"TRUNCATE TABLE `{table}`")
        emptied.append(table)
    return emptied


def _flush(sink: BatchingSink) -> dict[str, int]:
    for attempt in range(FLUSH_ATTEMPTS):
        try:
            return sink.flush()  # on failure the buffer is kept: flushing again re-inserts it
        except SinkError as exc:
            if attempt == FLUSH_ATTEMPTS - 1:
                raise ReplayFailed(f"ClickHouse refused the replay's inserts: {exc}; "
                                   "run `complaintflow replay` again") from exc
            time.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")


def project_topics(settings: Settings, client: Client, progress: Progress) -> ReplayResult:
    """Project every source topic from offset 0 into ClickHouse until caught up."""
    result = ReplayResult(emptied=[])
    sink = BatchingSink(client, SINK_MAX_ROWS, SINK_MAX_AGE_S)
    consumer = _consumer(settings.kafka_bootstrap)
    started = time.monotonic()
    try:
        for batch in read_to_end(consumer, _partitions(consumer, SOURCE_TOPICS)):
            now = time.time()
            for record in batch:
                position = Position(record.topic, record.partition, record.offset)
                try:
                    rows = rows_for_message(record.value, position, ingested_at=int(now))
                except UnprojectableMessage as exc:
                    result.undecodable += 1
                    letter = undecodable_letter(record.value, position, str(exc),
                                                int(now * 1000))
                    rows = [(DEAD_LETTERS, dead_letter_row(letter))]
                sink.add_all(rows)
            result.messages += len(batch)
            if sink.due():
                _add_rows(result, _flush(sink))
            progress.update(result.messages)
        _add_rows(result, _flush(sink))
    finally:
        consumer.close()
    result.seconds = time.monotonic() - started
    return result


def _add_rows(result: ReplayResult, written: dict[str, int]) -> None:
    for table, count in written.items():
        result.rows[table] = result.rows.get(table, 0) + count


def replay_from_topics(settings: Settings, stream: TextIO = sys.stderr) -> ReplayResult:
    client = clickhouse(settings)
    try:
        migrate(client)
        checked = time.monotonic()
        coverage = topic_coverage(settings, client, stream)
        check_seconds = time.monotonic() - checked
        if not coverage.complete:
            raise ReplayRefused(_incomplete(coverage))
        emptied = _truncate(client, projection_tables(client))
        print(f"emptied {', '.join(emptied)}; kept {', '.join(KEPT_TABLES)}", file=stream)
        ends = end_offsets(settings.kafka_bootstrap, SOURCE_TOPICS)
        # Reported ends are exact for the topics written one record per batch; the scan
        # counted the others.
        estimate = sum(offset for tp, offset in ends.items() if tp.topic not in _SCANNED)
        estimate += sum(coverage.records.values())
        progress = Progress("replay", total=estimate, unit="messages", stream=stream)
        result = project_topics(settings, client, progress)
        progress.finish()
        result.emptied, result.check_seconds = emptied, check_seconds
        return result
    finally:
        client.disconnect()


def _incomplete(coverage: Coverage) -> str:
    lacking = [f"{count:,} {what}" for count, what in (
        (coverage.missing_events, f"of the {coverage.archived_events:,} archived input events"),
        (coverage.missing_letters, "archived dead letters (intake, decode)"),
        (coverage.missing_calendars, "archived pinned calendars")) if count]
    return (f"the topics lack {' and '.join(lacking)} (e.g. {', '.join(coverage.examples)}): "
            "the broker is not the one they were archived from, or retention deleted them. "
            "Rebuilding the projections from these topics would drop them, so nothing was "
            "changed. To restore the topics from the archive, run `complaintflow replay "
            "--from-archive` against an empty broker (locally: `complaintflow stack down`, "
            "then `stack up` restores it).")


# ---------------------------------------------------------------- restore from the archive


@dataclass
class RestoreResult:
    events: int = 0
    tickets: int = 0
    partitions: int = 0
    calendars: int = 0
    letters: int = 0
    derived_letters_deleted: int = 0
    emptied: list[str] = field(default_factory=list)
    seconds: float = 0.0
    produce_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.produce_seconds if self.produce_seconds > 0 else 0.0

    def summary(self) -> str:
        return (f"restored from the ClickHouse archive in {self.seconds:.1f} s: {self.events:,} "
                f"input events of {self.tickets:,} tickets to {topics.EVENTS.name} "
                f"({self.partitions} partitions, {self.rate:,.0f} events/s), "
                f"{self.calendars} pinned calendars to {topics.SLA_CALENDARS.name}, "
                f"{self.letters} dead letters to {topics.DLQ.name}; emptied "
                f"{', '.join(self.emptied)} and {self.derived_letters_deleted} dead letters of "
                "the worker: the worker rebuilds them from offset 0 and the projector "
                "re-projects them")


def _partition_for(key: bytes, partitions: int) -> int:
    """The partition kafka-python's and aiokafka's default partitioner pick for a key."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def _produce(bootstrap: str, topic: str,
                   records: Iterable[tuple[bytes | None, bytes, bytes]],
                   progress: Progress | None) -> tuple[int, int]:
    """Send (key, value, partition key) records in large batches, each to its partition key's
    partition, in order per partition; return (sent, partitions). aiokafka keeps one request
    in flight per partition, so a retried batch cannot overtake the next one.

    The last record of each partition goes alone in a batch of its own, after the others:
    Tansu reports a partition's end offset as the base offset of its last batch + 1, so this
    keeps the reported end exact. The worker takes the input's end offset, when a partition
    is assigned, as the point where it stops catching up on the log's time and runs on the
    wall clock (streams/pipeline/agent.py); an end inside the last batch would put the rest
    of a restore on the wall clock, and its SLA events would depend on timing."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.producer.message_accumulator import BatchBuilder

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                client_id="complaintflow-restore",
                                max_batch_size=BATCH_BYTES, max_request_size=4 * BATCH_BYTES)
    await producer.start()
    try:
        count = len(await producer.partitions_for(topic))
        batches: dict[int, BatchBuilder] = {}
        held: dict[int, tuple[bytes | None, bytes]] = {}  # each partition's latest record
        pending: list[asyncio.Future] = []
        sent = 0

        async def ship(partition: int) -> None:
            batch = batches.pop(partition)
            batch.close()
            pending.append(await producer.send_batch(batch, topic, partition=partition))

        async def append(partition: int, key: bytes | None, value: bytes) -> None:
            batch = batches.setdefault(partition, producer.create_batch())
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                await ship(partition)
                batches[partition] = producer.create_batch()
                if batches[partition].append(key=key, value=value, timestamp=None) is None:
                    raise ReplayFailed(f"a record of {len(value)} bytes does not fit a batch")

        for key, value, partition_key in records:
            partition = _partition_for(partition_key, count)
            if partition in held:
                await append(partition, *held[partition])
            held[partition] = (key, value)
            sent += 1
            if progress is not None and sent % 1000 == 0:
                progress.update(sent)
        for partition in list(batches):
            await ship(partition)
        for partition, (key, value) in held.items():
            await append(partition, key, value)  # alone: the earlier batch was shipped
            await ship(partition)
        await asyncio.gather(*pending)
        if progress is not None:
            progress.update(sent)
        return sent, count
    finally:
        await producer.stop()


def _publish_calendars(settings: Settings, records: list[tuple[bytes, bytes]]) -> int:
    """One record per batch on the local profile: the worker reads this topic up to its end
    offset (streams/sla/registry.py), which Tansu reports right only for single-record
    batches."""
    from kafka import KafkaProducer

    if not records:
        return 0
    consumer = _consumer(settings.kafka_bootstrap)
    try:
        known = {(record.key or b"") for batch in read_to_end(
            consumer, _partitions(consumer, [topics.SLA_CALENDARS.name])) for record in batch}
    finally:
        consumer.close()
    batching = ({"linger_ms": 0, "batch_size": 1} if settings.profile == "local" else {})
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                             client_id="complaintflow-restore", **batching)
    published = 0
    try:
        for key, value in records:
            if key in known:
                continue
            producer.send(topics.SLA_CALENDARS.name, key=key, value=value,
                          partition=CALENDAR_PARTITION).get(timeout=30)
            published += 1
    finally:
        producer.close()
    return published


def _delete_derived_letters(client: Client) -> int:
    (count,) = client.execute(
        f"SELECT count() FROM dead_letters WHERE {archive.DERIVED_LETTERS}")[0]
    if not count:
        return 0
    client.execute(f"ALTER TABLE dead_letters DELETE WHERE {archive.DERIVED_LETTERS}")
    deadline = time.monotonic() + MUTATION_TIMEOUT_S
    while client.execute("SELECT count() FROM system.mutations WHERE database = "
                         "currentDatabase() AND table = 'dead_letters' AND is_done = 0")[0][0]:
        if time.monotonic() > deadline:
            raise ReplayFailed("ClickHouse did not finish deleting the worker's dead letters "
                               f"within {MUTATION_TIMEOUT_S:.0f} s (see system.mutations)")
        time.sleep(0.1)
    return int(count)


def _event_records(events: Iterator[Event], tickets: set[str]
                   ) -> Iterator[tuple[bytes, bytes, bytes]]:
    for event in events:
        tickets.add(event.ticket_id)
        key = event.ticket_id.encode()
        try:
            value = serde.encode(event)
        except (ValueError, TypeError, KeyError) as exc:  # fastavro: ValueError mostly
            raise ReplayFailed(f"archived event {event.event_id} ({event.event_type} "
                               f"v{event.schema_version}) does not encode: {exc}") from exc
        yield key, value, key


def restore_from_archive(settings: Settings, stream: TextIO = sys.stderr) -> RestoreResult:
    """Refuses unless complaints.events is empty. Changes ClickHouse before the broker, so that
    a worker and projector already running cannot project rows that are then deleted."""
    started = time.monotonic()
    ends = end_offsets(settings.kafka_bootstrap, [topics.EVENTS.name])
    if any(ends.values()):
        held = ", ".join(f"{tp.partition}: {offset}" for tp, offset in sorted(ends.items()))
        raise ReplayRefused(
            f"{topics.EVENTS.name} is not empty (end offsets by partition {held}): "
            "--from-archive restores only into an empty broker, so that no event is there "
            "twice. To rebuild the projections from these topics, run `complaintflow replay`.")
    client = clickhouse(settings)
    result = RestoreResult()
    try:
        migrate(client)
        total, _ = archive.archive_counts(client)
        calendars = archive.archived_calendars(client)
        letters = archive.restored_letters(client)
        result.emptied = _truncate(client, DERIVED_TABLES)
        result.derived_letters_deleted = _delete_derived_letters(client)
        # Calendars before any worker reads them; letters and events in any order after.
        result.calendars = _publish_calendars(settings, calendars)
        result.letters, _ = asyncio.run(_produce(
            settings.kafka_bootstrap, topics.DLQ.name,
            ((None if letter.ticket_id is None else letter.ticket_id.encode(),
              letter.to_json(), (letter.ticket_id or letter.dlq_id).encode())
             for letter in letters), None))
        tickets: set[str] = set()
        progress = Progress("restore", total=total, unit="events", stream=stream)
        produced = time.monotonic()
        result.events, result.partitions = asyncio.run(_produce(
            settings.kafka_bootstrap, topics.EVENTS.name,
            _event_records(archive.archived_events(client), tickets), progress))
        result.produce_seconds = time.monotonic() - produced
        progress.finish()
        result.tickets = len(tickets)
    finally:
        client.disconnect()
    result.seconds = time.monotonic() - started
    return result


def _broker_is_fresh(settings: Settings) -> bool:
    """Nothing was ever written to any topic of the system."""
    return not any(end_offsets(settings.kafka_bootstrap,
                               [spec.name for spec in topics.ALL_TOPICS]).values())


def _archive_holds_anything(settings: Settings) -> bool:
    client = clickhouse(settings)
    try:
        migrate(client)
        (held,) = client.execute(
            "SELECT (SELECT count() FROM complaint_events) + (SELECT count() FROM sla_calendars)"
            f" + (SELECT count() FROM dead_letters WHERE {archive.RESTORED_LETTERS})")[0]
        return bool(held)
    finally:
        client.disconnect()


def restore_if_needed(settings: Settings, stream: TextIO = sys.stderr) -> RestoreResult | None:
    """Restore a fresh broker from a non-empty archive; None when there is nothing to do."""
    if not _broker_is_fresh(settings) or not _archive_holds_anything(settings):
        return None
    print("the broker is new and empty, the ClickHouse archive is not: restoring the topics "
          "from the archive...", file=stream, flush=True)
    result = restore_from_archive(settings, stream)
    print(result.summary(), file=stream, flush=True)
    return result


def restore_after_stack_up(state_dir: Path, stream: TextIO = sys.stderr
                           ) -> RestoreResult | None:
    """`stack up`: the local broker keeps its log in memory, ClickHouse keeps its data under
    the state dir, so a new broker is restored from the archive before the stack is reported
    ready. If that fails the stack is stopped: no service may start on a partial log."""
    from complaintflow import stack

    state_dir = Path(state_dir).resolve()
    settings = load_settings(env={}, state_dir=state_dir)  # this stack's endpoints, not CF_*
    with (state_dir / ".restore.lock").open("w") as lock:  # one restore per new broker
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return restore_if_needed(settings, stream)
        except BaseException as exc:
            stack.down(state_dir)
            raise ReplayFailed(
                f"restoring the new broker from the ClickHouse archive failed ({exc}); the "
                "stack was stopped so that no service runs on a partial log. Fix the cause and "
                f"run `complaintflow stack up` again (or move {state_dir / 'clickhouse'} "
                "away to start with an empty archive).") from exc
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---------------------------------------------------------------- command line


def run_replay_command(settings: Settings, from_archive: bool,
                       stream: TextIO = sys.stderr) -> int:
    try:
        if from_archive:
            result: Any = restore_from_archive(settings, stream)
            print(result.summary())
            print("start the worker and the projector (`complaintflow worker`, `complaintflow "
                  "project`) if they do not run: they rebuild the projections from the "
                  "restored log")
        else:
            result = replay_from_topics(settings, stream)
            print(result.summary())
    except ReplayRefused as exc:
        print(f"replay refused: {exc}", file=stream)
        return 1
    except ReplayFailed as exc:
        print(f"replay failed: {exc}", file=stream)
        return 1
    return 0
