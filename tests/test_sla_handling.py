"""SLA record handling without Kafka: outcomes, the next deadline, and dead letters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from streams.sla.handling import handle_change, handle_due
from streams.sla.policy import load_policy
from streams.tickets.handling import Origin
from streams.tickets.model import evolve, state_changed_event
from tests.factories import T0, event

POLICY = load_policy(Path(__file__).parent / "data" / "sla_policy_fast.yaml")
ORIGIN = Origin("complaints.ticket-state", 1, 7)


def _received_change(priority: str = "urgent", tier: str = "vip"):
    received = event("complaint.received", ticket_id="S1", at=T0, priority=priority,
                     customer_tier=tier)
    return state_changed_event(evolve(None, received), received)


def test_new_ticket_starts_clocks_and_schedules_its_first_instant():
    outcome = handle_change(_received_change(), ORIGIN, None, POLICY, T0)
    assert outcome.dead_letter is None
    assert outcome.state.partition == 1
    # Every clock the receipt starts is announced at once, dated at receipt.
    assert [(e.event_type, e.data["metric"], e.occurred_at, e.data["elapsed_business_seconds"])
            for e in outcome.events] == [("sla.started", "first_response", T0, 0),
                                         ("sla.started", "resolution", T0, 0)]
    assert outcome.events[0].data["deadline"] == T0 + 2_000
    # urgent VIP first response: 2 s, first warning at 50% = 1 s after receipt
    assert outcome.due == T0 + 1_000


def test_due_deadline_emits_warnings_and_breach_then_schedules_nothing_more_for_it():
    state = handle_change(_received_change(), ORIGIN, None, POLICY, T0).state
    outcome = handle_due(state, T0 + 2_000, POLICY)
    kinds = [(e.event_type, e.data["metric"]) for e in outcome.events]
    assert ("sla.breached", "first_response") in kinds
    assert kinds.count(("sla.warning", "first_response")) == 2
    assert outcome.due is None or outcome.due > T0 + 2_000


def test_a_change_the_clocks_cannot_take_is_dead_lettered_with_its_reason():
    # A ticket whose calendar the policy cannot provide (a clock pinned to a lost calendar).
    state = handle_change(_received_change(), ORIGIN, None, POLICY, T0).state
    lost = replace(state, clocks=tuple(replace(c, calendar_fingerprint="f" * 64)
                                       for c in state.clocks))
    reply = event("ticket.first_response_sent", ticket_id="S1", at=T0 + 500)
    received = event("complaint.received", ticket_id="S1", at=T0, priority="urgent",
                     customer_tier="vip")
    change = state_changed_event(evolve(evolve(None, received), reply), reply)
    outcome = handle_change(change, ORIGIN, lost, POLICY, T0)
    assert outcome.state is None
    letter = outcome.dead_letter
    assert (letter.stage, letter.dlq_id, letter.source_offset) == ("sla", change.event_id, 7)
    assert letter.reason.startswith("UnknownCalendar: calendar '24x7' with fingerprint ffff")
