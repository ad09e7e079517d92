"""Thin Faust wiring around the pure ticket state machine."""

from __future__ import annotations

import time

import faust
from prometheus_client import Counter

from schemas import serde
from schemas.event import Event
from streams import topics
from streams.app import raw_topic
from streams.deadletter import DeadLetter
from streams.tickets.model import Duplicate, Rejected, TicketState, decide, evolve, \
    state_changed_event

STAGE = "ticket_state"
OUTCOMES = Counter("complaintflow_ticket_events_total", "Input events by outcome", ["outcome"])


def register(app: faust.App) -> faust.types.AgentT:
    events = raw_topic(app, topics.EVENTS)
    state_out = raw_topic(app, topics.TICKET_STATE)
    dlq = raw_topic(app, topics.DLQ)
    tickets = app.Table("tickets", default=None, partitions=topics.EVENTS.partitions,
                        key_type=str, value_type=dict, key_serializer="raw",
                        value_serializer="json")

    async def dead_letter(letter: DeadLetter, key: bytes | None) -> None:
        OUTCOMES.labels("dead_lettered").inc()
        await dlq.send(key=key, value=letter.to_json())

    @app.agent(events, name="ticket-state")
    async def process(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            origin = {"source_topic": message.topic, "source_partition": message.partition,
                      "source_offset": message.offset}
            try:
                event = serde.decode(record.value)
            except serde.DecodeError as exc:
                await dead_letter(DeadLetter.for_bytes(record.value, "decode", str(exc),
                                                       _now_ms(), message.topic,
                                                       message.partition, message.offset),
                                  message.key)
                continue
            if message.key != event.ticket_id.encode():
                await dead_letter(_refusal(event, "Kafka key does not match ticket_id, so the "
                                           "ticket's events would lose their order",
                                           "ticket_id", origin), message.key)
                continue
            stored = tickets.get(event.ticket_id)
            state = TicketState.from_dict(stored) if stored else None
            decision = decide(state, event)
            if isinstance(decision, Duplicate):
                OUTCOMES.labels("duplicate").inc()
                continue
            if isinstance(decision, Rejected):
                await dead_letter(_refusal(event, decision.reason, decision.field, origin),
                                  message.key)
                continue
            new_state = evolve(state, event)
            tickets[event.ticket_id] = new_state.to_dict()
            OUTCOMES.labels("applied").inc()
            await state_out.send(key=message.key,
                                 value=serde.encode(state_changed_event(new_state, event)))

    return process


def _refusal(event: Event, reason: str, field: str | None, origin: dict) -> DeadLetter:
    return DeadLetter.for_event(event, STAGE, reason, _now_ms(), field, **origin)


def _now_ms() -> int:
    return int(time.time() * 1000)
