"""The ticket lifecycle as pure functions: decide(state, event) and evolve(state, event).

No Kafka, no clock: the caller passes the state it holds and the event it received.
Lifecycle (L-C-S-F): new → assigned → acknowledged (first response) → in progress /
pending customer / on hold / escalated → resolved → closed (customer confirmed), and reopened.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from schemas.event import Event


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    PENDING_CUSTOMER = "pending_customer"
    ON_HOLD = "on_hold"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


DONE = frozenset({Status.RESOLVED, Status.CLOSED})
# Statuses in which an agent is working the ticket (set by ticket.status_changed).
WORKING = frozenset({Status.IN_PROGRESS, Status.PENDING_CUSTOMER, Status.ON_HOLD})


@dataclass(frozen=True)
class TicketState:
    ticket_id: str
    status: Status
    version: int  # number of input events applied
    received_at: int
    updated_at: int
    kind: str = "complaint"
    channel: str | None = None
    category: str | None = None
    priority: str | None = None
    customer_id: str | None = None
    customer_tier: str | None = None
    region: str | None = None
    team: str | None = None
    agent: str | None = None
    first_response_at: int | None = None
    first_resolved_at: int | None = None
    resolved_at: int | None = None
    closed_at: int | None = None
    transfer_count: int = 0
    reopen_count: int = 0
    escalation_level: int = 0
    csat: int | None = None
    nps: int | None = None
    compensation_total: float = 0.0
    last_event_type: str | None = None
    resolution_code: str | None = None
    teams_visited: tuple[str, ...] = ()
    seen_event_ids: frozenset[str] = field(default_factory=frozenset)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["teams_visited"] = list(self.teams_visited)
        data["seen_event_ids"] = sorted(self.seen_event_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TicketState:
        return cls(**{**data, "status": Status(data["status"]),
                      "teams_visited": tuple(data["teams_visited"]),
                      "seen_event_ids": frozenset(data["seen_event_ids"])})


@dataclass(frozen=True)
class Rejected:
    """An event that cannot apply to the ticket as it stands; goes to the dead-letter topic."""

    reason: str
    field: str | None = None


@dataclass(frozen=True)
class Duplicate:
    """An event_id the ticket has already applied: ignored, by design."""


Decision = Rejected | Duplicate | None


def decide(state: TicketState | None, event: Event) -> Decision:
    """None when the event applies; otherwise why not."""
    if state is not None and event.event_id in state.seen_event_ids:
        return Duplicate()
    if event.event_type == "complaint.received":
        if state is not None:
            return Rejected(f"ticket {event.ticket_id} already exists", "ticket_id")
        return None
    if state is None:
        return Rejected(f"unknown ticket {event.ticket_id}: no complaint.received yet",
                        "ticket_id")
    rule = _RULES.get(event.event_type)
    return rule(state, event) if rule else None


def _open_only(state: TicketState, event: Event) -> Rejected | None:
    if state.status in DONE:
        return Rejected(f"cannot apply {event.event_type} to a {state.status} ticket", "event_type")
    return None


def _not_closed(state: TicketState, event: Event) -> Rejected | None:
    if state.status is Status.CLOSED:
        return Rejected(f"cannot apply {event.event_type} to a closed ticket", "event_type")
    return None


def _first_response(state: TicketState, event: Event) -> Rejected | None:
    if state.first_response_at is not None:
        return Rejected("first response was already sent", "event_type")
    return _open_only(state, event)


def _status_change(state: TicketState, event: Event) -> Rejected | None:
    target = Status(event.data["status"])
    if state.status is Status.NEW:
        return Rejected("a ticket must be assigned before work starts", "status")
    if state.status is target:
        return Rejected(f"ticket is already {target}", "status")
    return _open_only(state, event)


def _transfer(state: TicketState, event: Event) -> Rejected | None:
    if event.data["to_team"] == state.team:
        return Rejected(f"ticket is already with team {state.team}", "to_team")
    return _open_only(state, event)


def _confirm(state: TicketState, event: Event) -> Rejected | None:
    if state.status is not Status.RESOLVED:
        return Rejected(f"only a resolved ticket can be confirmed, this one is {state.status}",
                        "event_type")
    return None


def _reopen(state: TicketState, event: Event) -> Rejected | None:
    if state.status not in DONE:
        return Rejected(f"only a resolved or closed ticket can be reopened, this one is "
                        f"{state.status}", "event_type")
    return None


_RULES = {
    "complaint.classified": _not_closed,
    "ticket.assigned": _open_only,
    "ticket.transferred": _transfer,
    "ticket.first_response_sent": _first_response,
    "ticket.customer_replied": _not_closed,
    "ticket.agent_replied": _not_closed,
    "ticket.status_changed": _status_change,
    "ticket.escalated": _open_only,
    "ticket.resolved": _open_only,
    "ticket.customer_confirmed": _confirm,
    "ticket.reopened": _reopen,
}


def evolve(state: TicketState | None, event: Event) -> TicketState:
    """The state after an event that decide() accepted."""
    if state is None:
        return _received(event)
    base = replace(state, version=state.version + 1, updated_at=event.occurred_at,
                   last_event_type=event.event_type,
                   seen_event_ids=state.seen_event_ids | {event.event_id})
    change = _CHANGES.get(event.event_type)
    return change(base, event.data, event.occurred_at) if change else base


def _received(event: Event) -> TicketState:
    d = event.data
    return TicketState(
        ticket_id=event.ticket_id, status=Status.NEW, version=1,
        received_at=event.occurred_at, updated_at=event.occurred_at,
        kind=d.get("kind") or "complaint", channel=d["channel"], category=d["category"],
        priority=d["priority"], customer_id=d["customer_id"],
        customer_tier=d["customer_tier"], region=d["region"],
        last_event_type=event.event_type, seen_event_ids=frozenset({event.event_id}),
    )


def _classified(s: TicketState, d: dict[str, Any], _at: int) -> TicketState:
    return replace(s, category=d.get("category") or s.category,
                   priority=d.get("priority") or s.priority,
                   customer_tier=d.get("customer_tier") or s.customer_tier)


def _assigned(s: TicketState, d: dict[str, Any], _at: int) -> TicketState:
    # A reassignment of a ticket already being worked keeps its working status.
    status = Status.ASSIGNED if s.status in (Status.NEW, Status.REOPENED) else s.status
    return replace(s, status=status, team=d["team"], agent=d.get("agent"),
                   teams_visited=_visit(s.teams_visited, d["team"]))


def _transferred(s: TicketState, d: dict[str, Any], _at: int) -> TicketState:
    return replace(s, status=Status.ASSIGNED, team=d["to_team"], agent=d.get("agent"),
                   transfer_count=s.transfer_count + 1,
                   teams_visited=_visit(s.teams_visited, d["to_team"]))


def _first_response_sent(s: TicketState, d: dict[str, Any], at: int) -> TicketState:
    return replace(s, status=Status.ACKNOWLEDGED, first_response_at=at,
                   agent=d.get("agent") or s.agent)


def _customer_replied(s: TicketState, _d: dict[str, Any], _at: int) -> TicketState:
    # The customer answering ends the wait on them.
    if s.status is Status.PENDING_CUSTOMER:
        return replace(s, status=Status.IN_PROGRESS)
    return s


def _status_changed(s: TicketState, d: dict[str, Any], _at: int) -> TicketState:
    return replace(s, status=Status(d["status"]))


def _escalated(s: TicketState, d: dict[str, Any], _at: int) -> TicketState:
    team = d.get("to_team") or s.team
    return replace(s, status=Status.ESCALATED, escalation_level=s.escalation_level + 1,
                   team=team, teams_visited=_visit(s.teams_visited, team))


def _resolved(s: TicketState, d: dict[str, Any], at: int) -> TicketState:
    return replace(s, status=Status.RESOLVED, resolved_at=at,
                   first_resolved_at=s.first_resolved_at or at,
                   resolution_code=d.get("resolution_code") or s.resolution_code,
                   agent=d.get("agent") or s.agent)


def _confirmed(s: TicketState, _d: dict[str, Any], at: int) -> TicketState:
    return replace(s, status=Status.CLOSED, closed_at=at)


def _reopened(s: TicketState, _d: dict[str, Any], _at: int) -> TicketState:
    return replace(s, status=Status.REOPENED, reopen_count=s.reopen_count + 1, closed_at=None)


def _surveyed(s: TicketState, d: dict[str, Any], _at: int) -> TicketState:
    csat, nps = d.get("csat"), d.get("nps")
    return replace(s, csat=s.csat if csat is None else csat, nps=s.nps if nps is None else nps)


def _compensated(s: TicketState, d: dict[str, Any], _at: int) -> TicketState:
    return replace(s, compensation_total=s.compensation_total + float(d["amount"]))


def _visit(teams: tuple[str, ...], team: str | None) -> tuple[str, ...]:
    if team is None or (teams and teams[-1] == team):
        return teams
    return (*teams, team)


_CHANGES = {
    "complaint.classified": _classified,
    "ticket.assigned": _assigned,
    "ticket.transferred": _transferred,
    "ticket.first_response_sent": _first_response_sent,
    "ticket.customer_replied": _customer_replied,
    "ticket.status_changed": _status_changed,
    "ticket.escalated": _escalated,
    "ticket.resolved": _resolved,
    "ticket.customer_confirmed": _confirmed,
    "ticket.reopened": _reopened,
    "survey.responded": _surveyed,
    "ticket.compensation_issued": _compensated,
}


def state_changed_event(state: TicketState, cause: Event) -> Event:
    """The derived ticket.state_changed event carrying the full current state."""
    data = state.to_dict()
    for internal in ("ticket_id", "teams_visited", "seen_event_ids"):
        data.pop(internal)
    return Event(event_id=f"{cause.event_id}:state", event_type="ticket.state_changed",
                 ticket_id=state.ticket_id, occurred_at=cause.occurred_at, schema_version=1,
                 data=data, source="ticket-state", caused_by=cause.event_id)
