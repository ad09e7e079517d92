"""The ticket lifecycle as pure functions: decide(state, event) and evolve(state, event).

No Kafka, no clock: the caller passes the state it holds and the event it received.
Lifecycle (L-C-S-F): new → assigned → acknowledged (first response) → in progress /
pending customer / on hold / escalated → resolved → closed (customer confirmed), and reopened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
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
# Stored value -> member: a dict look-up, cheaper than Status(value) on every load.
_STATUS_OF: dict[str, Status] = {status.value: status for status in Status}

# How many of its most recent event ids a ticket remembers, to recognise a client's retry of
# an event it has applied: the same event_id posted again becomes a new record at a new offset,
# so `applied_offset` cannot see it. Retries come within seconds or minutes of the original
# (a client's timeout and back-off), and a ticket rarely gets 32 events in that time (a busy
# one sees a handful an hour), so the original is still among the 32 when its retry arrives.
# The trade-off: a retry that arrives after 32 newer events of its ticket is applied again.
# What it buys: the state no longer grows with the ticket (at most 32 ids, ~1.3 KB of UUIDs,
# where the whole set made every changelog write, and so a ticket's changelog bytes, grow
# with the square of its events).
RECENT_EVENT_IDS = 32

DAY_MS = 86_400_000
# How long a closed ticket's state is kept before `purgeable` lets the caller replace it with
# a `TicketTombstone`; the caller may pass another retention.
DEFAULT_RETENTION_MS = 30 * DAY_MS


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
    # The ids of the last RECENT_EVENT_IDS events applied, oldest first: catches client retries.
    seen_event_ids: tuple[str, ...] = ()
    # The highest offset of complaints.events applied (a ticket's records are all on one
    # partition, so its offsets only grow): catches redeliveries of a record. None when
    # unknown: a state stored before offsets were kept, or built without a log position.
    applied_offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stored (JSON) form. Written by hand, shallow: `dataclasses.asdict` deep-copies
        every value and costs several times more; the keys and values are the same."""
        return {
            "ticket_id": self.ticket_id,
            "status": self.status.value,
            "version": self.version,
            "received_at": self.received_at,
            "updated_at": self.updated_at,
            "kind": self.kind,
            "channel": self.channel,
            "category": self.category,
            "priority": self.priority,
            "customer_id": self.customer_id,
            "customer_tier": self.customer_tier,
            "region": self.region,
            "team": self.team,
            "agent": self.agent,
            "first_response_at": self.first_response_at,
            "first_resolved_at": self.first_resolved_at,
            "resolved_at": self.resolved_at,
            "closed_at": self.closed_at,
            "transfer_count": self.transfer_count,
            "reopen_count": self.reopen_count,
            "escalation_level": self.escalation_level,
            "csat": self.csat,
            "nps": self.nps,
            "compensation_total": self.compensation_total,
            "last_event_type": self.last_event_type,
            "resolution_code": self.resolution_code,
            "teams_visited": list(self.teams_visited),
            "seen_event_ids": list(self.seen_event_ids),
            "applied_offset": self.applied_offset,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketState:
        """The state from its stored form, including one stored before ids were bounded: its
        ``seen_event_ids`` is every id, sorted, with no ``applied_offset``. It keeps the last
        RECENT_EVENT_IDS of them; sorted order says nothing of recency, so a retry of one of
        the dropped ids would apply again (the same trade-off as for an old retry)."""
        raw_status = data["status"]
        get = data.get
        return cls(
            ticket_id=data["ticket_id"],
            status=_STATUS_OF.get(raw_status) or Status(raw_status),
            version=data["version"],
            received_at=data["received_at"],
            updated_at=data["updated_at"],
            kind=get("kind", "complaint"),
            channel=get("channel"),
            category=get("category"),
            priority=get("priority"),
            customer_id=get("customer_id"),
            customer_tier=get("customer_tier"),
            region=get("region"),
            team=get("team"),
            agent=get("agent"),
            first_response_at=get("first_response_at"),
            first_resolved_at=get("first_resolved_at"),
            resolved_at=get("resolved_at"),
            closed_at=get("closed_at"),
            transfer_count=get("transfer_count", 0),
            reopen_count=get("reopen_count", 0),
            escalation_level=get("escalation_level", 0),
            csat=get("csat"),
            nps=get("nps"),
            compensation_total=get("compensation_total", 0.0),
            last_event_type=get("last_event_type"),
            resolution_code=get("resolution_code"),
            teams_visited=tuple(get("teams_visited", ())),
            seen_event_ids=tuple(get("seen_event_ids", ())[-RECENT_EVENT_IDS:]),
            applied_offset=get("applied_offset"),
        )


@dataclass(frozen=True)
class TicketTombstone:
    """What is kept of a closed ticket purged after its retention: enough to refuse its late
    events with a clear reason, so that, say, a late retry of its complaint.received does not
    open it again. A redelivery of a record it had applied (at or below ``applied_offset``)
    is still recognised as such."""

    ticket_id: str
    closed_at: int
    purged_at: int
    retention_ms: int
    applied_offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "closed_at": self.closed_at,
            "purged_at": self.purged_at,
            "retention_ms": self.retention_ms,
            "applied_offset": self.applied_offset,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketTombstone:
        return cls(ticket_id=data["ticket_id"], closed_at=data["closed_at"],
                   purged_at=data["purged_at"], retention_ms=data["retention_ms"],
                   applied_offset=data.get("applied_offset"))

    @property
    def reason(self) -> str:
        closed = datetime.fromtimestamp(self.closed_at / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        return (f"ticket {self.ticket_id} was closed on {closed} UTC and purged after the "
                f"retention of {_days(self.retention_ms)}; the event arrived too late")


def _days(ms: int) -> str:
    days = ms / DAY_MS
    return "1 day" if days == 1 else f"{days:g} days"


def ticket_from_dict(data: Mapping[str, Any]) -> TicketState | TicketTombstone:
    """A stored ticket, either form: a tombstone is the one with ``purged_at``."""
    if "purged_at" in data:
        return TicketTombstone.from_dict(data)
    return TicketState.from_dict(data)


def purgeable(state: TicketState | TicketTombstone, now_ms: int,
              retention_ms: int = DEFAULT_RETENTION_MS) -> bool:
    """True when the ticket is closed and was closed more than ``retention_ms`` before
    ``now_ms``: its state may then be replaced by `tombstone` (a tombstone is not purgeable)."""
    return (isinstance(state, TicketState) and state.status is Status.CLOSED
            and state.closed_at is not None and now_ms - state.closed_at > retention_ms)


def tombstone(state: TicketState, now_ms: int,
              retention_ms: int = DEFAULT_RETENTION_MS) -> TicketTombstone:
    """The tombstone to store in place of a `purgeable` ticket."""
    if not purgeable(state, now_ms, retention_ms) or state.closed_at is None:
        raise ValueError(f"ticket {state.ticket_id} is not purgeable: it is {state.status}"
                         f", closed_at={state.closed_at}")
    return TicketTombstone(ticket_id=state.ticket_id, closed_at=state.closed_at,
                           purged_at=now_ms, retention_ms=retention_ms,
                           applied_offset=state.applied_offset)


@dataclass(frozen=True)
class Rejected:
    """An event that cannot apply to the ticket as it stands; goes to the dead-letter topic."""

    reason: str
    field: str | None = None


@dataclass(frozen=True)
class Duplicate:
    """An event the ticket has already applied (a redelivered record, or a client's retry of
    a recent event_id): ignored, by design."""


Decision = Rejected | Duplicate | None


def decide(state: TicketState | TicketTombstone | None, event: Event,
           offset: int | None = None) -> Decision:
    """None when the event applies; otherwise why not.

    ``offset`` is the event's offset in complaints.events (None when it has none, e.g. a
    replay of archived events): a record at or below the ticket's ``applied_offset`` is a
    redelivery. Offsets are compared only within one ticket, whose records share a partition;
    a re-created or re-partitioned input topic would make the stored offsets meaningless."""
    if isinstance(state, TicketTombstone):
        if _redelivered(state.applied_offset, offset):
            return Duplicate()
        return Rejected(state.reason, "ticket_id")
    if state is not None and (_redelivered(state.applied_offset, offset)
                              or event.event_id in state.seen_event_ids):
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


def _redelivered(applied_offset: int | None, offset: int | None) -> bool:
    return applied_offset is not None and offset is not None and offset <= applied_offset


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


def evolve(state: TicketState | None, event: Event, offset: int | None = None) -> TicketState:
    """The state after an event that decide() accepted; ``offset`` as for decide()."""
    if state is None:
        return _received(event, offset)
    if isinstance(state, TicketTombstone):  # decide() accepts nothing for a purged ticket
        raise ValueError(state.reason)
    if offset is None or (state.applied_offset is not None and offset < state.applied_offset):
        offset = state.applied_offset
    base = replace(state, version=state.version + 1, updated_at=event.occurred_at,
                   last_event_type=event.event_type,
                   seen_event_ids=_remember(state.seen_event_ids, event.event_id),
                   applied_offset=offset)
    change = _CHANGES.get(event.event_type)
    return change(base, event.data, event.occurred_at) if change else base


def _remember(ids: tuple[str, ...], event_id: str) -> tuple[str, ...]:
    """The recent ids with ``event_id`` added last, the oldest dropped beyond the bound."""
    if len(ids) >= RECENT_EVENT_IDS:
        ids = ids[len(ids) - RECENT_EVENT_IDS + 1:]
    return (*ids, event_id)


def _received(event: Event, offset: int | None) -> TicketState:
    d = event.data
    return TicketState(
        ticket_id=event.ticket_id, status=Status.NEW, version=1,
        received_at=event.occurred_at, updated_at=event.occurred_at,
        kind=d.get("kind") or "complaint", channel=d["channel"], category=d["category"],
        priority=d["priority"], customer_id=d["customer_id"],
        customer_tier=d["customer_tier"], region=d["region"],
        last_event_type=event.event_type, seen_event_ids=(event.event_id,),
        applied_offset=offset,
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
    for internal in ("ticket_id", "teams_visited", "seen_event_ids", "applied_offset"):
        data.pop(internal)
    return Event(event_id=f"{cause.event_id}:state", event_type="ticket.state_changed",
                 ticket_id=state.ticket_id, occurred_at=cause.occurred_at, schema_version=1,
                 data=data, source="ticket-state", caused_by=cause.event_id)
