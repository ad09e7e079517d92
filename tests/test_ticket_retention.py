"""Closed tickets purged after their retention, and the tombstone that refuses late events."""

from __future__ import annotations

import json

import pytest

from streams.tickets.model import (
    DAY_MS,
    DEFAULT_RETENTION_MS,
    Duplicate,
    Rejected,
    Status,
    TicketState,
    TicketTombstone,
    decide,
    evolve,
    purgeable,
    ticket_from_dict,
    tombstone,
)
from tests.factories import T0, event

CLOSED_AT = T0 + 3_000  # 2025-11-23 00:00:03 UTC


def closed_ticket() -> TicketState:
    state = None
    for n, (event_type, data) in enumerate([
        ("complaint.received", {}), ("ticket.resolved", {}), ("ticket.customer_confirmed", {}),
    ]):
        change = event(event_type, at=T0 + n * 1_500, **data)
        state = evolve(state, change, 10 + n)
    assert state is not None and state.status is Status.CLOSED
    assert state.closed_at == CLOSED_AT
    return state


def test_default_retention_is_thirty_days():
    assert DEFAULT_RETENTION_MS == 30 * DAY_MS


def test_only_a_ticket_closed_longer_ago_than_the_retention_is_purgeable():
    closed = closed_ticket()
    assert not purgeable(closed, CLOSED_AT + DEFAULT_RETENTION_MS)
    assert purgeable(closed, CLOSED_AT + DEFAULT_RETENTION_MS + 1)
    assert purgeable(closed, CLOSED_AT + 2 * DAY_MS + 1, retention_ms=2 * DAY_MS)
    assert not purgeable(closed, CLOSED_AT + 2 * DAY_MS + 1, retention_ms=3 * DAY_MS)


@pytest.mark.parametrize("event_type", ["ticket.reopened", "survey.responded"])
def test_a_reopened_or_still_surveyed_ticket_follows_its_status(event_type: str):
    after = evolve(closed_ticket(), event(event_type, at=CLOSED_AT + 10, csat=3), 20)
    later = CLOSED_AT + 365 * DAY_MS
    assert purgeable(after, later) is (after.status is Status.CLOSED)


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.CLOSED])
def test_a_ticket_not_closed_is_never_purgeable(status: Status):
    state = TicketState("T1", status, 5, T0, T0, resolved_at=T0, closed_at=T0)
    assert not purgeable(state, T0 + 10 * 365 * DAY_MS)


def test_the_tombstone_keeps_only_what_refusing_needs():
    closed = closed_ticket()
    purged_at = CLOSED_AT + DEFAULT_RETENTION_MS + 1
    stone = tombstone(closed, purged_at)
    assert stone == TicketTombstone("T1", CLOSED_AT, purged_at, DEFAULT_RETENTION_MS, 12)
    assert not purgeable(stone, purged_at + DEFAULT_RETENTION_MS)
    stored = json.loads(json.dumps(stone.to_dict()))
    assert ticket_from_dict(stored) == stone
    assert ticket_from_dict(closed.to_dict()) == closed
    assert len(json.dumps(stored)) < 130 < len(json.dumps(closed.to_dict()))


def test_a_ticket_that_is_not_purgeable_gets_no_tombstone():
    with pytest.raises(ValueError, match="not purgeable"):
        tombstone(closed_ticket(), CLOSED_AT + DAY_MS)


@pytest.mark.parametrize("event_type", ["complaint.received", "ticket.reopened",
                                        "survey.responded", "ticket.customer_replied"])
def test_every_late_event_for_a_purged_ticket_is_refused_with_the_reason(event_type: str):
    stone = tombstone(closed_ticket(), CLOSED_AT + 31 * DAY_MS)
    decision = decide(stone, event(event_type, at=CLOSED_AT + 31 * DAY_MS), 500)
    assert decision == Rejected(
        "ticket T1 was closed on 2025-11-23 00:00 UTC and purged after the retention of "
        "30 days; the event arrived too late", "ticket_id")


def test_a_late_retry_of_the_first_event_does_not_recreate_the_ticket():
    closed = closed_ticket()
    stone = tombstone(closed, CLOSED_AT + 2 * DAY_MS + 1, retention_ms=2 * DAY_MS)
    retry = event("complaint.received", event_id="brand-new-id")
    decision = decide(stone, retry, 999)
    assert isinstance(decision, Rejected)
    assert "purged after the retention of 2 days" in decision.reason
    with pytest.raises(ValueError, match="purged"):
        evolve(stone, retry, 999)  # type: ignore[arg-type]


def test_a_redelivered_record_of_a_purged_ticket_is_a_duplicate_not_a_dead_letter():
    stone = tombstone(closed_ticket(), CLOSED_AT + 31 * DAY_MS)
    assert isinstance(decide(stone, event("complaint.received"), 10), Duplicate)
    assert isinstance(decide(stone, event("ticket.customer_confirmed"), 12), Duplicate)
    assert isinstance(decide(stone, event("ticket.customer_confirmed"), 13), Rejected)
    assert isinstance(decide(stone, event("ticket.customer_confirmed")), Rejected)


def test_retention_in_the_reason_is_in_days():
    stone = TicketTombstone("T9", CLOSED_AT, CLOSED_AT + 2 * DAY_MS, DAY_MS // 2)
    assert "retention of 0.5 days" in stone.reason
    assert "retention of 1 day;" in TicketTombstone("T9", CLOSED_AT, 0, DAY_MS).reason
