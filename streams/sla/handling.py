"""SLA processing of one ticket, pure: a ticket change or a due deadline in, an outcome out."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def handle_change(change: Event, origin: Origin, state: SlaState | None, policy: SlaPolicy,
                  now_ms: int) -> SlaOutcome:
    """A ticket.state_changed applied to the ticket's clocks; a failure (no holiday data, a
    calendar the policy cannot provide, a defect) parks the change in the dead letters."""
    try:
        state, events = on_ticket_state(state, change, policy, origin.partition)
    except Exception as exc:  # the partition must not stall on one ticket
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
