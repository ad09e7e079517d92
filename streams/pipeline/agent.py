"""The worker's one Faust agent: every input record through every per-ticket step, in batches.

`complaints.events` and the timer ticks on `complaints.sla-ticks` are read as one stream.
Records are processed in batches (up to BATCH_MAX, or whatever has arrived when a tick comes;
a timer sends a flush tick when a batch waits longer than FLUSH_AFTER_S). Per batch, in this
order, so that a crash anywhere repeats work but loses nothing:

1. every output (ticket.state_changed, sla.*, dead letters) is handed to the producer;
2. each changed ticket's record is written once to the changelog `complaints.worker-state`;
3. the producer is flushed: the broker has acknowledged all of it;
4. the records go to the partition's RocksDB with the changelog position;
5. the input records are acknowledged, and Faust commits their offsets.

A repeat of a record after a crash is recognised by the ticket's state (a redelivery) and
changes nothing; outputs re-sent for a batch that had not finished carry the same ids.

Ownership: a partition is usable once assigned and recovered (its changelog replayed, its
deadline index built, the calendars its running clocks need checked); on revocation its
index is dropped after the batch in flight has finished. A partition starts "catching up":
its SLA clock runs on the log's time until the stream has reached the end of the partition
as it was when it was assigned, so deadlines that passed while no worker ran are decided by
the backlog's events, not announced on the wall clock first and retracted after. A caught-up
partition whose events arrive long after their event time (a replay, time-compressed
traffic) keeps running on the log's time, advancing at wall speed (streams/sla/watermark.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import faust
from faust.types import TP
from prometheus_client import Counter, Histogram

from schemas import serde
from schemas.event import Event
from streams import topics
from streams.app import raw_topic
from streams.pipeline.step import (
    EMPTY,
    Output,
    Step,
    TicketRecord,
    apply_due,
    apply_input,
    apply_purge,
)
from streams.pipeline.store import PartitionStore, Running, recover, running_entry
from streams.sla.clock import SLA_STARTED, next_due
from streams.sla.deadlines import DeadlineIndex
from streams.sla.holiday_gaps import HolidayNotices, holiday_gaps
from streams.sla.policy import SlaPolicy
from streams.sla.watermark import PartitionClock
from streams.tickets.handling import Origin
from streams.tickets.model import DEFAULT_RETENTION_MS

BATCH_MAX = 500
FLUSH_AFTER_S = 0.05
TICK_SECONDS = 0.05  # timer period: flush ticks and due deadlines
REBUILD_SLICE = 5_000
FLUSH = b"flush"

OUTCOMES = Counter("complaintflow_ticket_events_total", "Input events by outcome", ["outcome"])
SLA_EVENTS = Counter("complaintflow_sla_events_total", "sla.* events emitted", ["event_type"])
TICK_DUE = Histogram("complaintflow_sla_tick_due_tickets", "Tickets due per timer tick",
                     buckets=(0, 1, 10, 100, 1_000, 10_000))
SLA_DEAD_LETTERS = Counter("complaintflow_sla_dead_letters_total",
                           "Ticket changes or deadline checks the SLA step could not process "
                           "(the ticket's clocks stop being tracked)")
CLOCKS_ON_INCOMPLETE_HOLIDAYS = Counter(
    "complaintflow_sla_clocks_on_incomplete_holiday_data_total",
    "SLA clocks started on a year whose holiday data is provisional or missing",
    ["calendar", "year", "status"])
BATCH_RECORDS = Histogram("complaintflow_worker_batch_records", "Records per worker batch",
                          buckets=(1, 10, 50, 100, 250, 500))


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Owned:
    """A partition this worker owns: its state, deadline index and notion of "now"."""

    store: PartitionStore
    index: DeadlineIndex = field(default_factory=DeadlineIndex)
    purges: DeadlineIndex = field(default_factory=DeadlineIndex)  # closed tickets' retention
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # The end of the partition when it was assigned; until the stream reaches it, the
    # partition is catching up and runs on the log's time.
    catch_up_to: int = 0
    live: bool = False


def register(app: faust.App, data_dir: Path, pinned_policy: Callable[[], SlaPolicy],
             stop: Callable[[str], NoReturn],
             retention_ms: int = DEFAULT_RETENTION_MS) -> faust.types.AgentT:
    """The agent. ``pinned_policy`` reads the calendars pinned so far (blocking I/O) and
    returns the policy able to serve them; ``stop`` ends the process at once, processing and
    committing nothing more; a closed ticket's state leaves the worker ``retention_ms`` after
    it closed (a tombstone stays, to refuse its late events)."""
    source = app.topic(topics.EVENTS.name, topics.SLA_TICKS.name, key_type=bytes,
                       value_type=bytes, key_serializer="raw", value_serializer="raw")
    ticks = raw_topic(app, topics.SLA_TICKS)
    owned: dict[int, Owned] = {}
    # Once caught up, a partition whose events arrive long after their event time (a replay,
    # time-compressed traffic) still runs on the log's time, advancing at wall speed.
    clocks = PartitionClock()
    notices = HolidayNotices()

    def now_of(partition: int, part: Owned, wall_ms: int) -> int:
        if part.live:
            return clocks.now(partition, wall_ms)
        return min(wall_ms, clocks.latest(partition) or 0)
    busy = asyncio.Lock()  # held while a batch runs: a revocation waits for it
    pending_since: float | None = None
    policy = pinned_policy()

    async def send_and_wait(topic: str, partition: int, key: bytes, value: bytes | None) -> int:
        future = await app.producer.send(topic, key, value, partition, None, None)
        return (await future).offset

    def running_of(record: TicketRecord) -> Running | None:
        due = None if record.sla is None else next_due(record.sla, policy)
        return running_entry(record, due, retention_ms)

    async def take_over(partition: int, refreshed: asyncio.Future) -> None:
        nonlocal policy
        # Calendars pinned by other workers, before the recovered clocks are measured.
        policy = await refreshed
        part = owned[partition]
        async with _Reader(app) as reader:
            await recover(part.store, partition, send_and_wait, reader.read_from, running_of)
            end = await reader.end(topics.EVENTS.name, partition)
        position = await app.consumer.position(TP(topics.EVENTS.name, partition))
        part.catch_up_to = end
        part.live = position is not None and position >= end
        needed: list[tuple[str, str | None]] = []
        for count, (ticket_id, running) in enumerate(part.store.running(), start=1):
            needed += running.calendars
            part.index.schedule(ticket_id, running.due)
            part.purges.schedule(ticket_id, running.purge_at)
            if count % REBUILD_SLICE == 0:
                await asyncio.sleep(0)  # a million clocks must not starve the heartbeat
        unservable = policy.unservable(needed)
        if unservable:
            needs = ", ".join(f"{label}: {n} tickets" for label, n in sorted(unservable.items()))
            stop(f"SLA policy {policy.version!r} cannot serve running clocks; they need the "
                 f"calendars {needs}. Restore those calendars in the policy (same name for "
                 "unpinned clocks) or start with the policy they ran on; "
                 "`complaintflow policy check FILE` shows this before a deploy")
        part.ready.set()

    async def taken_over(partition: int, refreshed: asyncio.Future) -> None:
        try:
            await take_over(partition, refreshed)
        except Exception as exc:  # a partition that never gets ready would stall the stream
            stop(f"taking partition {partition} over failed: {type(exc).__name__}: {exc}")

    async def on_assigned(_sender: object, assigned: set[TP], **_kwargs: object) -> None:
        new = [tp.partition for tp in assigned
               if tp.topic == topics.EVENTS.name and tp.partition not in owned]
        if not new:
            return
        refreshed = asyncio.ensure_future(asyncio.to_thread(pinned_policy))  # once for all
        for partition in new:
            owned[partition] = Owned(PartitionStore(data_dir / "state" / str(partition)))
            asyncio.ensure_future(taken_over(partition, refreshed))

    async def on_revoked(_sender: object, revoked: set[TP], **_kwargs: object) -> None:
        async with busy:  # the batch in flight finishes its writes first
            for tp in revoked:
                if tp.topic == topics.EVENTS.name and tp.partition in owned:
                    owned.pop(tp.partition).store.close()
                    clocks.forget(tp.partition)

    app.on_partitions_assigned.connect(on_assigned)
    app.on_partitions_revoked.connect(on_revoked)

    async def run_batch(batch: list[faust.EventT]) -> None:
        wall = _now_ms()
        records: dict[tuple[int, str], TicketRecord] = {}
        changed: dict[int, dict[str, Running | None]] = {}
        outputs: list[Output] = []

        def load(partition: int, ticket_id: str) -> TicketRecord:
            key = (partition, ticket_id)
            if key not in records:
                records[key] = owned[partition].store.get(ticket_id) or EMPTY
            return records[key]

        def absorb(partition: int, ticket_id: str, step: Step) -> None:
            outputs.extend(step.outputs)
            outputs.extend(_announcements(step.sla_events, notices, policy))
            if step.ticket_outcome is not None:
                OUTCOMES.labels(step.ticket_outcome).inc()
            if step.sla_dead_letter:
                SLA_DEAD_LETTERS.inc()
            if step.record is not None:
                records[(partition, ticket_id)] = step.record
                running = running_entry(step.record, step.due, retention_ms)
                changed.setdefault(partition, {})[ticket_id] = running
                owned[partition].index.schedule(ticket_id, step.due)
                owned[partition].purges.schedule(ticket_id, running and running.purge_at)

        for event in batch:
            message = event.message
            part = owned.get(message.partition)
            if part is None:
                continue  # revoked: its new owner reads it again
            await part.ready.wait()
            if message.topic == topics.SLA_TICKS.name:
                now = now_of(message.partition, part, wall)
                due = part.index.pop_due(now)
                TICK_DUE.observe(len(due))
                for ticket_id in due:
                    step = apply_due(load(message.partition, ticket_id), now, policy)
                    absorb(message.partition, ticket_id, step)
                for ticket_id in part.purges.pop_due(wall):
                    step = apply_purge(load(message.partition, ticket_id), wall, retention_ms)
                    absorb(message.partition, ticket_id, step)
                continue
            ticket_id = (message.key or b"").decode(errors="replace")
            origin = Origin(message.topic, message.partition, message.offset)
            step = apply_input(load(message.partition, ticket_id), message.value, message.key,
                               origin, policy, wall)
            absorb(message.partition, ticket_id, step)
            if step.record is not None and step.record.sla is not None:
                clocks.observe(message.partition, step.record.sla.watermark, wall)
            if not part.live and message.offset + 1 >= part.catch_up_to:
                part.live = True
        await _publish(app, outputs, records, changed, owned)
        BATCH_RECORDS.observe(len(batch))

    @app.agent(source, name="complaints")
    async def process(stream: faust.StreamT) -> None:
        nonlocal pending_since
        manual = stream.noack()
        batch: list[faust.EventT] = []
        async for event in manual.events():
            batch.append(event)
            if len(batch) < BATCH_MAX and event.message.topic != topics.SLA_TICKS.name:
                pending_since = pending_since or time.monotonic()
                continue
            try:
                async with busy:
                    await run_batch(batch)
            except Exception as exc:  # nothing of the batch may be acknowledged
                stop(f"a batch failed: {type(exc).__name__}: {exc}")
            for done in batch:
                await manual.ack(done)
            batch.clear()
            pending_since = None

    @app.timer(TICK_SECONDS)
    async def tick() -> None:
        """Wake the stream for a due deadline, or for a batch waiting too long."""
        wall = _now_ms()
        waiting = pending_since is not None and time.monotonic() - pending_since >= FLUSH_AFTER_S
        for partition, part in list(owned.items()):
            due = [at for at in (part.index.earliest(), part.purges.earliest()) if at is not None]
            if part.ready.is_set() and due and min(due) <= now_of(partition, part, wall):
                await ticks.send(key=b"tick", value=str(wall).encode(), partition=partition)
                waiting = False
        if waiting and owned:
            await ticks.send(key=b"tick", value=FLUSH, partition=min(owned))

    return process


def _announcements(events: list[Event], notices: HolidayNotices, policy: SlaPolicy
                   ) -> list[Output]:
    """Metrics for the sla.* events, and the holiday-data warnings they call for."""
    announced: list[Event] = []
    for event in events:
        SLA_EVENTS.labels(event.event_type).inc()
        gaps = holiday_gaps(event, policy)
        if event.event_type == SLA_STARTED:
            for gap in gaps:
                CLOCKS_ON_INCOMPLETE_HOLIDAYS.labels(gap.calendar, str(gap.year),
                                                     gap.status).inc()
        announced += notices.announce(gaps, event)
    for notice in announced:
        SLA_EVENTS.labels(notice.event_type).inc()
    return [Output(topics.SLA.name, n.ticket_id.encode(), serde.encode(n)) for n in announced]


async def _publish(app: faust.App, outputs: list[Output],
                   records: dict[tuple[int, str], TicketRecord],
                   changed: dict[int, dict[str, Running | None]],
                   owned: dict[int, Owned]) -> None:
    """Steps 1-4 of the module docstring: outputs and changelog, flushed, then RocksDB."""
    for output in outputs:
        await app.producer.send(output.topic, output.key, output.value, None, None, None)
    values: dict[int, dict[str, bytes]] = {}
    offsets: dict[int, list[asyncio.Future]] = {}
    for partition, tickets in changed.items():
        for ticket_id in tickets:
            value = records[(partition, ticket_id)].to_json()
            values.setdefault(partition, {})[ticket_id] = value
            future = await app.producer.send(topics.WORKER_STATE.name, ticket_id.encode(),
                                             value, partition, None, None)
            offsets.setdefault(partition, []).append(future)
    await app.producer.flush()
    for partition, tickets in changed.items():
        position = max([(await f).offset for f in offsets[partition]]) + 1
        owned[partition].store.write(
            {ticket_id: (values[partition][ticket_id], running)
             for ticket_id, running in tickets.items()}, position)


class _Reader:
    """A short-lived consumer outside the group, for taking a partition over: the changelog
    read from a position, and the input's end offset."""

    def __init__(self, app: faust.App) -> None:
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(bootstrap_servers=_bootstrap(app),
                                          enable_auto_commit=False, group_id=None)
        self._at: tuple[int, int] | None = None  # (partition, next offset) it is seeked to

    async def __aenter__(self) -> _Reader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._consumer.stop()

    async def read_from(self, partition: int, offset: int) -> list[tuple[int, bytes, bytes]]:
        from aiokafka import TopicPartition

        tp = TopicPartition(topics.WORKER_STATE.name, partition)
        if self._at != (partition, offset):
            self._consumer.assign([tp])
            self._consumer.seek(tp, offset)
        batches = await self._consumer.getmany(tp, timeout_ms=500, max_records=20_000)
        records = [(r.offset, r.key, r.value) for r in batches.get(tp, [])]
        if records:
            self._at = (partition, records[-1][0] + 1)
        return records

    async def end(self, topic: str, partition: int) -> int:
        from aiokafka import TopicPartition

        tp = TopicPartition(topic, partition)
        return (await self._consumer.end_offsets([tp]))[tp]


def _bootstrap(app: faust.App) -> str:
    return ",".join(f"{url.host}:{url.port}" for url in app.conf.broker)
