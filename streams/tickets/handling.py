"""One input record in, one outcome out: decode, check the key, decide, evolve.

Pure (no Kafka, no clock): the agent passes the stored state, the record and the time, and
performs the outcome's writes. The record's offset (``Origin.offset``) goes to decide/evolve,
which keep the highest one applied to recognise a redelivered record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas import serde
from schemas.event import Event
from streams.deadletter import DeadLetter
from streams.tickets.model import (
    Duplicate,
    Rejected,
    TicketState,
    TicketTombstone,
    decide,
    evolve,
    state_changed_event,
)

STAGE = "ticket_state"


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Outcome:
    state: TicketState | None = None  # the ticket's new state, to store
    state_changed: Event | None = None  # to publish
    dead_letter: DeadLetter | None = None  # to publish
    duplicate: bool = False

    @property
    def label(self) -> str:
        if self.duplicate:
            return "duplicate"
        return "dead_lettered" if self.dead_letter else "applied"


def handle(raw: bytes, key: bytes | None, origin: Origin,
           load: Callable[[str], TicketState | TicketTombstone | None], now_ms: int) -> Outcome:
    """``load`` returns the ticket as stored: its state, its tombstone once purged (every
    event is then refused, except a redelivery of a record it had applied), or None."""
    try:
        event = serde.decode(raw)
    except serde.DecodeError as exc:
        return Outcome(dead_letter=DeadLetter.for_bytes(
            raw, "decode", str(exc), now_ms, origin.topic, origin.partition, origin.offset))

    def refuse(reason: str, field: str | None) -> Outcome:
        return Outcome(dead_letter=DeadLetter.for_event(
            event, STAGE, reason, now_ms, field, source_topic=origin.topic,
            source_partition=origin.partition, source_offset=origin.offset))

    if key != event.ticket_id.encode():
        return refuse("Kafka key does not match ticket_id, so the ticket's events would lose "
                      "their order", "ticket_id")
    state = load(event.ticket_id)
    try:
        decision = decide(state, event, origin.offset)
        if isinstance(decision, Duplicate):
            return Outcome(duplicate=True)
        if isinstance(decision, Rejected):
            return refuse(decision.reason, decision.field)
        assert not isinstance(state, TicketTombstone)  # decide() refuses all a tombstone gets
        new_state = evolve(state, event, origin.offset)
    except Exception as exc:  # a defect must not stall the partition; park the event instead
        return refuse(f"internal error: {type(exc).__name__}: {exc}", None)
    return Outcome(state=new_state, state_changed=state_changed_event(new_state, event))
