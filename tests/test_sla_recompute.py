"""`sla recompute`: outcomes as contracted beside a new policy's, from the input events."""

from __future__ import annotations

import yaml

from complaintflow.sla_cli import format_comparison
from streams.sla.policy import DEFAULT_POLICY_PATH, SlaPolicy, policy_from_mapping
from streams.sla.recompute import (
    compare,
    contracted_verdict,
    replay_ticket,
    verdicts,
)
from tests.factories import event
from tests.test_sla_clock import POLICY, sh


def stricter() -> SlaPolicy:
    """The default policy with a 10-minute normal/regular first response (30 min today)."""
    raw = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    raw["version"] = "2027-strict"
    raw["targets"]["first_response"]["normal"]["default"]["target"] = "10m"
    return policy_from_mapping(raw)


def ticket(ticket_id: str, reply_after_minutes: int) -> list:
    """Received Tue 4 Nov 2025 10:00, first response some minutes later, with a repeat and a
    refused event in the log (the replay must skip both, as the ticket processor does)."""
    received = event("complaint.received", ticket_id, sh("2025-11-04 10:00"),
                     event_id=f"{ticket_id}-r")
    return [
        received,
        received,  # redelivered
        event("ticket.customer_confirmed", ticket_id, sh("2025-11-04 10:01")),  # refused
        event("ticket.first_response_sent", ticket_id,
              sh("2025-11-04 10:00") + reply_after_minutes * 60_000),
    ]


AS_OF = sh("2025-11-05 12:00")


def test_replaying_the_log_under_the_running_policy_reproduces_the_verdicts():
    state = replay_ticket(ticket("A", 20), POLICY)
    assert state is not None and state.ticket_version == 2  # the repeat and refusal skipped
    # Resolution: 15 working hours; by Wed 12:00 only 9.5 have passed (10-12, 13:30-18, 9-12).
    assert verdicts(state, POLICY, AS_OF) == {("A", "first_response", 1): "met",
                                              ("A", "resolution", 1): "open"}


def test_a_stricter_policy_shows_which_clocks_would_change_without_touching_the_contract():
    logs = {"A": ticket("A", 20), "B": ticket("B", 5)}
    contracted = {("A", "first_response", 1): contracted_verdict("met"),
                  ("B", "first_response", 1): contracted_verdict("met"),
                  ("A", "resolution", 1): contracted_verdict("running"),
                  ("B", "resolution", 1): contracted_verdict("warning")}
    recomputed = {}
    for events in logs.values():
        recomputed.update(verdicts(replay_ticket(events, stricter()), stricter(), AS_OF))
    result = compare(contracted, recomputed)
    # A replied after 20 min: met against 30 min, breached against 10; B met both ways.
    assert result.changed == [(("A", "first_response", 1), "met", "breached")]
    assert result.contracted["first_response"] == {"met": 2}
    assert result.recomputed["first_response"] == {"met": 1, "breached": 1}
    text = format_comparison(result, stricter(), AS_OF, limit=20)
    assert "按新政策 2027-strict" in text
    assert "工单 A  首次响应 第 1 轮  达标 → 违约" in text
    assert "100.0% → 50.0%" in text


def test_a_running_clock_past_its_deadline_counts_as_breached_and_before_it_as_open():
    log = ticket("C", 0)[:1]  # received, no response yet
    state = replay_ticket(log, POLICY)
    assert verdicts(state, POLICY, sh("2025-11-04 10:29"))[("C", "first_response", 1)] == "open"
    assert verdicts(state, POLICY, sh("2025-11-04 10:30"))[("C", "first_response", 1)] == \
        "breached"
    assert contracted_verdict("retracted") == "met" and contracted_verdict("paused") == "open"
