"""Record-level handling of the ticket processor, without Kafka."""

from __future__ import annotations

from schemas import serde
from streams.tickets.handling import Origin, handle
from streams.tickets.model import DAY_MS, TicketState, TicketTombstone, evolve
from tests.factories import T0, event

ORIGIN = Origin("complaints.events", 2, 41)


def _handle(ev, store: dict[str, TicketState | TicketTombstone], key: bytes | None = None,
            origin: Origin = ORIGIN):
    return handle(serde.encode(ev), key if key is not None else ev.ticket_id.encode(), origin,
                  store.get, now_ms=123)


def _at(offset: int) -> Origin:
    return Origin("complaints.events", 2, offset)


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


def test_the_applied_state_remembers_the_record_offset():
    store: dict[str, TicketState | TicketTombstone] = {}
    outcome = _handle(event("complaint.received", ticket_id="T7"), store, origin=_at(41))
    assert outcome.state.applied_offset == 41
    store["T7"] = outcome.state
    outcome = _handle(event("ticket.assigned", ticket_id="T7", team="x"), store, origin=_at(57))
    assert outcome.label == "applied" and outcome.state.applied_offset == 57


def test_a_redelivered_record_yields_nothing_to_write():
    assigned = event("ticket.assigned", ticket_id="T7", team="x")
    store: dict[str, TicketState | TicketTombstone] = {}
    for offset, ev in ((40, event("complaint.received", ticket_id="T7")), (41, assigned),
                       (42, event("ticket.agent_replied", ticket_id="T7"))):
        store["T7"] = _handle(ev, store, origin=_at(offset)).state
    again = _handle(assigned, store, origin=_at(41))
    assert again.duplicate and again.state is None and again.dead_letter is None


def test_a_client_retry_at_a_new_offset_yields_nothing_to_write():
    received = event("complaint.received", ticket_id="T7")
    store = {"T7": _handle(received, {}, origin=_at(40)).state}
    retry = _handle(received, store, origin=_at(90))
    assert retry.duplicate and retry.state is None and retry.dead_letter is None


def test_a_late_event_for_a_purged_ticket_is_dead_lettered_with_the_reason():
    store = {"T7": TicketTombstone("T7", T0, T0 + 31 * DAY_MS, 30 * DAY_MS, applied_offset=40)}
    letter = _handle(event("complaint.received", ticket_id="T7"), store,
                     origin=_at(90)).dead_letter
    assert letter.field == "ticket_id"
    assert letter.reason == ("ticket T7 was closed on 2025-11-23 00:00 UTC and purged after the "
                             "retention of 30 days; the event arrived too late")
    assert (letter.source_partition, letter.source_offset) == (2, 90)
    assert _handle(event("complaint.received", ticket_id="T7"), store,
                   origin=_at(40)).duplicate
