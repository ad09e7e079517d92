"""Thin Faust wiring around the pure ticket handling: read, store, publish."""

from __future__ import annotations

import time

import faust
from prometheus_client import Counter

from schemas import serde
from streams import topics
from streams.app import raw_topic
from streams.tickets.handling import Origin, handle
from streams.tickets.model import TicketState

OUTCOMES = Counter("complaintflow_ticket_events_total", "Input events by outcome", ["outcome"])


def register(app: faust.App) -> faust.types.AgentT:
    events = raw_topic(app, topics.EVENTS)
    state_out = raw_topic(app, topics.TICKET_STATE)
    dlq = raw_topic(app, topics.DLQ)
    # Values are TicketState.to_dict() under the app's JSON value serializer.
    tickets = app.Table("tickets", default=None, partitions=topics.EVENTS.partitions,
                        key_type=str)

    def load(ticket_id: str) -> TicketState | None:
        stored = tickets.get(ticket_id)
        return TicketState.from_dict(stored) if stored else None

    @app.agent(events, name="ticket-state")
    async def process(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            outcome = handle(record.value, message.key,
                             Origin(message.topic, message.partition, message.offset),
                             load, now_ms=int(time.time() * 1000))
            OUTCOMES.labels(outcome.label).inc()
            if outcome.dead_letter:
                await dlq.send(key=message.key, value=outcome.dead_letter.to_json())
            if outcome.state:
                tickets[outcome.state.ticket_id] = outcome.state.to_dict()
            if outcome.state_changed:
                await state_out.send(key=message.key, value=serde.encode(outcome.state_changed))

    return process
