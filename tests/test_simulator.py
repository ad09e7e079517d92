"""The simulator's plan is realistic and consistent with the ticket state machine."""

from __future__ import annotations

from collections import Counter

from complaintflow.simulator import DAY, SimulationConfig, plan
from schemas.validation import parse_events
from streams.tickets.model import Duplicate, Rejected, decide, evolve

END = 1_795_400_000_000


def test_plan_is_seeded_and_deterministic():
    config = SimulationConfig(tickets=300, seed=3)
    assert plan(config, END).sends == plan(config, END).sends
    assert plan(config, END).sends != plan(SimulationConfig(tickets=300, seed=4), END).sends


def test_plan_events_are_valid_intake_input_within_the_span():
    sim = plan(SimulationConfig(tickets=300, span_ms=2 * DAY), END)
    events = parse_events(sim.events, now_ms=END)
    assert all(END - 2 * DAY <= e.occurred_at <= END for e in events)
    assert len({e.event_id for e in events}) == len(events)


def test_state_machine_refuses_exactly_the_injected_invalid_events():
    sim = plan(SimulationConfig(tickets=1500, invalid_rate=0.01, duplicate_rate=0.02), END)
    states: dict = {}
    refused, duplicates = set(), 0
    for event in parse_events(sim.sends, now_ms=END):
        decision = decide(states.get(event.ticket_id), event)
        if isinstance(decision, Rejected):
            refused.add(event.event_id)
        elif isinstance(decision, Duplicate):
            duplicates += 1
        else:
            states[event.ticket_id] = evolve(states.get(event.ticket_id), event)
    assert refused == sim.invalid_event_ids
    assert duplicates == len(sim.sends) - len(sim.events) - _redelivered_invalid(sim)
    assert sum(s.version for s in states.values()) == sim.unique_events - len(refused)


def _redelivered_invalid(sim) -> int:
    counts = Counter(e["event_id"] for e in sim.sends)
    return sum(counts[i] - 1 for i in sim.invalid_event_ids)


def test_mix_follows_the_configured_shares():
    sim = plan(SimulationConfig(tickets=4000), END)
    received = [e for e in sim.events if e["event_type"] == "complaint.received"]
    channels = Counter(e["channel"] for e in received)
    priorities = Counter(e["priority"] for e in received)
    assert 0.20 < channels["phone"] / len(received) < 0.30
    assert 0.55 < priorities["normal"] / len(received) < 0.65
    statuses = Counter(e["event_type"] for e in sim.events)
    assert statuses["ticket.reopened"] > 0 and statuses["survey.responded"] > 0
    assert statuses["ticket.transferred"] > 0
