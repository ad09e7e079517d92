"""The SLA engine on the real local broker: live breaches, retractions, replay."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer

from complaintflow import stack
from complaintflow.config import Settings
from complaintflow.services import start_services
from schemas import serde
from schemas.event import Event
from streams import topics
from streams.sla.clock import advance, on_ticket_state
from streams.sla.policy import load_policy
from tests.conftest import FAST_SLA_POLICY, eventually, post_events

pytestmark = pytest.mark.integration

URGENT_VIP = {"channel": "phone", "category": "billing", "priority": "urgent",
              "customer_id": "C-sla", "customer_tier": "vip", "region": "beijing"}


def _now_ms() -> int:
    return int(time.time() * 1000)


def received(ticket_id: str, at: int, **data) -> dict:
    return {"event_type": "complaint.received", "event_id": f"{ticket_id}-recv",
            "ticket_id": ticket_id, "occurred_at": at, **URGENT_VIP, **data}


def first_response(ticket_id: str, at: int) -> dict:
    return {"event_type": "ticket.first_response_sent", "event_id": f"{ticket_id}-fr",
            "ticket_id": ticket_id, "occurred_at": at, "agent": "wang.fang"}


class TopicReader:
    """Reads a topic from the beginning, noting the wall time each record arrived."""

    def __init__(self, settings: Settings, topic: str):
        self._consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                                       auto_offset_reset="earliest")
        self.seen: list[tuple[Event, int]] = []

    def poll(self) -> list[tuple[Event, int]]:
        for records in self._consumer.poll(timeout_ms=100).values():
            arrived = _now_ms()
            self.seen.extend((serde.decode(r.value), arrived) for r in records)
        return self.seen

    def wait_for(self, ticket_id: str, event_type: str, timeout: float = 30) -> tuple[Event, int]:
        def found():
            return next(((e, t) for e, t in self.poll()
                         if e.ticket_id == ticket_id and e.event_type == event_type), None)
        return eventually(found, timeout=timeout, interval=0.05)

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def sla_reader(local_stack):
    reader = TopicReader(local_stack, topics.SLA.name)
    yield reader
    reader.close()


def test_two_second_target_breaches_live_within_a_second(local_stack, sla_reader):
    ticket_id = f"SLA-live-{uuid.uuid4().hex[:6]}"
    start = _now_ms()
    assert post_events(local_stack, [received(ticket_id, start)])[0] == 202
    breach, arrived = sla_reader.wait_for(ticket_id, "sla.breached")
    assert breach.data["metric"] == "first_response"
    assert breach.data["deadline"] == start + 2_000
    assert breach.data["target_seconds"] == 2
    assert breach.data["policy_version"] == "test-fast-1"
    assert arrived - breach.data["deadline"] <= 1_000, "breach arrived more than 1 s late"


def test_late_first_response_dated_before_the_deadline_retracts_the_breach(local_stack,
                                                                          sla_reader):
    ticket_id = f"SLA-late-{uuid.uuid4().hex[:6]}"
    start = _now_ms()
    assert post_events(local_stack, [received(ticket_id, start)])[0] == 202
    sla_reader.wait_for(ticket_id, "sla.breached")
    # The agent answered at +1 s, but the event only reaches us now.
    assert post_events(local_stack, [first_response(ticket_id, start + 1_000)])[0] == 202
    retraction, _ = sla_reader.wait_for(ticket_id, "sla.breach_retracted")
    met, _ = sla_reader.wait_for(ticket_id, "sla.met")
    assert retraction.data["metric"] == met.data["metric"] == "first_response"
    assert met.data["elapsed_business_seconds"] == 1


def test_replaying_the_topic_into_a_fresh_processor_gives_the_same_outcomes(local_stack,
                                                                           sla_reader):
    run = uuid.uuid4().hex[:6]
    start = _now_ms()
    in_time, late = f"SLA-replay-ok-{run}", f"SLA-replay-late-{run}"
    events = [received(in_time, start), first_response(in_time, start + 500),
              received(late, start)]
    assert post_events(local_stack, events)[0] == 202
    sla_reader.wait_for(in_time, "sla.met")
    sla_reader.wait_for(late, "sla.breached")
    live = _final_outcomes(e for e, _ in sla_reader.poll())

    tickets = (in_time, late)
    live_events = [e for e, _ in sla_reader.poll() if e.ticket_id in tickets]
    replayed_events = _replay(local_stack, tickets, load_policy(FAST_SLA_POLICY))
    # Event ids are deterministic, so a fresh processor must emit exactly the same events.
    assert _identities(replayed_events) == _identities(live_events)
    live = _final_outcomes(live_events)
    assert _final_outcomes(replayed_events) == live
    assert live[(in_time, "first_response", 1)] == "met"
    assert live[(late, "first_response", 1)] == "breached"


def _replay(settings: Settings, tickets: tuple[str, ...], policy) -> list[Event]:
    """Feed the ticket-state topic from the beginning into a fresh, pure SLA processor."""
    reader = TopicReader(settings, topics.TICKET_STATE.name)
    try:
        eventually(lambda: {e.ticket_id for e, _ in reader.poll()} >= set(tickets))
        changes = [e for e, _ in reader.seen if e.ticket_id in tickets]
    finally:
        reader.close()
    states: dict = {}
    emitted: list[Event] = []
    for change in changes:
        states[change.ticket_id], events = on_ticket_state(states.get(change.ticket_id),
                                                           change, policy, partition=0)
        emitted.extend(events)
    for state in states.values():
        emitted.extend(advance(state, _now_ms(), policy)[1])
    return emitted


def _identities(events: list[Event]) -> set[tuple]:
    return {(e.event_id, e.event_type, e.data["deadline"], e.data["threshold"])
            for e in events}


def _final_outcomes(events) -> dict[tuple[str, str, int], str]:
    latest: dict[tuple[str, str, int], str] = {}
    terminal = {"sla.met": "met", "sla.breached": "breached", "sla.breach_retracted": "running"}
    for event in events:
        if event.event_type in terminal:
            latest[(event.ticket_id, event.data["metric"], event.data["cycle"])] = \
                terminal[event.event_type]
    return latest


def test_deadline_survives_a_worker_restart(local_stack, sla_reader):
    ticket_id = f"SLA-restart-{uuid.uuid4().hex[:6]}"
    reader = TopicReader(local_stack, topics.TICKET_STATE.name)
    try:
        start = _now_ms()
        assert post_events(local_stack, [received(ticket_id, start)])[0] == 202
        eventually(lambda: any(e.ticket_id == ticket_id for e, _ in reader.poll()))
    finally:
        reader.close()
    # The clock has started; the worker goes away before its 2-second deadline.
    stack.stop_service(local_stack.state_dir, "worker")
    assert not [e for e, _ in sla_reader.poll()
                if e.ticket_id == ticket_id and e.event_type == "sla.breached"]
    start_services(local_stack, names=("worker",))
    breach, _ = sla_reader.wait_for(ticket_id, "sla.breached", timeout=60)
    assert breach.data["deadline"] == start + 2_000
