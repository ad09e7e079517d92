"""Thin Faust wiring of the SLA engine: ticket changes and timer ticks in, sla.* out."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import faust
from prometheus_client import Counter, Histogram

from schemas import serde
from streams import topics
from streams.app import raw_topic
from streams.sla.clock import SlaState, next_due
from streams.sla.deadlines import DeadlineIndex
from streams.sla.handling import SlaOutcome, handle_change, handle_due
from streams.sla.policy import SlaPolicy
from streams.sla.watermark import PartitionClock
from streams.tickets.handling import Origin

TICK_SECONDS = 0.25
REBUILD_SLICE = 5_000
SLA_EVENTS = Counter("complaintflow_sla_events_total", "sla.* events emitted", ["event_type"])
TICK_DUE = Histogram("complaintflow_sla_tick_due_tickets", "Tickets due per timer tick",
                     buckets=(0, 1, 10, 100, 1_000, 10_000))


def register(app: faust.App, policy: SlaPolicy) -> faust.types.AgentT:
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
    rebuilt = False

    def load(ticket_id: str) -> SlaState | None:
        stored = clocks.get(ticket_id)
        return SlaState.from_dict(stored) if stored else None

    async def rebuild_index() -> None:
        for count, (ticket_id, stored) in enumerate(clocks.items(), start=1):
            state = SlaState.from_dict(stored)
            indexes[state.partition].schedule(ticket_id, next_due(state, policy))
            partition_clock.observe(state.partition, state.watermark, state.watermark)
            if count % REBUILD_SLICE == 0:
                await asyncio.sleep(0)  # a million clocks must not starve the heartbeat

    async def apply(outcome: SlaOutcome, partition: int, key: bytes | None) -> None:
        if outcome.dead_letter:
            await dlq.send(key=key, value=outcome.dead_letter.to_json())
        if outcome.state is None:
            return
        clocks[outcome.state.ticket_id] = outcome.state.to_dict()
        indexes[partition].schedule(outcome.state.ticket_id, outcome.due)
        for event in outcome.events:
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
