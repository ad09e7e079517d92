"""Everything one input record does to its ticket, in one pass: pure.

The worker reads `complaints.events` once. For each record, `apply_input` runs the ticket state
machine (decide/evolve) and then the ticket's SLA clocks on the change it made — the same key,
the same partition, one state (`TicketRecord`) — and returns what to store and what to
publish. `apply_due` does the same when a deadline of the ticket falls due with no event.
Nothing here touches Kafka or reads the clock: time comes in as ``now_ms``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from schemas import serde
from schemas.event import Event
from streams import topics
from streams.deadletter import DeadLetter
from streams.sla.clock import SlaState
from streams.sla.handling import SlaOutcome, handle_change, handle_due
from streams.sla.policy import SlaPolicy
from streams.tickets.handling import Origin, handle
from streams.tickets.model import (
    Status,
    TicketState,
    TicketTombstone,
    purgeable,
    ticket_from_dict,
    tombstone,
)


@dataclass(frozen=True)
class TicketRecord:
    """A ticket's whole state in the worker: its lifecycle and its SLA clocks, stored (and
    written to the changelog) as one value, once per batch."""

    ticket: TicketState | TicketTombstone | None = None
    sla: SlaState | None = None

    def purge_at(self, retention_ms: int) -> int | None:
        """When a closed ticket may be purged; None for any other."""
        ticket = self.ticket
        if isinstance(ticket, TicketState) and ticket.status == Status.CLOSED \
                and ticket.closed_at is not None:
            return ticket.closed_at + retention_ms + 1
        return None

    def to_json(self) -> bytes:
        return json.dumps(
            {"ticket": None if self.ticket is None else self.ticket.to_dict(),
             "sla": None if self.sla is None else self.sla.to_dict()},
            separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> TicketRecord:
        data: dict[str, Any] = json.loads(raw)
        ticket, sla = data["ticket"], data["sla"]
        return cls(None if ticket is None else ticket_from_dict(ticket),
                   None if sla is None else SlaState.from_dict(sla))


EMPTY = TicketRecord()


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes


@dataclass
class Step:
    """What one record or one due deadline does: the record to store (None: unchanged), the
    messages to publish in order, and what the metrics need."""

    record: TicketRecord | None = None
    outputs: list[Output] = field(default_factory=list)
    sla_events: list[Event] = field(default_factory=list)
    ticket_outcome: str | None = None  # applied / duplicate / dead_lettered, for an input
    sla_dead_letter: bool = False
    due: int | None = None  # the ticket's next SLA instant, when the record changed


def apply_input(record: TicketRecord, raw: bytes, key: bytes | None, origin: Origin,
                policy: SlaPolicy, now_ms: int) -> Step:
    """One input record: the ticket step, then the SLA step on the change it made. An SLA
    failure dead-letters the change for the clocks only; the ticket change still stands."""
    outcome = handle(raw, key, origin, lambda _ticket_id: record.ticket, now_ms)
    step = Step(ticket_outcome=outcome.label)
    if outcome.dead_letter is not None:
        step.outputs.append(_letter(outcome.dead_letter, key))
    if outcome.state is None or outcome.state_changed is None:
        return step
    change = outcome.state_changed
    step.outputs.append(Output(topics.TICKET_STATE.name, key, serde.encode(change)))
    sla = handle_change(change, origin, record.sla, policy, now_ms)
    return _with_sla(step, TicketRecord(outcome.state, record.sla), sla, key)


def apply_due(record: TicketRecord, now_ms: int, policy: SlaPolicy) -> Step:
    """A deadline of the ticket came: announce what is due at ``now_ms``."""
    if record.sla is None:
        return Step()
    key = record.sla.ticket_id.encode()
    return _with_sla(Step(), record, handle_due(record.sla, now_ms, policy), key)


def apply_purge(record: TicketRecord, now_ms: int, retention_ms: int) -> Step:
    """A closed ticket past its retention leaves only a tombstone (its clocks have all stopped:
    nothing more is kept of them); a ticket reopened or not yet due is left as it is."""
    ticket = record.ticket
    if not isinstance(ticket, TicketState) or not purgeable(ticket, now_ms, retention_ms):
        return Step()
    return Step(record=TicketRecord(tombstone(ticket, now_ms, retention_ms), None))


def _with_sla(step: Step, record: TicketRecord, sla: SlaOutcome, key: bytes | None) -> Step:
    """``record`` as the SLA step leaves it; a failed SLA step leaves the clocks as they were,
    unscheduled (the dead letter says why)."""
    if sla.dead_letter is not None:
        step.sla_dead_letter = True
        step.outputs.append(_letter(sla.dead_letter, key))
    if sla.state is not None:
        record = TicketRecord(record.ticket, sla.state)
        step.due = sla.due
        step.sla_events = sla.events
        step.outputs += [Output(topics.SLA.name, e.ticket_id.encode(), serde.encode(e))
                         for e in sla.events]
    if step.ticket_outcome is not None or sla.state is not None:
        step.record = record
    return step


def _letter(letter: DeadLetter, key: bytes | None) -> Output:
    return Output(topics.DLQ.name, key, letter.to_json())
