"""SLA processing of one record, pure: a ticket change or a due deadline in, an outcome out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from schemas import serde
from schemas.event import Event
from streams.deadletter import DeadLetter
from streams.sla.clock import SlaState, advance, next_due, on_ticket_state
from streams.sla.policy import SlaPolicy
from streams.tickets.handling import Origin

STAGE = "sla"


@dataclass(frozen=True)
class SlaOutcome:
    state: SlaState | None = None  # to store
    events: list[Event] = field(default_factory=list)  # sla.* events to publish
    due: int | None = None  # next deadline instant to index
    dead_letter: DeadLetter | None = None


def handle_change(raw: bytes, origin: Origin, load: Callable[[str], SlaState | None],
                  policy: SlaPolicy, now_ms: int) -> SlaOutcome:
    try:
        change = serde.decode(raw)
    except serde.DecodeError as exc:
        return SlaOutcome(dead_letter=DeadLetter.for_bytes(
            raw, STAGE, str(exc), now_ms, origin.topic, origin.partition, origin.offset))
    try:
        state, events = on_ticket_state(load(change.ticket_id), change, policy,
                                        origin.partition)
    except Exception as exc:  # e.g. no holiday data, a calendar the policy dropped, a defect
        return SlaOutcome(dead_letter=DeadLetter.for_event(
            change, STAGE, f"{type(exc).__name__}: {exc}", now_ms, source_topic=origin.topic,
            source_partition=origin.partition, source_offset=origin.offset))
    return SlaOutcome(state=state, events=events, due=next_due(state, policy))


def handle_due(state: SlaState, now_ms: int, policy: SlaPolicy) -> SlaOutcome:
    """A deadline in the index has come: emit what is due at `now_ms`."""
    try:
        state, events = advance(state, now_ms, policy)
    except Exception as exc:  # the clock cannot run on; park it visibly, unscheduled
        return SlaOutcome(dead_letter=DeadLetter(
            dlq_id=f"sla:{state.ticket_id}:{now_ms}", stage=STAGE, ticket_id=state.ticket_id,
            reason=f"deadline check failed: {type(exc).__name__}: {exc}", recorded_at=now_ms))
    return SlaOutcome(state=state, events=events, due=next_due(state, policy))
