"""The pure ticket state machine: allowed transitions, refusals, idempotency."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.tickets.model import (
    RECENT_EVENT_IDS,
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
    assert "seen_event_ids" not in derived.data and "applied_offset" not in derived.data


# --- de-duplication: the highest offset applied and the most recent event ids -----------------


def busy(events: int, offset: int = 100) -> TicketState:
    """A ticket after ``events`` input events, the n-th (from 0) at ``offset + n`` with id e<n>."""
    state = evolve(None, event("complaint.received", event_id="e0"), offset)
    for n in range(1, events):
        change = event("ticket.agent_replied", at=T0 + n * 1_000, event_id=f"e{n}")
        assert decide(state, change, offset + n) is None
        state = evolve(state, change, offset + n)
    return state


def test_a_redelivered_record_is_a_duplicate_even_once_its_id_is_forgotten():
    state = busy(3 * RECENT_EVENT_IDS)
    assert state.applied_offset == 100 + 3 * RECENT_EVENT_IDS - 1
    assert "e0" not in state.seen_event_ids
    # The same records again (a consumer restarting from an older commit): offsets at or
    # below the highest applied, whatever their ids.
    assert isinstance(decide(state, event("complaint.received", event_id="e0"), 100), Duplicate)
    assert isinstance(decide(state, event("ticket.agent_replied", event_id="e7"), 107), Duplicate)
    later = event("ticket.agent_replied", event_id="new")
    assert isinstance(decide(state, later, state.applied_offset), Duplicate)
    assert decide(state, later, state.applied_offset + 1) is None


def test_a_client_retry_of_a_recent_event_is_a_duplicate_at_its_new_offset():
    state = busy(RECENT_EVENT_IDS)
    oldest_remembered = event("ticket.agent_replied", event_id="e0")
    assert isinstance(decide(state, oldest_remembered, 10_000), Duplicate)
    # The trade-off: once RECENT_EVENT_IDS newer events came, a retry of it applies again.
    state = evolve(state, event("ticket.agent_replied", event_id="one-more"), 10_000)
    assert "e0" not in state.seen_event_ids
    assert decide(state, oldest_remembered, 10_001) is None


def test_recent_ids_are_bounded_in_order_so_the_state_stops_growing():
    state = busy(5)
    assert state.seen_event_ids == ("e0", "e1", "e2", "e3", "e4")
    long_lived = busy(10 * RECENT_EVENT_IDS)
    assert long_lived.seen_event_ids == tuple(
        f"e{n}" for n in range(9 * RECENT_EVENT_IDS, 10 * RECENT_EVENT_IDS))
    # Twice the events, the same size (ids and counters of the same width here).
    assert len(json.dumps(long_lived.to_dict())) == len(json.dumps(busy(5 * RECENT_EVENT_IDS)
                                                                   .to_dict()))


def test_without_an_offset_the_ids_alone_catch_repeats():
    state = evolve(None, event("complaint.received", event_id="a"))
    state = evolve(state, event("ticket.assigned", event_id="b", team="x"))
    assert state.applied_offset is None
    assert isinstance(decide(state, event("ticket.assigned", event_id="b", team="y")), Duplicate)
    assert decide(state, event("ticket.agent_replied", event_id="c"), 5) is None
    assert evolve(state, event("ticket.agent_replied", event_id="c"), 5).applied_offset == 5
    # A later event without an offset keeps the offset known.
    stamped = evolve(state, event("ticket.agent_replied", event_id="c"), 5)
    assert evolve(stamped, event("ticket.agent_replied", event_id="d")).applied_offset == 5


def old_form(state: TicketState, ids: list[str]) -> dict[str, Any]:
    """A state as the unbounded model stored it: every id, sorted, and no applied_offset."""
    data = asdict(state)
    data["status"] = state.status.value
    data["teams_visited"] = list(state.teams_visited)
    data["seen_event_ids"] = sorted(ids)
    del data["applied_offset"]
    return data


def test_a_state_stored_before_the_bound_loads_with_its_last_ids():
    ids = [f"id-{n:03d}" for n in range(3 * RECENT_EVENT_IDS)]
    stored = json.loads(json.dumps(old_form(ticket_in(Status.ESCALATED), ids)))
    loaded = TicketState.from_dict(stored)
    assert loaded.seen_event_ids == tuple(sorted(ids)[-RECENT_EVENT_IDS:])
    assert loaded.applied_offset is None
    assert loaded == replace(ticket_in(Status.ESCALATED), seen_event_ids=loaded.seen_event_ids)
    assert isinstance(decide(loaded, event("ticket.resolved", event_id=ids[-1]), 7), Duplicate)
    after = evolve(loaded, event("ticket.resolved", event_id="next"), 7)
    assert after.applied_offset == 7 and len(after.seen_event_ids) == RECENT_EVENT_IDS
    assert TicketState.from_dict(after.to_dict()) == after


def test_a_small_old_state_keeps_all_its_ids():
    state = ticket_in(Status.CLOSED)
    loaded = TicketState.from_dict(old_form(state, list(state.seen_event_ids)))
    assert loaded == replace(state, seen_event_ids=tuple(sorted(state.seen_event_ids)))


# --- the stored form -----------------------------------------------------------------------------


def asdict_form(state: TicketState) -> dict[str, Any]:
    """TicketState.to_dict as it was written before, on dataclasses.asdict (the ids were a set,
    written sorted; they are a sequence now, written in order)."""
    data = asdict(state)
    data["status"] = state.status.value
    data["teams_visited"] = list(state.teams_visited)
    data["seen_event_ids"] = list(state.seen_event_ids)
    return data


REPRESENTATIVE = [
    *(ticket_in(status) for status in Status),
    busy(8),
    busy(3 * RECENT_EVENT_IDS),
    replace(busy(3), teams_visited=("a", "b", "a"), csat=4, nps=-1, compensation_total=12.5,
            channel=None, kind="praise", resolution_code="refund"),
]


@pytest.mark.parametrize("state", REPRESENTATIVE)
def test_stored_json_is_the_one_asdict_gave(state: TicketState):
    assert json.dumps(state.to_dict()) == json.dumps(asdict_form(state))  # key order too
    assert TicketState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


_TEXT = st.text(max_size=12)
_OPT_TEXT = st.none() | _TEXT
_MS = st.integers(0, 2**53)
_OPT_MS = st.none() | _MS
ticket_states = st.builds(
    TicketState,
    ticket_id=_TEXT, status=st.sampled_from(Status), version=st.integers(1, 10**6),
    received_at=_MS, updated_at=_MS, kind=_TEXT, channel=_OPT_TEXT, category=_OPT_TEXT,
    priority=_OPT_TEXT, customer_id=_OPT_TEXT, customer_tier=_OPT_TEXT, region=_OPT_TEXT,
    team=_OPT_TEXT, agent=_OPT_TEXT, first_response_at=_OPT_MS, first_resolved_at=_OPT_MS,
    resolved_at=_OPT_MS, closed_at=_OPT_MS, transfer_count=st.integers(0, 99),
    reopen_count=st.integers(0, 99), escalation_level=st.integers(0, 9),
    csat=st.none() | st.integers(1, 5), nps=st.none() | st.integers(0, 10),
    compensation_total=st.floats(allow_nan=False, allow_infinity=False),
    last_event_type=_OPT_TEXT, resolution_code=_OPT_TEXT,
    teams_visited=st.lists(_TEXT, max_size=5).map(tuple),
    seen_event_ids=st.lists(_TEXT, max_size=RECENT_EVENT_IDS).map(tuple),
    applied_offset=st.none() | st.integers(0, 2**62),
)


@settings(max_examples=200)
@given(state=ticket_states)
def test_any_state_round_trips_through_json_as_asdict_wrote_it(state: TicketState):
    text = json.dumps(state.to_dict(), sort_keys=True)
    assert text == json.dumps(asdict_form(state), sort_keys=True)
    assert TicketState.from_dict(json.loads(text)) == state


def test_an_unknown_stored_status_is_refused():
    data = {**ticket_in(Status.NEW).to_dict(), "status": "archived"}
    with pytest.raises(ValueError, match="archived"):
        TicketState.from_dict(data)
