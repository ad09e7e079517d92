"""Record-level handling of the ticket processor, without Kafka."""

from __future__ import annotations

from schemas import serde
from streams.tickets.handling import Origin, handle
from streams.tickets.model import TicketState, evolve
from tests.factories import event

ORIGIN = Origin("complaints.events", 2, 41)


def _handle(ev, store: dict[str, TicketState], key: bytes | None = None):
    return handle(serde.encode(ev), key if key is not None else ev.ticket_id.encode(), ORIGIN,
                  store.get, now_ms=123)


def test_applied_event_yields_new_state_and_state_changed():
    outcome = _handle(event("complaint.received", ticket_id="T7"), {})
    assert outcome.label == "applied"
    assert outcome.state.ticket_id == "T7" and outcome.state.version == 1
    assert outcome.state_changed.data["status"] == "new"


def test_undecodable_bytes_are_dead_lettered_with_their_position():
    outcome = handle(b"garbage", b"T7", ORIGIN, {}.get, now_ms=123)
    letter = outcome.dead_letter
    assert (letter.stage, letter.dlq_id) == ("decode", "complaints.events:2:41")
    assert "magic byte" in letter.reason
    assert outcome.state is None


def test_key_that_differs_from_ticket_id_is_refused():
    outcome = _handle(event("complaint.received", ticket_id="T7"), {}, key=b"T8")
    assert outcome.dead_letter.field == "ticket_id"
    assert "Kafka key" in outcome.dead_letter.reason


def test_invalid_transition_is_dead_lettered_with_reason_and_origin():
    resolve = event("ticket.resolved", ticket_id="nobody")
    letter = _handle(resolve, {}).dead_letter
    assert (letter.stage, letter.event_id, letter.event_type) == \
        ("ticket_state", resolve.event_id, "ticket.resolved")
    assert "unknown ticket nobody" in letter.reason
    assert (letter.source_partition, letter.source_offset) == (2, 41)


def test_duplicate_yields_nothing_to_write():
    received = event("complaint.received", ticket_id="T9")
    store = {"T9": evolve(None, received)}
    outcome = _handle(received, store)
    assert outcome.duplicate and outcome.state is None and outcome.dead_letter is None


def test_defect_in_the_model_parks_the_event_instead_of_stalling():
    broken = event("ticket.status_changed", ticket_id="T9", status="no_such_status")
    store = {"T9": evolve(None, event("complaint.received", ticket_id="T9"))}
    letter = _handle(broken, store).dead_letter
    assert letter.reason.startswith("internal error: ValueError")
