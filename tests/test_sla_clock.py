"""The pure SLA clock: starts, stops, pauses, re-plans, announcements and event-time verdicts.

Tickets are driven through the real ticket model (decide / evolve / state_changed_event), so
the SLA clock sees exactly the ticket.state_changed events the ticket agent publishes.

Times are Asia/Shanghai local time. The default policy applies: normal/regular first response
is 30 min on cn_business (Mon-Fri 09:00-12:00 + 13:30-18:00), urgent first response 2 min on
24x7, warnings at 50% and 80%, pause on pending_customer. November 2025 has no holidays.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import serde
from schemas.event import Event
from streams.sla.calendar import HolidayDataUnavailable, add_business_ms, business_ms_between
from streams.sla.clock import (
    MetricClock,
    Pause,
    SlaState,
    advance,
    deadline_of,
    elapsed_business_ms,
    next_due,
    on_ticket_state,
    outcomes,
)
from streams.sla.policy import (
    DEFAULT_POLICY_PATH,
    SlaPolicy,
    load_default_policy,
    policy_from_mapping,
)
from streams.tickets.model import TicketState, decide, evolve, state_changed_event
from tests.factories import event

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECOND_MS, MINUTE_MS, HOUR_MS = 1_000, 60_000, 3_600_000
POLICY = load_default_policy()


def sh(text: str) -> int:
    """'YYYY-MM-DD HH:MM[:SS]' in Shanghai local time -> UTC epoch ms."""
    return round(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp() * 1000)


def local(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, SHANGHAI)
    return moment.strftime("%Y-%m-%d %H:%M" + (":%S" if moment.second else ""))


def policy_with(**changes: Any) -> SlaPolicy:
    """The default policy with some top-level keys replaced."""
    raw = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    return policy_from_mapping({**raw, **changes})


class Ticket:
    """One ticket driven through the ticket model and the SLA clock, recording sla.* events."""

    def __init__(self, policy: SlaPolicy = POLICY, ticket_id: str = "T1") -> None:
        self.policy = policy
        self.ticket_id = ticket_id
        self.ticket: TicketState | None = None
        self.sla: SlaState | None = None
        self.changes: list[Event] = []
        self.events: list[Event] = []

    def do(self, event_type: str, at: int | str, **data: Any) -> list[Event]:
        """Apply an input event to the ticket and its state change to the SLA clock."""
        self.record(event_type, at, **data)
        return self.feed(self.changes[-1])

    def record(self, event_type: str, at: int | str, **data: Any) -> Event:
        """Apply an input event to the ticket only; returns its ticket.state_changed."""
        at_ms = sh(at) if isinstance(at, str) else at
        cause = event(event_type, ticket_id=self.ticket_id, at=at_ms,
                      event_id=f"{self.ticket_id}-in{len(self.changes)}", **data)
        assert decide(self.ticket, cause) is None
        self.ticket = evolve(self.ticket, cause)
        self.changes.append(state_changed_event(self.ticket, cause))
        return self.changes[-1]

    def feed(self, change: Event) -> list[Event]:
        self.sla, out = on_ticket_state(self.sla, change, self.policy, partition=3)
        self.events += out
        return out

    def advance(self, at: int | str) -> list[Event]:
        assert self.sla is not None
        self.sla, out = advance(self.sla, sh(at) if isinstance(at, str) else at, self.policy)
        self.events += out
        return out

    def clock(self, metric: str, cycle: int = 1) -> MetricClock:
        assert self.sla is not None
        return next(c for c in self.sla.clocks if (c.metric, c.cycle) == (metric, cycle))

    def deadline(self, metric: str, cycle: int = 1) -> str | None:
        return local(deadline_of(self.clock(metric, cycle), self.policy))

    def next_due(self) -> str | None:
        assert self.sla is not None
        return local(next_due(self.sla, self.policy))

    def outcome(self, metric: str, cycle: int = 1) -> dict[str, Any]:
        assert self.sla is not None
        rows = outcomes(self.sla, self.policy)
        return next(r for r in rows if (r["metric"], r["cycle"]) == (metric, cycle))


def summary(events: list[Event], metric: str | None = None) -> list[tuple[Any, ...]]:
    """(event type, local time, threshold or reason, elapsed business seconds) per event."""
    return [
        (e.event_type, local(e.occurred_at), e.data["threshold"] or e.data["reason"],
         e.data["elapsed_business_seconds"])
        for e in events
        if metric is None or e.data["metric"] == metric
    ]


# --- first response: deadlines and announcements ----------------------------------------------


@pytest.mark.parametrize(
    ("received", "priority", "target_s", "warnings", "deadline"),
    [
        # urgent: 2 min on 24x7, so the Friday evening does not matter; 60 s and 96 s.
        ("2025-11-07 17:50", "urgent", 120, ["2025-11-07 17:51", "2025-11-07 17:51:36"],
         "2025-11-07 17:52"),
        # normal/regular: 30 min on cn_business. Fri 17:50-18:00 counts 10 min and the rest
        # waits for Monday: 50% (15 min) at Mon 09:05, 80% (24 min) at 09:14, 100% at 09:20.
        ("2025-11-07 17:50", "normal", 1800, ["2025-11-10 09:05", "2025-11-10 09:14"],
         "2025-11-10 09:20"),
        # Across lunch: 11:50-12:00 counts 10 min, the other 20 run from 13:30.
        ("2025-11-04 11:50", "normal", 1800, ["2025-11-04 13:35", "2025-11-04 13:44"],
         "2025-11-04 13:50"),
        # Received at night: the clock starts at Wed 09:00.
        ("2025-11-04 22:10", "normal", 1800, ["2025-11-05 09:15", "2025-11-05 09:24"],
         "2025-11-05 09:30"),
    ],
)
def test_first_response_warnings_and_breach_fall_due_on_the_calendar(
    received: str, priority: str, target_s: int, warnings: list[str], deadline: str
):
    t = Ticket()
    opened = t.do("complaint.received", received, priority=priority)
    # Each clock announces its start, dated at receipt even outside business hours.
    assert [(e.event_type, e.data["metric"]) for e in opened] == [
        ("sla.started", "first_response"), ("sla.started", "resolution")]
    assert summary(opened) == [("sla.started", received, None, 0)] * 2
    assert opened[0].data["deadline"] == sh(deadline)
    assert t.deadline("first_response") == deadline

    announced = []
    for _ in range(3):
        assert t.sla is not None
        due_at = next_due(t.sla, POLICY)
        assert due_at is not None
        assert t.advance(due_at - 1) == []  # nothing is announced before its instant
        announced += t.advance(due_at)
    assert summary(announced) == [
        ("sla.warning", warnings[0], 0.5, target_s // 2),
        ("sla.warning", warnings[1], 0.8, target_s * 8 // 10),
        ("sla.breached", deadline, None, target_s),
    ]
    assert all(e.caused_by is None for e in announced)  # timer-driven
    assert t.advance(sh(deadline) + HOUR_MS) == []  # each threshold and the breach once


@pytest.mark.parametrize(
    ("responded", "expected", "outcome", "elapsed_s"),
    [
        # 2 min target on 24x7 from 10:00: 50% at 10:01, 80% at 10:01:36, deadline 10:02.
        ("10:01:30", [("sla.warning", "10:01", 0.5, 60), ("sla.met", "10:01:30", None, 90)],
         "met", 90),
        # Exactly at the deadline is in time: met, and no breach announced first.
        ("10:02:00", [("sla.warning", "10:01", 0.5, 60), ("sla.warning", "10:01:36", 0.8, 96),
                      ("sla.met", "10:02", None, 120)], "met", 120),
        # Late: the breach is announced at its own instant, and the stop confirms it.
        ("10:05:00", [("sla.warning", "10:01", 0.5, 60), ("sla.warning", "10:01:36", 0.8, 96),
                      ("sla.breached", "10:02", None, 120), ("sla.stopped", "10:05", None, 300)],
         "breached", 300),
    ],
)
def test_first_response_met_or_breached(
    responded: str, expected: list[tuple[Any, ...]], outcome: str, elapsed_s: int
):
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.do("ticket.first_response_sent", f"2025-11-04 {responded}")
    started = [("sla.started", "2025-11-04 10:00", None, 0)] * 2  # first response, resolution
    assert summary(t.events) == started + [
        (kind, f"2025-11-04 {at}", detail, elapsed) for kind, at, detail, elapsed in expected
    ]
    row = t.outcome("first_response")
    assert (row["outcome"], row["elapsed_business_seconds"]) == (outcome, elapsed_s)
    assert (row["deadline"], row["stopped_at"]) == (sh("2025-11-04 10:02"),
                                                     sh(f"2025-11-04 {responded}"))
    assert t.clock("first_response").outcome == outcome


def test_events_carry_the_policy_plan_and_the_ticket_fields():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", category="billing")
    t.do("ticket.assigned", "2025-11-04 10:01", team="billing-desk")
    (event,) = t.do("ticket.first_response_sent", "2025-11-04 10:14")  # before 50% (10:15)
    assert event.event_type == "sla.met"
    assert event.event_id == "T1:first_response:1:sla.met:1"  # sla.started took 0
    assert (event.ticket_id, event.source, event.schema_version) == ("T1", "sla", 2)
    assert event.occurred_at == sh("2025-11-04 10:14")
    assert event.caused_by == t.changes[-1].caused_by == "T1-in2"
    assert event.data == {
        "metric": "first_response", "cycle": 1, "policy_version": POLICY.version,
        "calendar": "cn_business",
        "calendar_fingerprint": POLICY.calendars["cn_business"].fingerprint,
        "sequence": 1, "stopped_at": sh("2025-11-04 10:14"),
        "target_seconds": 1800, "deadline": sh("2025-11-04 10:30"),
        "elapsed_business_seconds": 840, "threshold": None, "reason": None,
        "team": "billing-desk", "priority": "normal", "customer_tier": "regular",
        "category": "billing",
    }
    # The start, as the clock's plan stood then: no team yet, nothing elapsed.
    started = t.events[0]
    assert (started.event_id, started.event_type) == (
        "T1:first_response:1:sla.started:0", "sla.started")
    assert (started.occurred_at, started.caused_by) == (sh("2025-11-04 10:00"), "T1-in0")
    assert started.data == {**event.data, "deadline": sh("2025-11-04 10:30"),
                            "elapsed_business_seconds": 0, "team": None, "sequence": 0,
                            "stopped_at": None}
    for sla_event in t.events:
        assert serde.decode(serde.encode(sla_event)).to_record() == sla_event.to_record()


# --- pauses ----------------------------------------------------------------------------------


def test_a_pause_shifts_the_deadline_by_exactly_the_paused_business_time():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00")
    t.do("ticket.assigned", "2025-11-04 10:01", team="A")
    assert t.deadline("first_response") == "2025-11-04 10:30"
    # Resolution is 15 h of business time: Tue 6.5 h + Wed 7.5 h + Thu 09:00-10:00.
    assert t.deadline("resolution") == "2025-11-06 10:00"

    paused = t.do("ticket.status_changed", "2025-11-04 10:10", status="pending_customer")
    assert summary(paused) == [("sla.paused", "2025-11-04 10:10", "pending_customer", 600)] * 2
    assert [e.data["deadline"] for e in paused] == [None, None]  # no deadline while paused
    assert t.clock("first_response").outcome == "paused"
    assert t.deadline("first_response") is None
    assert t.next_due() is None
    assert t.advance("2025-11-20 10:00") == []

    # The customer answers: the ticket goes back in progress and the clocks resume. The reply
    # also starts a next-response clock (4 h from 14:00).
    resumed = t.do("ticket.customer_replied", "2025-11-04 14:00")
    assert [(e.event_type, e.data["metric"], local(e.data["deadline"])) for e in resumed] == [
        ("sla.resumed", "first_response", "2025-11-04 14:20"),
        ("sla.resumed", "resolution", "2025-11-06 13:50"),
        ("sla.started", "next_response", "2025-11-04 18:00"),
    ]
    assert [e.data["reason"] for e in resumed] == ["pending_customer", "pending_customer", None]
    assert t.clock("first_response").pauses == (
        Pause(sh("2025-11-04 10:10"), sh("2025-11-04 14:00"), "pending_customer"),
    )
    # Paused 10:10-12:00 and 13:30-14:00 of business time = 140 min; the deadline moves
    # 10:30 -> 14:20, which is 90 + 50 = 140 business minutes too.
    cal = POLICY.calendars["cn_business"]
    paused_ms = business_ms_between(cal, sh("2025-11-04 10:10"), sh("2025-11-04 14:00"))
    assert paused_ms == 140 * MINUTE_MS
    assert business_ms_between(cal, sh("2025-11-04 10:30"), sh("2025-11-04 14:20")) == paused_ms
    assert business_ms_between(cal, sh("2025-11-06 10:00"), sh("2025-11-06 13:50")) == paused_ms

    t.do("ticket.first_response_sent", "2025-11-04 14:15")
    row = t.outcome("first_response")
    assert (row["outcome"], row["elapsed_business_seconds"]) == ("met", 25 * 60)  # 10 + 15


@pytest.mark.parametrize(
    ("pause_on", "expected"),
    [
        # Default policy: an internal hold is still our time.
        (["pending_customer"], []),
        (["pending_customer", "on_hold"], [("sla.paused", "2025-11-04 10:10", "on_hold", 600)] * 2),
    ],
)
def test_on_hold_pauses_only_when_the_policy_says_so(pause_on: list[str], expected: list[Any]):
    t = Ticket(policy_with(pause_on=pause_on))
    t.do("complaint.received", "2025-11-04 10:00")
    t.do("ticket.assigned", "2025-11-04 10:01", team="A")
    assert summary(t.do("ticket.status_changed", "2025-11-04 10:10", status="on_hold")) == expected


def test_a_clock_paused_after_its_deadline_keeps_that_deadline_and_its_breach():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.do("ticket.assigned", "2025-11-04 10:01", team="A")
    out = t.do("ticket.status_changed", "2025-11-04 10:03", status="pending_customer")
    # Due before the change, each at its own instant; then the pauses.
    assert summary(out) == [
        ("sla.warning", "2025-11-04 10:01:36", 0.8, 96),
        ("sla.breached", "2025-11-04 10:02", None, 120),
        ("sla.paused", "2025-11-04 10:03", "pending_customer", 180),
        ("sla.paused", "2025-11-04 10:03", "pending_customer", 180),
    ]
    assert t.deadline("first_response") == "2025-11-04 10:02"
    t.do("ticket.first_response_sent", "2025-11-04 11:00")
    assert t.outcome("first_response")["outcome"] == "breached"


CN_CLOCK = MetricClock(
    metric="resolution", cycle=1, started_at=sh("2025-11-03 00:00"), target_seconds=15 * 3600,
    calendar_name="cn_business", policy_version=POLICY.version,
)
TWO_WEEKS_MIN = 14 * 24 * 60


@st.composite
def paused_clocks(draw: st.DrawFn) -> MetricClock:
    """The cn_business clock above with a random pause ledger (whole minutes, ordered, the
    last pause possibly still open)."""
    points = sorted(draw(st.sets(st.integers(0, TWO_WEEKS_MIN), max_size=8)))
    starts = [sh("2025-11-03 00:00") + m * MINUTE_MS for m in points]
    ended = starts[1::2] + ([None] if len(starts) % 2 else [])
    reasons = ["pending_customer"] * len(ended)
    return replace(CN_CLOCK, pauses=tuple(map(Pause, starts[::2], ended, reasons)))


@settings(max_examples=150, deadline=None)
@given(clock=paused_clocks(), minutes=st.integers(0, TWO_WEEKS_MIN + 24 * 60))
def test_a_pause_never_adds_elapsed_time_and_never_brings_the_deadline_forward(
    clock: MetricClock, minutes: int
):
    at = clock.started_at + minutes * MINUTE_MS
    unpaused = elapsed_business_ms(CN_CLOCK, POLICY, at)
    assert 0 <= elapsed_business_ms(clock, POLICY, at) <= unpaused
    deadline = deadline_of(clock, POLICY)
    if deadline is not None:
        no_pause_deadline = deadline_of(CN_CLOCK, POLICY)
        assert no_pause_deadline is not None and deadline >= no_pause_deadline
        # The deadline is exactly where the clock has counted its target.
        target_ms = clock.target_seconds * SECOND_MS
        assert elapsed_business_ms(clock, POLICY, deadline) == target_ms
        over = [(p.started_at, p.ended_at) for p in clock.pauses
                if p.ended_at is not None and p.ended_at <= deadline]
        if len(over) == len(clock.pauses):
            # Pauses all over by then: the deadline moved by exactly their business time.
            cal = POLICY.calendars["cn_business"]
            paused_ms = sum(business_ms_between(cal, start, end) for start, end in over)
            assert deadline == add_business_ms(cal, clock.started_at, target_ms + paused_ms)
    else:
        assert clock.paused


# --- reclassification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "expected_at_change", "deadline", "next_due_at"),
    [
        # normal -> urgent at 10:01:30: the first response target becomes 2 min on 24x7 from
        # the original 10:00 start. 50% (10:01) is already past: announced now, dated now.
        ([("classify", "10:01:30", "urgent")],
         [("sla.warning", "10:01:30", 0.5, 90)], "10:02", "10:01:36"),
        # Reclassified after the new deadline: the breach is announced at once.
        ([("classify", "10:05", "urgent")],
         [("sla.warning", "10:05", 0.5, 300), ("sla.warning", "10:05", 0.8, 300),
          ("sla.breached", "10:05", None, 300)], "10:02",
         "14:00"),  # nothing left for the first response; resolution (8 h) is 50% at 14:00
        # normal (30 min; 50% announced at 10:15) -> high (20 min): 50% is not announced
        # again; 80% (16 min, 10:16) is now past; the deadline is 10:20.
        ([("advance", "10:15", None), ("classify", "10:17", "high")],
         [("sla.warning", "10:17", 0.8, 1020)], "10:20", "10:20"),
    ],
)
def test_reclassification_replans_running_clocks_from_their_start(
    steps: list[tuple[str, str, str | None]],
    expected_at_change: list[tuple[Any, ...]],
    deadline: str,
    next_due_at: str,
):
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00")
    for action, at, priority in steps:
        if action == "advance":
            t.advance(f"2025-11-04 {at}")
        else:
            out = t.do("complaint.classified", f"2025-11-04 {at}", priority=priority)
    first_response = [e for e in out if e.data["metric"] == "first_response"]
    assert summary(first_response) == [
        (kind, f"2025-11-04 {when}", detail, elapsed)
        for kind, when, detail, elapsed in expected_at_change
    ]
    assert {e.caused_by for e in first_response} == {t.changes[-1].caused_by}
    assert t.deadline("first_response") == f"2025-11-04 {deadline}"
    assert t.clock("first_response").target_seconds == POLICY.target_for(
        "first_response", t.sla.priority, "regular").seconds
    assert t.next_due() == f"2025-11-04 {next_due_at}"


def test_reclassification_replans_resolution_too():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00")
    assert t.deadline("resolution") == "2025-11-06 10:00"  # 15 h on cn_business
    t.do("complaint.classified", "2025-11-04 10:01", priority="urgent", customer_tier="vip")
    assert t.deadline("resolution") == "2025-11-04 14:00"  # urgent/vip: 4 h on 24x7
    assert t.clock("resolution").calendar_name == "24x7"


def test_a_looser_target_after_a_breach_lets_a_timely_stop_retract_it():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.advance("2025-11-04 10:03")  # breach at 10:02
    assert t.do("complaint.classified", "2025-11-04 10:04", priority="normal") == []
    assert t.deadline("first_response") == "2025-11-04 10:30"
    out = t.do("ticket.first_response_sent", "2025-11-04 10:10")
    assert summary(out) == [
        ("sla.breach_retracted", "2025-11-04 10:10", None, 600),
        ("sla.met", "2025-11-04 10:10", None, 600),
    ]
    assert t.outcome("first_response")["outcome"] == "met"


# --- resolution cycles and next response -------------------------------------------------------


def test_reopening_starts_a_new_resolution_cycle():
    t = Ticket()
    # urgent/vip resolution: 4 h on 24x7.
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent", customer_tier="vip")
    t.do("ticket.first_response_sent", "2025-11-04 10:01")
    assert summary(t.do("ticket.resolved", "2025-11-04 11:00")) == [
        ("sla.met", "2025-11-04 11:00", None, 3600)]
    t.do("ticket.customer_confirmed", "2025-11-04 11:30")
    reopened = t.do("ticket.reopened", "2025-11-04 15:00")
    assert [(e.event_id, local(e.occurred_at), local(e.data["deadline"])) for e in reopened] == [
        ("T1:resolution:2:sla.started:0", "2025-11-04 15:00", "2025-11-04 19:00")]
    assert t.deadline("resolution", 2) == "2025-11-04 19:00"
    out = t.do("ticket.resolved", "2025-11-04 20:00")
    assert summary(out) == [
        ("sla.warning", "2025-11-04 17:00", 0.5, 7200),
        ("sla.warning", "2025-11-04 18:12", 0.8, 11520),
        ("sla.breached", "2025-11-04 19:00", None, 14400),
        ("sla.stopped", "2025-11-04 20:00", None, 18000),
    ]
    assert [e.event_id for e in out] == [
        "T1:resolution:2:sla.warning:1", "T1:resolution:2:sla.warning:2",
        "T1:resolution:2:sla.breached:3", "T1:resolution:2:sla.stopped:4",
    ]
    assert t.sla is not None
    rows = [(r["metric"], r["cycle"], r["outcome"], r["elapsed_business_seconds"])
            for r in outcomes(t.sla, POLICY)]
    assert rows == [
        ("first_response", 1, "met", 60),  # the first response is not asked for again
        ("resolution", 1, "met", 3600),  # first resolution
        ("resolution", 2, "breached", 5 * 3600),
    ]
    full_resolution = sum(r[3] for r in rows if r[0] == "resolution")
    assert full_resolution == 6 * 3600


def test_next_response_cycles_follow_customer_and_agent_replies():
    t = Ticket()
    # urgent/regular next response: 30 min on 24x7.
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.do("ticket.first_response_sent", "2025-11-04 10:01")
    t.do("ticket.customer_replied", "2025-11-04 10:10")
    assert t.deadline("next_response") == "2025-11-04 10:40"
    t.do("ticket.customer_replied", "2025-11-04 10:20")  # still waiting: no second clock
    assert summary(t.do("ticket.agent_replied", "2025-11-04 10:25")) == [
        ("sla.met", "2025-11-04 10:25", None, 900)]
    t.do("ticket.customer_replied", "2025-11-04 11:00")
    assert summary(t.do("ticket.agent_replied", "2025-11-04 11:45")) == [
        ("sla.warning", "2025-11-04 11:15", 0.5, 900),
        ("sla.warning", "2025-11-04 11:24", 0.8, 1440),
        ("sla.breached", "2025-11-04 11:30", None, 1800),
        ("sla.stopped", "2025-11-04 11:45", None, 2700),
    ]
    t.do("ticket.customer_replied", "2025-11-04 11:50")
    resolved = t.do("ticket.resolved", "2025-11-04 12:00")  # also ends the wait
    assert [(e.event_type, e.data["metric"], e.data["cycle"]) for e in resolved] == [
        ("sla.met", "resolution", 1), ("sla.met", "next_response", 3)]
    t.do("ticket.customer_replied", "2025-11-04 12:10")  # on a resolved ticket: no clock
    assert t.sla is not None
    assert [(r["cycle"], r["outcome"], r["elapsed_business_seconds"])
            for r in outcomes(t.sla, POLICY) if r["metric"] == "next_response"] == [
        (1, "met", 900), (2, "breached", 2700), (3, "met", 600)]


def test_a_first_response_also_answers_a_customer_who_wrote_before_it():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.do("ticket.customer_replied", "2025-11-04 10:00:30")
    out = t.do("ticket.first_response_sent", "2025-11-04 10:00:50")
    assert [(e.event_type, e.data["metric"]) for e in out] == [
        ("sla.met", "first_response"), ("sla.met", "next_response")]


def test_a_customer_reply_and_a_reopen_announce_the_clocks_they_start():
    t = Ticket()
    # urgent/regular: next response 30 min, resolution 8 h, both on 24x7.
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.do("ticket.first_response_sent", "2025-11-04 10:01")

    replied = t.do("ticket.customer_replied", "2025-11-04 10:10")
    assert len(replied) == 1
    (started,) = replied
    assert (started.event_id, started.event_type, started.occurred_at, started.caused_by) == (
        "T1:next_response:1:sla.started:0", "sla.started", sh("2025-11-04 10:10"),
        t.changes[-1].caused_by)
    assert started.data == {
        "metric": "next_response", "cycle": 1, "policy_version": POLICY.version,
        "calendar": "24x7", "calendar_fingerprint": POLICY.calendars["24x7"].fingerprint,
        "sequence": 0, "stopped_at": None, "target_seconds": 1800,
        "deadline": sh("2025-11-04 10:40"),
        "elapsed_business_seconds": 0, "threshold": None, "reason": None, "team": None,
        "priority": "urgent", "customer_tier": "regular", "category": "logistics",
    }
    # A second reply while still waiting starts nothing, so announces nothing.
    assert t.do("ticket.customer_replied", "2025-11-04 10:20") == []

    t.do("ticket.resolved", "2025-11-04 11:00")
    t.do("ticket.customer_confirmed", "2025-11-04 11:30")
    (reopened,) = t.do("ticket.reopened", "2025-11-04 15:00")
    assert (reopened.event_id, reopened.occurred_at, reopened.caused_by) == (
        "T1:resolution:2:sla.started:0", sh("2025-11-04 15:00"), t.changes[-1].caused_by)
    assert (reopened.data["metric"], reopened.data["cycle"]) == ("resolution", 2)
    assert (reopened.data["deadline"], reopened.data["elapsed_business_seconds"]) == (
        sh("2025-11-04 23:00"), 0)
    assert t.outcome("resolution", 2)["outcome"] == "running"


# --- event time: live breaches and late events -------------------------------------------------


@pytest.mark.parametrize(
    ("responded", "expected", "outcome"),
    [
        # Dated before the 10:02 deadline: event time wins over the live announcement.
        ("10:01:50", [("sla.breach_retracted", "2025-11-04 10:01:50", None, 110),
                      ("sla.met", "2025-11-04 10:01:50", None, 110)], "met"),
        ("10:02:00", [("sla.breach_retracted", "2025-11-04 10:02", None, 120),
                      ("sla.met", "2025-11-04 10:02", None, 120)], "met"),
        # Dated after it: the breach stands, and the clock says it stopped.
        ("10:02:30", [("sla.stopped", "2025-11-04 10:02:30", None, 150)], "breached"),
    ],
)
def test_a_late_event_retracts_a_live_breach_it_disproves(
    responded: str, expected: list[tuple[Any, ...]], outcome: str
):
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    # The wall clock passes the deadline before the response's event reaches the engine.
    assert [e.event_type for e in t.advance("2025-11-04 10:03")] == [
        "sla.warning", "sla.warning", "sla.breached"]
    assert t.clock("first_response").breached_at == sh("2025-11-04 10:02")
    out = t.do("ticket.first_response_sent", f"2025-11-04 {responded}")
    assert summary(out) == expected
    assert {e.caused_by for e in out} <= {t.changes[-1].caused_by}
    assert t.outcome("first_response")["outcome"] == outcome
    assert (t.clock("first_response").breached_at is None) == (outcome == "met")


def test_a_late_first_response_after_a_live_breach_says_the_clock_stopped_breached():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.do("ticket.assigned", "2025-11-04 10:01", team="A")
    t.advance("2025-11-04 10:03")  # the live breach, dated 10:02
    (stopped,) = t.do("ticket.first_response_sent", "2025-11-04 10:04:30")
    # started, 2 warnings, breach: the stop is the clock's fifth event.
    assert (stopped.event_id, stopped.event_type) == (
        "T1:first_response:1:sla.stopped:4", "sla.stopped")
    assert (stopped.occurred_at, stopped.caused_by) == (
        sh("2025-11-04 10:04:30"), t.changes[-1].caused_by)
    assert stopped.schema_version == 1  # sla.stopped's first and only version
    assert stopped.data == {
        "metric": "first_response", "cycle": 1, "policy_version": POLICY.version,
        "calendar": "24x7", "calendar_fingerprint": POLICY.calendars["24x7"].fingerprint,
        "sequence": 4, "stopped_at": sh("2025-11-04 10:04:30"),
        "target_seconds": 120, "deadline": sh("2025-11-04 10:02"),
        "elapsed_business_seconds": 270, "threshold": None, "reason": None, "team": "A",
        "priority": "urgent", "customer_tier": "regular", "category": "logistics",
        "outcome": "breached",
    }
    assert serde.decode(serde.encode(stopped)).to_record() == stopped.to_record()
    row = t.outcome("first_response")
    assert (row["outcome"], row["stopped_at"], row["elapsed_business_seconds"]) == (
        "breached", sh("2025-11-04 10:04:30"), 270)
    assert t.advance("2025-11-04 12:00") == []  # nothing more for a stopped clock


def test_a_late_stop_while_paused_counts_elapsed_time_up_to_the_pause():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.do("ticket.assigned", "2025-11-04 10:01", team="A")
    t.do("ticket.status_changed", "2025-11-04 10:03", status="pending_customer")  # breached
    out = t.do("ticket.first_response_sent", "2025-11-04 11:00")
    # Waiting on the customer since 10:03 does not count: 3 minutes elapsed, not 60.
    assert summary(out, "first_response") == [("sla.stopped", "2025-11-04 11:00", None, 180)]
    assert out[0].data["outcome"] == "breached"


@pytest.mark.parametrize(
    ("responded_ms", "expected"),
    [
        (0, ["sla.met"]),  # exactly at the 10:02 deadline: in time
        (1, ["sla.breached", "sla.stopped"]),  # a millisecond late
    ],
)
def test_only_a_stop_after_the_deadline_says_sla_stopped(responded_ms: int, expected: list[str]):
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    out = t.do("ticket.first_response_sent", sh("2025-11-04 10:02") + responded_ms)
    verdicts = [e for e in out if e.event_type != "sla.warning"]
    assert [e.event_type for e in verdicts] == expected
    # Only sla.stopped carries an outcome: sla.met's schema has no such field.
    assert ["outcome" in e.data for e in verdicts] == [k == "sla.stopped" for k in expected]


def test_late_stops_have_deterministic_ids():
    def late_ticket() -> Ticket:
        t = Ticket()
        t.record("complaint.received", "2025-11-04 10:00", priority="urgent")
        t.feed(t.record("ticket.first_response_sent", "2025-11-04 10:05"))  # first seen late
        t.do("ticket.resolved", "2025-11-04 19:00")  # 8 h resolution target: late too
        return t

    first_run, second_run = late_ticket(), late_ticket()
    assert first_run.events == second_run.events
    assert [e.event_id for e in first_run.events if e.event_type == "sla.stopped"] == [
        "T1:first_response:1:sla.stopped:2", "T1:resolution:1:sla.stopped:4"]


def test_a_change_dated_before_an_earlier_one_keeps_the_watermark_and_the_ledger_ordered():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00")
    t.do("ticket.assigned", "2025-11-04 10:30", team="A")
    t.do("ticket.status_changed", "2025-11-04 10:20", status="pending_customer")  # late
    assert t.sla is not None
    assert t.sla.watermark == sh("2025-11-04 10:30")
    assert t.sla.partition == 3
    # The pause may not start before the latest instant already in the ledger (the start).
    assert t.clock("first_response").pauses[0].started_at == sh("2025-11-04 10:20")
    t.do("ticket.status_changed", "2025-11-04 10:10", status="in_progress")  # later still
    (pause,) = t.clock("first_response").pauses
    assert pause.started_at == pause.ended_at == sh("2025-11-04 10:20")


# --- replay: verdicts by event time ----------------------------------------------------------

ACTIONS = [
    ("complaint.classified", {"priority": "urgent"}),
    ("complaint.classified", {"priority": "normal"}),
    ("complaint.classified", {"customer_tier": "vip"}),
    ("ticket.assigned", {"team": "A"}),
    ("ticket.transferred", {"to_team": "B"}),
    ("ticket.first_response_sent", {}),
    ("ticket.customer_replied", {}),
    ("ticket.agent_replied", {}),
    ("ticket.status_changed", {"status": "pending_customer"}),
    ("ticket.status_changed", {"status": "in_progress"}),
    ("ticket.status_changed", {"status": "on_hold"}),
    ("ticket.resolved", {}),
    ("ticket.customer_confirmed", {}),
    ("ticket.reopened", {}),
]


@st.composite
def ticket_histories(draw: st.DrawFn) -> list[Event]:
    """ticket.state_changed events of one ticket, from random actions the ticket model
    accepts, some dated before the previous one (late events)."""
    t = Ticket(ticket_id=draw(st.sampled_from(["T1", "T2"])))
    at = sh("2025-11-07 16:00") + draw(st.integers(0, 24 * 60)) * MINUTE_MS  # Fri -> weekend
    t.record("complaint.received", at, priority=draw(st.sampled_from(["urgent", "normal"])))
    for _ in range(draw(st.integers(0, 14))):
        event_type, data = draw(st.sampled_from(ACTIONS))
        at += draw(st.integers(-60, 12 * 60)) * MINUTE_MS
        probe = event(event_type, ticket_id=t.ticket_id, at=at, **data)
        if decide(t.ticket, probe) is None:
            t.record(event_type, at, **data)
    return t.changes


def replay(
    changes: list[Event], wall_lags: list[int | None]
) -> tuple[SlaState, list[Event]]:
    """Feed the changes in order; after each, optionally call advance at a wall time."""
    state: SlaState | None = None
    events: list[Event] = []
    for change, lag in zip(changes, wall_lags, strict=True):
        state, out = on_ticket_state(state, change, POLICY, partition=0)
        events += out
        if lag is not None:
            state, out = advance(state, change.occurred_at + lag * MINUTE_MS, POLICY)
            events += out
    assert state is not None
    last_event_time = max(c.occurred_at for c in changes)
    state, out = advance(state, last_event_time, POLICY)
    return state, events + out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), changes=ticket_histories())
def test_replay_reaches_the_same_verdicts_whenever_advance_runs(
    data: st.DataObject, changes: list[Event]
):
    lags = st.one_of(st.none(), st.integers(-60, 4 * 24 * 60))
    wall_lags = data.draw(st.lists(lags, min_size=len(changes), max_size=len(changes)))
    event_time_state, event_time_events = replay(changes, [None] * len(changes))
    live_state, live_events = replay(changes, wall_lags)

    assert outcomes(live_state, POLICY) == outcomes(event_time_state, POLICY)
    for state, events in ((event_time_state, event_time_events), (live_state, live_events)):
        ids = [e.event_id for e in events]
        assert len(ids) == len(set(ids))
        said = Counter((e.data["metric"], e.data["cycle"], e.event_type) for e in events)
        first_said = {}
        for e in events:
            first_said.setdefault((e.data["metric"], e.data["cycle"]), e)
        for clock in state.clocks:
            key = (clock.metric, clock.cycle)
            # Every clock announced its start once, before anything else, at its start.
            assert said[(*key, "sla.started")] == 1
            first = first_said[key]
            assert (first.event_type, first.occurred_at) == ("sla.started", clock.started_at)
            assert first.event_id.endswith(":sla.started:0")
            assert first.data["elapsed_business_seconds"] == 0
            breaches = said[(*key, "sla.breached")]
            retractions = said[(*key, "sla.breach_retracted")]
            stops = (said[(*key, "sla.met")], said[(*key, "sla.stopped")])
            if clock.outcome == "met":
                # Every breach announced for a met clock was retracted.
                assert breaches == retractions <= 1
                assert stops == (1, 0)
            elif clock.outcome == "breached":
                assert (breaches, retractions, stops) == (1, 0, (0, 1))
            else:
                assert stops == (0, 0)
    # Same input, same calls: the same events with the same ids.
    assert replay(changes, wall_lags)[1] == live_events


# --- ids, storage, repeats -------------------------------------------------------------------


def busy_ticket() -> Ticket:
    t = Ticket()
    t.do("complaint.received", "2025-11-07 17:50")
    t.do("ticket.assigned", "2025-11-07 17:55", team="A")
    t.advance("2025-11-10 09:30")  # warnings and breach
    t.do("ticket.status_changed", "2025-11-10 09:40", status="pending_customer")
    t.do("ticket.customer_replied", "2025-11-10 11:00")
    return t


def test_event_ids_are_deterministic_and_unique():
    first_run, second_run = busy_ticket(), busy_ticket()
    assert first_run.events == second_run.events
    ids = [e.event_id for e in first_run.events]
    assert len(ids) == len(set(ids))
    assert ids[:5] == [
        "T1:first_response:1:sla.started:0",
        "T1:resolution:1:sla.started:0",
        "T1:first_response:1:sla.warning:1",
        "T1:first_response:1:sla.warning:2",
        "T1:first_response:1:sla.breached:3",
    ]
    for sla_event in first_run.events:
        assert serde.decode(serde.encode(sla_event)).to_record() == sla_event.to_record()


def test_state_survives_a_json_round_trip_and_carries_on_identically():
    t = busy_ticket()
    assert t.sla is not None
    stored = json.loads(json.dumps(t.sla.to_dict()))
    restored = SlaState.from_dict(stored)
    assert restored == t.sla
    assert any(c.pauses for c in restored.clocks) and any(c.warned for c in restored.clocks)

    twin = busy_ticket()
    twin.sla = restored
    assert twin.do("ticket.first_response_sent", "2025-11-10 11:05") == t.do(
        "ticket.first_response_sent", "2025-11-10 11:05")



def asdict_form(state: SlaState) -> dict[str, Any]:
    """SlaState.to_dict as it was written before, on dataclasses.asdict."""
    return {**asdict(state), "clocks": [
        {**asdict(c), "pauses": [asdict(p) for p in c.pauses], "warned": list(c.warned)}
        for c in state.clocks]}


def representative_slas() -> list[SlaState]:
    reopened = busy_ticket()
    reopened.do("ticket.first_response_sent", "2025-11-10 11:05")
    reopened.do("ticket.resolved", "2025-11-10 12:00")
    reopened.do("ticket.reopened", "2025-11-11 10:00")
    opened = Ticket()
    opened.do("complaint.received", "2025-11-04 10:00")
    states = [busy_ticket().sla, reopened.sla, opened.sla]
    assert all(s is not None for s in states)
    return states  # type: ignore[return-value]


def test_stored_json_is_the_one_asdict_gave():
    for state in representative_slas():
        assert json.dumps(state.to_dict()) == json.dumps(asdict_form(state))  # key order too
        assert json.dumps(state.to_dict(), sort_keys=True) == json.dumps(asdict_form(state),
                                                                         sort_keys=True)


_OPT_MS = st.none() | st.integers(0, 2**53)
_TEXT = st.text(max_size=10)
pauses = st.builds(Pause, started_at=st.integers(0, 2**53), ended_at=_OPT_MS, reason=_TEXT)
metric_clocks = st.builds(
    MetricClock, metric=_TEXT, cycle=st.integers(1, 9), started_at=st.integers(0, 2**53),
    target_seconds=st.integers(0, 10**7), calendar_name=_TEXT, policy_version=_TEXT,
    calendar_fingerprint=st.none() | _TEXT, pauses=st.lists(pauses, max_size=4).map(tuple),
    warned=st.lists(st.floats(0, 1), max_size=3).map(tuple), breached_at=_OPT_MS,
    stopped_at=_OPT_MS, outcome=st.sampled_from(["running", "paused", "met", "breached"]),
    emitted=st.integers(0, 99),
)
sla_states = st.builds(
    SlaState, ticket_id=_TEXT, partition=st.integers(0, 63), priority=_TEXT,
    customer_tier=_TEXT, category=st.none() | _TEXT, team=st.none() | _TEXT, status=_TEXT,
    clocks=st.lists(metric_clocks, max_size=4).map(tuple), watermark=st.integers(0, 2**53),
    ticket_version=st.integers(0, 10**6),
)


@settings(max_examples=200)
@given(state=sla_states)
def test_any_state_round_trips_through_json_as_asdict_wrote_it(state: SlaState):
    text = json.dumps(state.to_dict(), sort_keys=True)
    assert text == json.dumps(asdict_form(state), sort_keys=True)
    assert SlaState.from_dict(json.loads(text)) == state


def test_a_state_stored_before_ticket_versions_were_kept_still_loads():
    stored = busy_ticket().sla.to_dict()  # type: ignore[union-attr]
    del stored["ticket_version"]
    assert SlaState.from_dict(stored).ticket_version == 0

def test_a_redelivered_change_is_ignored():
    t = Ticket()
    t.do("complaint.received", "2025-11-04 10:00")
    t.do("ticket.customer_replied", "2025-11-04 10:05")
    before = t.sla
    assert t.feed(t.changes[-1]) == []
    assert t.feed(t.changes[0]) == []
    assert t.sla == before


def test_a_ticket_first_seen_mid_way_gets_its_clocks_and_verdicts():
    t = Ticket()
    t.record("complaint.received", "2025-11-04 10:00", priority="urgent")
    change = t.record("ticket.first_response_sent", "2025-11-04 10:05")
    out = t.feed(change)  # the SLA engine never saw the complaint itself
    # Each clock's start comes first, dated at receipt; then the breach already due.
    assert [(e.data["metric"], *row) for e, row in zip(out, summary(out), strict=True)] == [
        ("first_response", "sla.started", "2025-11-04 10:00", None, 0),
        ("first_response", "sla.breached", "2025-11-04 10:02", None, 120),
        ("first_response", "sla.stopped", "2025-11-04 10:05", None, 300),
        ("resolution", "sla.started", "2025-11-04 10:00", None, 0),
    ]
    assert [e.caused_by for e in out] == [change.caused_by, None, change.caused_by,
                                          change.caused_by]
    assert t.outcome("first_response")["outcome"] == "breached"
    assert t.deadline("resolution") == "2025-11-04 18:00"  # urgent/regular 8 h from 10:00


def test_missing_holiday_data_propagates_to_the_caller():
    raw = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    raw["calendars"]["cn_business"]["holiday_data_missing"] = "error"
    t = Ticket(policy_from_mapping(raw))
    with pytest.raises(HolidayDataUnavailable):
        t.do("complaint.received", "2031-03-03 10:00")  # beyond chinese_calendar's data


def test_a_paused_deadline_on_the_last_day_of_holiday_data_needs_no_later_year():
    # Measuring the running stretch before a pause must not look at the next local day: on
    # Thu 2026-12-31, the last day a calendar has holiday data for, the deadline is known.
    from tests.test_sla_calendar import _calendar_with_holiday_data_until_2026

    cal = _calendar_with_holiday_data_until_2026()
    policy = replace(POLICY, calendars={**POLICY.calendars, "cn_business": cal})
    clock = MetricClock(
        metric="first_response", cycle=1, started_at=sh("2026-12-31 09:00"),
        target_seconds=30 * 60, calendar_name="cn_business", policy_version=POLICY.version,
    )
    # 09:00-09:10 counts 10 min; paused until 09:40; the other 20 min end at 10:00.
    resumed = replace(clock, pauses=(
        Pause(sh("2026-12-31 09:10"), sh("2026-12-31 09:40"), "pending_customer"),))
    assert local(deadline_of(resumed, policy)) == "2026-12-31 10:00"
    waiting = replace(clock, pauses=(Pause(sh("2026-12-31 09:10"), None, "pending_customer"),))
    assert deadline_of(waiting, policy) is None
    assert elapsed_business_ms(waiting, policy, sh("2026-12-31 19:00")) == 10 * MINUTE_MS
    # Resumed at 17:50, only 10 of the remaining 20 min fit in 2026: that needs 2027's data.
    late = replace(clock, pauses=(
        Pause(sh("2026-12-31 09:10"), sh("2026-12-31 17:50"), "pending_customer"),))
    with pytest.raises(HolidayDataUnavailable, match="2027"):
        deadline_of(late, policy)
