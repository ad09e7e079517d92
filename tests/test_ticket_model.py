"""The pure ticket state machine: allowed transitions, refusals, idempotency."""

from __future__ import annotations

import pytest

from streams.tickets.model import (
    Duplicate,
    Rejected,
    Status,
    TicketState,
    decide,
    evolve,
    state_changed_event,
)
from tests.factories import T0, event

# Events that bring a fresh ticket to each status.
PATHS: dict[Status, list[tuple[str, dict]]] = {
    Status.NEW: [],
    Status.ASSIGNED: [("ticket.assigned", {"team": "logistics"})],
    Status.ACKNOWLEDGED: [("ticket.assigned", {"team": "logistics"}),
                          ("ticket.first_response_sent", {"agent": "a1"})],
    Status.IN_PROGRESS: [("ticket.assigned", {"team": "logistics"}),
                         ("ticket.status_changed", {"status": "in_progress"})],
    Status.PENDING_CUSTOMER: [("ticket.assigned", {"team": "logistics"}),
                              ("ticket.status_changed", {"status": "pending_customer"})],
    Status.ON_HOLD: [("ticket.assigned", {"team": "logistics"}),
                     ("ticket.status_changed", {"status": "on_hold"})],
    Status.ESCALATED: [("ticket.assigned", {"team": "logistics"}), ("ticket.escalated", {})],
    Status.RESOLVED: [("ticket.assigned", {"team": "logistics"}), ("ticket.resolved", {})],
    Status.CLOSED: [("ticket.assigned", {"team": "logistics"}), ("ticket.resolved", {}),
                    ("ticket.customer_confirmed", {})],
    Status.REOPENED: [("ticket.resolved", {}), ("ticket.reopened", {})],
}


def ticket_in(status: Status) -> TicketState:
    state = evolve(None, event("complaint.received"))
    for step, (event_type, data) in enumerate(PATHS[status], start=1):
        change = event(event_type, at=T0 + step * 60_000, **data)
        assert decide(state, change) is None, (status, event_type)
        state = evolve(state, change)
    assert state.status is status
    return state


ALLOWED = [
    (Status.NEW, "ticket.assigned", {"team": "billing"}, Status.ASSIGNED),
    (Status.NEW, "ticket.first_response_sent", {}, Status.ACKNOWLEDGED),
    (Status.NEW, "complaint.classified", {"priority": "urgent"}, Status.NEW),
    (Status.NEW, "ticket.resolved", {}, Status.RESOLVED),
    (Status.ASSIGNED, "ticket.transferred", {"to_team": "billing"}, Status.ASSIGNED),
    (Status.ASSIGNED, "ticket.first_response_sent", {}, Status.ACKNOWLEDGED),
    (Status.ASSIGNED, "ticket.status_changed", {"status": "in_progress"}, Status.IN_PROGRESS),
    (Status.ACKNOWLEDGED, "ticket.status_changed", {"status": "pending_customer"},
     Status.PENDING_CUSTOMER),
    (Status.ACKNOWLEDGED, "ticket.agent_replied", {}, Status.ACKNOWLEDGED),
    (Status.IN_PROGRESS, "ticket.status_changed", {"status": "on_hold"}, Status.ON_HOLD),
    (Status.IN_PROGRESS, "ticket.assigned", {"team": "logistics", "agent": "b2"},
     Status.IN_PROGRESS),
    (Status.PENDING_CUSTOMER, "ticket.customer_replied", {}, Status.IN_PROGRESS),
    (Status.ON_HOLD, "ticket.status_changed", {"status": "in_progress"}, Status.IN_PROGRESS),
    (Status.ON_HOLD, "ticket.customer_replied", {}, Status.ON_HOLD),
    (Status.ACKNOWLEDGED, "ticket.escalated", {"to_team": "vip_desk"}, Status.ESCALATED),
    (Status.ESCALATED, "ticket.resolved", {"resolution_code": "refund"}, Status.RESOLVED),
    (Status.RESOLVED, "ticket.customer_confirmed", {}, Status.CLOSED),
    (Status.RESOLVED, "ticket.reopened", {}, Status.REOPENED),
    (Status.RESOLVED, "ticket.customer_replied", {}, Status.RESOLVED),
    (Status.RESOLVED, "survey.responded", {"csat": 2, "nps": 3}, Status.RESOLVED),
    (Status.CLOSED, "ticket.reopened", {}, Status.REOPENED),
    (Status.CLOSED, "survey.responded", {"csat": 5}, Status.CLOSED),
    (Status.CLOSED, "ticket.compensation_issued", {"amount": 50.0, "currency": "CNY"},
     Status.CLOSED),
    (Status.REOPENED, "ticket.assigned", {"team": "quality"}, Status.ASSIGNED),
    (Status.REOPENED, "ticket.resolved", {}, Status.RESOLVED),
]


@pytest.mark.parametrize(("start", "event_type", "data", "expected"), ALLOWED)
def test_allowed_transition(start: Status, event_type: str, data: dict, expected: Status):
    state = ticket_in(start)
    change = event(event_type, at=T0 + 3_600_000, **data)
    assert decide(state, change) is None
    after = evolve(state, change)
    assert after.status is expected
    assert after.version == state.version + 1
    assert after.updated_at == T0 + 3_600_000


REFUSED = [
    (Status.NEW, "ticket.status_changed", {"status": "in_progress"}, "assigned before work"),
    (Status.NEW, "ticket.customer_confirmed", {}, "only a resolved ticket"),
    (Status.NEW, "ticket.reopened", {}, "only a resolved or closed"),
    (Status.ASSIGNED, "ticket.transferred", {"to_team": "logistics"}, "already with team"),
    (Status.ACKNOWLEDGED, "ticket.first_response_sent", {}, "already sent"),
    (Status.IN_PROGRESS, "ticket.status_changed", {"status": "in_progress"}, "already"),
    (Status.RESOLVED, "ticket.resolved", {}, "resolved ticket"),
    (Status.RESOLVED, "ticket.assigned", {"team": "x"}, "resolved ticket"),
    (Status.RESOLVED, "ticket.status_changed", {"status": "on_hold"}, "resolved ticket"),
    (Status.CLOSED, "ticket.resolved", {}, "closed ticket"),
    (Status.CLOSED, "ticket.customer_confirmed", {}, "only a resolved ticket"),
    (Status.CLOSED, "ticket.customer_replied", {}, "closed ticket"),
    (Status.CLOSED, "complaint.classified", {"priority": "high"}, "closed ticket"),
    (Status.CLOSED, "ticket.escalated", {}, "closed ticket"),
    (Status.CLOSED, "complaint.received", {}, "already exists"),
    (Status.ESCALATED, "ticket.reopened", {}, "only a resolved or closed"),
]


@pytest.mark.parametrize(("start", "event_type", "data", "reason"), REFUSED)
def test_refused_transition(start: Status, event_type: str, data: dict, reason: str):
    decision = decide(ticket_in(start), event(event_type, **data))
    assert isinstance(decision, Rejected)
    assert reason in decision.reason


@pytest.mark.parametrize("event_type", ["ticket.resolved", "ticket.assigned",
                                        "ticket.customer_confirmed", "survey.responded"])
def test_event_for_unknown_ticket_is_refused(event_type: str):
    decision = decide(None, event(event_type, ticket_id="ghost", team="x"))
    assert isinstance(decision, Rejected)
    assert decision.field == "ticket_id"
    assert "unknown ticket ghost" in decision.reason


def test_repeated_event_id_is_a_duplicate_and_changes_nothing():
    state = ticket_in(Status.ASSIGNED)
    resolve = event("ticket.resolved", event_id="same")
    state = evolve(state, resolve)
    assert isinstance(decide(state, resolve), Duplicate)
    received_again = event("complaint.received", event_id=next(iter(ticket_in(Status.NEW)
                                                                    .seen_event_ids)))
    fresh = evolve(None, received_again)
    assert isinstance(decide(fresh, received_again), Duplicate)


def test_lifecycle_records_dashboard_fields():
    steps = [
        event("complaint.received", at=T0, priority="high", customer_tier="vip"),
        event("ticket.assigned", at=T0 + 1_000, team="logistics", agent="a1"),
        event("ticket.transferred", at=T0 + 2_000, to_team="billing", agent="b1"),
        event("ticket.transferred", at=T0 + 3_000, to_team="logistics"),
        event("ticket.first_response_sent", at=T0 + 4_000, agent="a2"),
        event("ticket.resolved", at=T0 + 5_000, resolution_code="refund"),
        event("ticket.reopened", at=T0 + 6_000),
        event("ticket.resolved", at=T0 + 7_000),
        event("ticket.customer_confirmed", at=T0 + 8_000),
        event("survey.responded", at=T0 + 9_000, csat=4, nps=9),
        event("ticket.compensation_issued", at=T0 + 9_500, amount=20.5, currency="CNY"),
        event("ticket.compensation_issued", at=T0 + 9_600, amount=9.5, currency="CNY"),
    ]
    state = None
    for step in steps:
        assert decide(state, step) is None
        state = evolve(state, step)
    assert state.status is Status.CLOSED
    assert (state.received_at, state.first_response_at) == (T0, T0 + 4_000)
    assert (state.first_resolved_at, state.resolved_at, state.closed_at) == \
        (T0 + 5_000, T0 + 7_000, T0 + 8_000)
    assert (state.transfer_count, state.reopen_count) == (2, 1)
    assert state.teams_visited == ("logistics", "billing", "logistics")
    assert (state.team, state.agent, state.resolution_code) == ("logistics", "a2", "refund")
    assert (state.csat, state.nps, state.compensation_total) == (4, 9, 30.0)
    assert (state.priority, state.customer_tier, state.version) == ("high", "vip", 12)


def test_reclassification_changes_only_given_fields():
    state = evolve(ticket_in(Status.ASSIGNED),
                   event("complaint.classified", priority="urgent", category=None))
    assert (state.priority, state.category) == ("urgent", "logistics")


def test_state_round_trips_through_its_table_form():
    state = ticket_in(Status.CLOSED)
    assert TicketState.from_dict(state.to_dict()) == state


def test_state_changed_event_carries_full_state_and_cause():
    state = ticket_in(Status.ACKNOWLEDGED)
    cause = event("ticket.agent_replied", at=T0 + 99)
    derived = state_changed_event(state, cause)
    assert derived.event_type == "ticket.state_changed"
    assert derived.caused_by == cause.event_id
    assert derived.data["status"] == "acknowledged"
    assert derived.data["first_response_at"] == state.first_response_at
    assert "seen_event_ids" not in derived.data
