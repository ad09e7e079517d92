"""Thin Faust wiring of the SLA engine: ticket changes and timer ticks in, sla.* out."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from typing import NoReturn

import faust
from prometheus_client import Counter, Histogram

from schemas import serde
from schemas.event import Event
from streams import topics
from streams.app import raw_topic
from streams.sla.clock import SLA_STARTED, SlaState, next_due, unservable_clocks
from streams.sla.deadlines import DeadlineIndex
from streams.sla.handling import SlaOutcome, handle_change, handle_due
from streams.sla.holiday_gaps import HolidayNotices, holiday_gaps
from streams.sla.policy import SlaPolicy, UnknownCalendar
from streams.sla.watermark import PartitionClock
from streams.tickets.handling import Origin

TICK_SECONDS = 0.25
REBUILD_SLICE = 5_000
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


def register(app: faust.App, pinned_policy: Callable[[], SlaPolicy],
             stop: Callable[[str], NoReturn]) -> faust.types.AgentT:
    """The SLA agent. ``pinned_policy`` reads the calendars pinned so far (blocking I/O) and
    returns the policy able to serve them; ``stop`` ends the process at once, processing
    and committing nothing more (a policy that cannot serve the running clocks)."""
    source = app.topic(topics.TICKET_STATE.name, topics.SLA_TICKS.name, key_type=bytes,
                       value_type=bytes, key_serializer="raw", value_serializer="raw")
    ticks = raw_topic(app, topics.SLA_TICKS)
    sla_out = raw_topic(app, topics.SLA)
    dlq = raw_topic(app, topics.DLQ)
    # Values are SlaState.to_dict(); the changelog makes clocks survive a restart.
    clocks = app.Table("sla-clocks", default=None, partitions=topics.TICKET_STATE.partitions,
                       key_type=str)
    # Derived from the table (rebuilt after a restart), so keeping them in memory loses nothing.
    indexes: dict[int, DeadlineIndex] = defaultdict(DeadlineIndex)
    partition_clock = PartitionClock()
    notices = HolidayNotices()
    policy = pinned_policy()
    rebuilt = False

    async def on_assigned(*_args: object, **_kwargs: object) -> None:
        nonlocal rebuilt
        rebuilt = False  # index (and check) the clocks of the partitions just assigned

    app.on_partitions_assigned.connect(on_assigned)

    async def refresh_policy() -> None:
        # Another worker may have pinned clocks to calendars of a newer policy.
        nonlocal policy
        policy = await asyncio.to_thread(pinned_policy)

    def load(ticket_id: str) -> SlaState | None:
        stored = clocks.get(ticket_id)
        return SlaState.from_dict(stored) if stored else None

    async def rebuild_index() -> None:
        await refresh_policy()
        unservable: dict[str, int] = {}
        for count, (ticket_id, stored) in enumerate(clocks.items(), start=1):
            state = SlaState.from_dict(stored)
            missing = unservable_clocks([state], policy)
            if missing:
                for label, n in missing.items():
                    unservable[label] = unservable.get(label, 0) + n
                continue
            indexes[state.partition].schedule(ticket_id, next_due(state, policy))
            partition_clock.observe(state.partition, state.watermark, state.watermark)
            if count % REBUILD_SLICE == 0:
                await asyncio.sleep(0)  # a million clocks must not starve the heartbeat
        if unservable:
            needed = ", ".join(f"{label}: {n} clocks" for label, n in sorted(unservable.items()))
            stop(f"SLA policy {policy.version!r} cannot serve running clocks; they need the "
                 f"calendars {needed}. Restore those calendars in the policy (same name for "
                 "unpinned clocks) or start with the policy they ran on; "
                 "`complaintflow policy check FILE` shows this before a deploy")

    def announce_holiday_gaps(events: list[Event]) -> list[Event]:
        announced = []
        for event in events:
            gaps = holiday_gaps(event, policy)
            for gap in gaps:
                if event.event_type == SLA_STARTED:
                    CLOCKS_ON_INCOMPLETE_HOLIDAYS.labels(gap.calendar, str(gap.year),
                                                         gap.status).inc()
            announced += notices.announce(gaps, event)
        return announced

    async def apply(outcome: SlaOutcome, partition: int, key: bytes | None) -> None:
        if outcome.dead_letter:
            SLA_DEAD_LETTERS.inc()
            await dlq.send(key=key, value=outcome.dead_letter.to_json())
        if outcome.state is None:
            return
        clocks[outcome.state.ticket_id] = outcome.state.to_dict()
        indexes[partition].schedule(outcome.state.ticket_id, outcome.due)
        for event in [*outcome.events, *announce_holiday_gaps(outcome.events)]:
            SLA_EVENTS.labels(event.event_type).inc()
            await sla_out.send(key=event.ticket_id.encode(), value=serde.encode(event))

    @app.agent(source, name="sla")
    async def process(stream: faust.StreamT) -> None:
        nonlocal rebuilt
        async for record in stream.events():
            message = record.message
            wall_ms = int(time.time() * 1000)
            if not rebuilt:
                await rebuild_index()
                rebuilt = True
            partition = message.partition
            if message.topic == topics.SLA_TICKS.name:
                now = partition_clock.now(partition, wall_ms)
                due = indexes[partition].pop_due(now)
                TICK_DUE.observe(len(due))
                for ticket_id in due:
                    state = load(ticket_id)
                    if state is not None:
                        await apply(handle_due(state, now, policy), partition,
                                    ticket_id.encode())
                continue
            origin = Origin(message.topic, partition, message.offset)
            outcome = handle_change(record.value, origin, load, policy, wall_ms)
            if outcome.dead_letter and outcome.dead_letter.reason.startswith(
                    UnknownCalendar.__name__):
                await refresh_policy()
                outcome = handle_change(record.value, origin, load, policy, wall_ms)
            if outcome.state is not None:
                partition_clock.observe(partition, outcome.state.watermark, wall_ms)
            await apply(outcome, partition, message.key)

    @app.timer(TICK_SECONDS)
    async def tick() -> None:
        """Wake a partition's stream only when one of its deadlines may have come."""
        wall_ms = int(time.time() * 1000)
        for partition in range(topics.SLA_TICKS.partitions):
            earliest = indexes[partition].earliest()
            due = earliest is not None and earliest <= partition_clock.now(partition, wall_ms)
            if due or not rebuilt:
                await ticks.send(key=b"tick", value=str(wall_ms).encode(), partition=partition)

    return process
