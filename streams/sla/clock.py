"""SLA clocks of one ticket as pure functions over frozen state.

`on_ticket_state` folds a ``ticket.state_changed`` event into the ticket's `SlaState` and returns
the ``sla.*`` events it causes (an ``sla.started`` first for each clock it starts); `advance`
announces the warnings and breaches that fall due as time passes; `next_due` tells the deadline
index when to call `advance` again. Time is always an argument (UTC epoch ms); nothing here
reads the wall clock. Semantics: docs/sla.md, "Clock semantics".

A clock's verdict (met or breached) is decided by event time alone: only ticket changes start,
stop, pause and re-plan clocks, while `advance` merely announces what the event-time plan says
is due. So a replay of the same changes reaches the same verdicts whenever `advance` was called.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from schemas.catalogue import current
from schemas.event import Event
from streams.sla.calendar import (
    MS_PER_SECOND,
    BusinessCalendar,
    add_business_ms,
    business_ms_between,
)
from streams.sla.policy import SlaPolicy
from streams.tickets.model import DONE

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"

RUNNING = "running"
PAUSED = "paused"
MET = "met"
BREACHED = "breached"

SLA_STARTED = "sla.started"
SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"
SLA_MET = "sla.met"
SLA_PAUSED = "sla.paused"
SLA_RESUMED = "sla.resumed"
SLA_BREACH_RETRACTED = "sla.breach_retracted"
SLA_STOPPED = "sla.stopped"  # a stop after the deadline: the breach stands, the clock stops

SOURCE = "sla"
BREACH = 1.0  # the breach is the announcement at 100% of the target
CUSTOMER_REPLIED = "ticket.customer_replied"
# An agent's answer ends the customer's wait for a next response.
AGENT_ANSWERS = frozenset({"ticket.agent_replied", "ticket.first_response_sent"})


@dataclass(frozen=True)
class Pause:
    """One entry of a clock's pause ledger; ``ended_at`` is None while the pause lasts."""

    started_at: int
    ended_at: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "ended_at": self.ended_at, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pause:
        return cls(data["started_at"], data["ended_at"], data["reason"])


@dataclass(frozen=True)
class MetricClock:
    """One cycle of one SLA metric of a ticket: its plan, pause ledger and announcements.

    ``outcome`` is ``running`` or ``paused`` until the metric stops, then ``met`` or
    ``breached`` (decided by event time). ``breached_at`` is set while an announced breach
    stands, which may be before the metric stops.
    """

    metric: str
    cycle: int
    started_at: int
    target_seconds: int
    calendar_name: str
    policy_version: str
    # The calendar and holiday data the clock is pinned to; None for clocks started before
    # calendars were pinned (they are measured on the policy's calendar of that name).
    calendar_fingerprint: str | None = None
    pauses: tuple[Pause, ...] = ()
    warned: tuple[float, ...] = ()  # warning thresholds already announced
    breached_at: int | None = None  # occurred_at of the sla.breached announced
    stopped_at: int | None = None
    outcome: str = RUNNING
    emitted: int = 0  # events emitted for this clock: the sequence number in event ids

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].ended_at is None

    def to_dict(self) -> dict[str, Any]:
        """The stored (JSON) form, written by hand and shallow: `dataclasses.asdict` deep-copies
        every value and costs several times more; the keys and values are the same."""
        return {
            "metric": self.metric,
            "cycle": self.cycle,
            "started_at": self.started_at,
            "target_seconds": self.target_seconds,
            "calendar_name": self.calendar_name,
            "policy_version": self.policy_version,
            "calendar_fingerprint": self.calendar_fingerprint,
            "pauses": [pause.to_dict() for pause in self.pauses],
            "warned": list(self.warned),
            "breached_at": self.breached_at,
            "stopped_at": self.stopped_at,
            "outcome": self.outcome,
            "emitted": self.emitted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricClock:
        get = data.get
        return cls(
            metric=data["metric"],
            cycle=data["cycle"],
            started_at=data["started_at"],
            target_seconds=data["target_seconds"],
            calendar_name=data["calendar_name"],
            policy_version=data["policy_version"],
            calendar_fingerprint=get("calendar_fingerprint"),
            pauses=tuple(Pause.from_dict(pause) for pause in get("pauses", ())),
            warned=tuple(get("warned", ())),
            breached_at=get("breached_at"),
            stopped_at=get("stopped_at"),
            outcome=get("outcome", RUNNING),
            emitted=get("emitted", 0),
        )


@dataclass(frozen=True)
class SlaState:
    """Every SLA clock of one ticket (stopped cycles too) and the ticket fields events carry."""

    ticket_id: str
    partition: int
    priority: str
    customer_tier: str
    category: str | None
    team: str | None
    status: str
    clocks: tuple[MetricClock, ...]
    watermark: int  # the latest event time applied
    ticket_version: int = 0  # the ticket's version last applied: a change at or below is a repeat

    def to_dict(self) -> dict[str, Any]:
        """The stored (JSON) form, written by hand and shallow, as `MetricClock.to_dict`."""
        return {
            "ticket_id": self.ticket_id,
            "partition": self.partition,
            "priority": self.priority,
            "customer_tier": self.customer_tier,
            "category": self.category,
            "team": self.team,
            "status": self.status,
            "clocks": [clock.to_dict() for clock in self.clocks],
            "watermark": self.watermark,
            "ticket_version": self.ticket_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SlaState:
        return cls(
            ticket_id=data["ticket_id"],
            partition=data["partition"],
            priority=data["priority"],
            customer_tier=data["customer_tier"],
            category=data["category"],
            team=data["team"],
            status=data["status"],
            clocks=tuple(MetricClock.from_dict(clock) for clock in data["clocks"]),
            watermark=data["watermark"],
            ticket_version=data.get("ticket_version", 0),
        )


# --- the public functions --------------------------------------------------------------------


def on_ticket_state(
    state: SlaState | None, change: Event, policy: SlaPolicy, partition: int
) -> tuple[SlaState, list[Event]]:
    """Apply one ``ticket.state_changed`` event; returns the new state and the sla.* events.

    Announcements due strictly before the change come first, dated at their own instants (so
    a stop exactly at the deadline is met, with no breach to retract). Then the change starts,
    stops, pauses, resumes or re-plans clocks; a clock it starts announces ``sla.started``,
    dated at its start, before any other event of that clock. Last, whatever is now due up to
    the watermark is announced; what the change itself made overdue is dated at the change and
    carries its cause.
    """
    if state is None:
        state, before = _opened(change, partition), []
    elif change.data["version"] <= state.ticket_version:
        return state, []  # a redelivered change: already applied
    else:
        state, before = _announce_due(state, change.occurred_at - 1, policy)
    state, during = _apply_change(replace(state, partition=partition), change, policy)
    state, after = _announce_due(state, state.watermark, policy, change)
    return state, before + during + after


def advance(state: SlaState, now_ms: int, policy: SlaPolicy) -> tuple[SlaState, list[Event]]:
    """Announce every warning (each threshold once) and breach due at or before ``now_ms``,
    dated at its own instant. It never changes a verdict, nor the watermark."""
    return _announce_due(state, now_ms, policy)


def next_due(state: SlaState, policy: SlaPolicy) -> int | None:
    """The earliest instant at which `advance` would announce something; None if nothing can
    fall due (every clock stopped, paused, or fully announced)."""
    instants = [at for clock in state.clocks for at, _ in _pending(clock, policy)]
    return min(instants, default=None)


def outcomes(state: SlaState, policy: SlaPolicy) -> list[dict[str, Any]]:
    """One row per clock cycle, decided by event time. A running clock's elapsed time is
    measured up to the watermark. Full resolution time is the sum over resolution cycles."""
    return [
        {
            "ticket_id": state.ticket_id,
            "metric": clock.metric,
            "cycle": clock.cycle,
            "target_seconds": clock.target_seconds,
            "deadline": deadline_of(clock, policy),
            "stopped_at": clock.stopped_at,
            "elapsed_business_seconds": elapsed_business_ms(clock, policy, state.watermark)
            // MS_PER_SECOND,
            "outcome": clock.outcome,
        }
        for clock in state.clocks
    ]


def deadline_of(clock: MetricClock, policy: SlaPolicy) -> int | None:
    """When the clock reaches its target; None while it is paused short of the target."""
    return _instant_at(clock, _calendar(clock, policy), clock.target_seconds * MS_PER_SECOND)


def elapsed_business_ms(clock: MetricClock, policy: SlaPolicy, at_ms: int) -> int:
    """Business time the clock has counted by ``at_ms``: open time since its start, less open
    time spent paused, and nothing after it stopped."""
    cal = _calendar(clock, policy)
    end = at_ms if clock.stopped_at is None else min(at_ms, clock.stopped_at)
    paused = sum(
        business_ms_between(cal, p.started_at, end if p.ended_at is None else min(p.ended_at, end))
        for p in clock.pauses
    )
    return business_ms_between(cal, clock.started_at, end) - paused


# --- clock arithmetic ------------------------------------------------------------------------


def _calendar(clock: MetricClock, policy: SlaPolicy) -> BusinessCalendar:
    return policy.pinned_calendar(clock.calendar_name, clock.calendar_fingerprint)


# Deadlines and warning instants are asked for again and again while a ticket lives (every
# change and every tick looks at what each clock still owes); they depend only on the calendar,
# the start, the pause ledger and the amount, so they are remembered. Bounded: cleared whole
# when full (recomputing is cheap next to the lookups saved).
_INSTANTS: dict[tuple[str, int, tuple[Pause, ...], int], int | None] = {}
_INSTANTS_MAX = 200_000


def _instant_at(clock: MetricClock, cal: BusinessCalendar, business_ms: int) -> int | None:
    """The earliest instant by which the clock has counted ``business_ms``, walking the running
    stretches between pauses; None if an open pause comes first (the time is not yet known).

    With every pause before that instant this equals add_business(start, business_ms + paused
    business time); walking also keeps pauses that began later from moving it."""
    key = (cal.fingerprint, clock.started_at, clock.pauses, business_ms)
    if key in _INSTANTS:
        return _INSTANTS[key]
    if len(_INSTANTS) >= _INSTANTS_MAX:
        _INSTANTS.clear()
    instant = _INSTANTS[key] = _walk_instant(clock, cal, business_ms)
    return instant


def _walk_instant(clock: MetricClock, cal: BusinessCalendar, business_ms: int) -> int | None:
    remaining = business_ms
    cursor = clock.started_at
    for pause in clock.pauses:
        running = business_ms_between(cal, cursor, pause.started_at)
        if remaining <= running:
            return add_business_ms(cal, cursor, remaining)
        if pause.ended_at is None:
            return None
        remaining -= running
        cursor = pause.ended_at
    return add_business_ms(cal, cursor, remaining)


def _pending(clock: MetricClock, policy: SlaPolicy) -> list[tuple[int, float]]:
    """(instant, fraction) of the announcements the clock still owes; fraction BREACH is the
    breach. A stopped clock owes nothing, nor does a paused one beyond its pause."""
    if clock.stopped:
        return []
    cal = _calendar(clock, policy)
    fractions = [f for f in policy.warning_thresholds if f not in clock.warned]
    if clock.breached_at is None:
        fractions.append(BREACH)
    target_ms = clock.target_seconds * MS_PER_SECOND
    instants = ((_instant_at(clock, cal, round(target_ms * f)), f) for f in fractions)
    return sorted((at, f) for at, f in instants if at is not None)


def _ledger_until(pauses: tuple[Pause, ...], at: int) -> tuple[Pause, ...]:
    """The pause ledger as it stands at ``at``: later pauses dropped, an open one closed."""
    return tuple(
        replace(p, ended_at=at if p.ended_at is None else min(p.ended_at, at))
        for p in pauses
        if p.started_at < at
    )


def _latest_instant(clock: MetricClock) -> int:
    """The latest instant the ledger mentions; a new pause may not begin before it, which
    keeps the ledger ordered when a change arrives dated earlier than the previous one."""
    return max([clock.started_at, *(p.ended_at for p in clock.pauses if p.ended_at is not None)])


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Emitter:
    """Builds the sla.* events of one ticket: its fields and the policy are shared."""

    state: SlaState
    policy: SlaPolicy

    def emit(
        self,
        clock: MetricClock,
        event_type: str,
        at: int,
        caused_by: str | None,
        *,
        threshold: float | None = None,
        reason: str | None = None,
        outcome: str | None = None,
    ) -> tuple[MetricClock, Event]:
        """The event, and the clock with its event counter moved on (ids stay unique)."""
        state = self.state
        event = Event(
            event_id=f"{state.ticket_id}:{clock.metric}:{clock.cycle}:{event_type}:"
            f"{clock.emitted}",
            event_type=event_type,
            ticket_id=state.ticket_id,
            occurred_at=at,
            schema_version=current(event_type).version,
            data={
                "metric": clock.metric,
                "cycle": clock.cycle,
                "policy_version": clock.policy_version,
                "calendar": clock.calendar_name,
                "calendar_fingerprint": clock.calendar_fingerprint,
                "sequence": clock.emitted,
                "stopped_at": clock.stopped_at,
                "target_seconds": clock.target_seconds,
                "deadline": deadline_of(clock, self.policy),
                "elapsed_business_seconds": elapsed_business_ms(clock, self.policy, at)
                // MS_PER_SECOND,
                "threshold": threshold,
                "reason": reason,
                "team": state.team,
                "priority": state.priority,
                "customer_tier": state.customer_tier,
                "category": state.category,
                # Only sla.stopped has the field: the other schemas do not know it.
                **({} if outcome is None else {"outcome": outcome}),
            },
            source=SOURCE,
            caused_by=caused_by,
        )
        return replace(clock, emitted=clock.emitted + 1), event


def _announce_due(
    state: SlaState, until: int, policy: SlaPolicy, change: Event | None = None
) -> tuple[SlaState, list[Event]]:
    """Announce what is due at or before ``until``, each at its own instant (timer-driven, no
    cause). What ``change`` made overdue is dated at the change instead, and carries its cause.
    """
    emitter = _Emitter(state, policy)
    clocks, events = [], []
    for clock in state.clocks:
        for instant, fraction in _pending(clock, policy):
            if instant > until:
                break
            at, caused_by = instant, None
            if change is not None and instant < change.occurred_at:
                at, caused_by = change.occurred_at, change.caused_by
            clock, event = _announce(emitter, clock, fraction, at, caused_by)
            events.append(event)
        clocks.append(clock)
    events.sort(key=lambda e: e.occurred_at)  # stable: each clock's own order is kept
    return replace(state, clocks=tuple(clocks)), events


def _announce(
    emitter: _Emitter, clock: MetricClock, fraction: float, at: int, caused_by: str | None
) -> tuple[MetricClock, Event]:
    if fraction == BREACH:
        return emitter.emit(replace(clock, breached_at=at), SLA_BREACHED, at, caused_by)
    clock = replace(clock, warned=(*clock.warned, fraction))
    return emitter.emit(clock, SLA_WARNING, at, caused_by, threshold=fraction)


# --- applying a ticket change ----------------------------------------------------------------


def _opened(change: Event, partition: int) -> SlaState:
    return SlaState(
        ticket_id=change.ticket_id,
        partition=partition,
        clocks=(),
        watermark=change.occurred_at,
        **_ticket_fields(change),
    )


def _ticket_fields(change: Event) -> dict[str, Any]:
    """The ticket fields the SLA state keeps, as the change reports them."""
    data = change.data
    return {
        "priority": data["priority"],
        "customer_tier": data["customer_tier"],
        "category": data.get("category"),
        "team": data.get("team"),
        "status": data["status"],
    }


def _apply_change(
    state: SlaState, change: Event, policy: SlaPolicy
) -> tuple[SlaState, list[Event]]:
    fields = _ticket_fields(change)
    reclassified = (fields["priority"], fields["customer_tier"]) != (
        state.priority,
        state.customer_tier,
    )
    state = replace(
        state,
        **fields,
        watermark=max(state.watermark, change.occurred_at),
        ticket_version=change.data["version"],
    )
    clocks = [
        _replanned(clock, state, policy) if reclassified and not clock.stopped else clock
        for clock in state.clocks
    ]
    emitter = _Emitter(state, policy)
    updated, events = [], []
    for clock in clocks:
        clock, clock_events = _follow_change(emitter, clock, change)
        updated.append(clock)
        events += clock_events
    for metric, cycle, at in _clocks_to_start(clocks, change):
        # Announced first, with the plan as it starts: before the change pauses or stops it.
        clock, started = emitter.emit(
            _started(metric, cycle, at, state, policy), SLA_STARTED, at, change.caused_by
        )
        clock, clock_events = _follow_change(emitter, clock, change)
        updated.append(clock)
        events += [started, *clock_events]
    return replace(state, clocks=tuple(updated)), events


def _replanned(clock: MetricClock, state: SlaState, policy: SlaPolicy) -> MetricClock:
    """The same clock (start, ledger, announcements made) measured against the new target."""
    target = policy.target_for(clock.metric, state.priority, state.customer_tier)
    return replace(
        clock,
        target_seconds=target.seconds,
        calendar_name=target.calendar_name,
        calendar_fingerprint=target.calendar.fingerprint,
        policy_version=policy.version,
    )


def _clocks_to_start(clocks: list[MetricClock], change: Event) -> list[tuple[str, int, int]]:
    """(metric, cycle, start) of each clock the change starts.

    Derived from the ticket state rather than from the event type alone, so a ticket first
    seen mid-way (an SLA engine deployed late) still gets its clocks."""
    data = change.data
    wanted = []
    if not any(c.metric == FIRST_RESPONSE for c in clocks):
        wanted.append((FIRST_RESPONSE, 1, data["received_at"]))
    cycle = data["reopen_count"] + 1
    if not any(c.metric == RESOLUTION and c.cycle == cycle for c in clocks):
        start = data["received_at"] if cycle == 1 else change.occurred_at
        wanted.append((RESOLUTION, cycle, start))
    awaiting = any(c.metric == NEXT_RESPONSE and not c.stopped for c in clocks)
    if (
        data.get("last_event_type") == CUSTOMER_REPLIED
        and data["status"] not in DONE
        and not awaiting
    ):
        cycle = 1 + sum(c.metric == NEXT_RESPONSE for c in clocks)
        wanted.append((NEXT_RESPONSE, cycle, change.occurred_at))
    return wanted


def _started(metric: str, cycle: int, at: int, state: SlaState, policy: SlaPolicy) -> MetricClock:
    target = policy.target_for(metric, state.priority, state.customer_tier)
    return MetricClock(
        metric=metric,
        cycle=cycle,
        started_at=at,
        target_seconds=target.seconds,
        calendar_name=target.calendar_name,
        calendar_fingerprint=target.calendar.fingerprint,
        policy_version=policy.version,
    )


def _follow_change(
    emitter: _Emitter, clock: MetricClock, change: Event
) -> tuple[MetricClock, list[Event]]:
    if clock.stopped:
        return clock, []
    stop_at = _stop_time(clock, change)
    if stop_at is not None:
        return _stop(emitter, clock, stop_at, change)
    should_pause = change.data["status"] in emitter.policy.pause_on
    if should_pause and not clock.paused:
        return _pause(emitter, clock, change)
    if clock.paused and not should_pause:
        return _resume(emitter, clock, change)
    return clock, []


def _stop_time(clock: MetricClock, change: Event) -> int | None:
    """When the change says the metric was achieved, or None if it was not."""
    data = change.data
    done = data["status"] in DONE
    if clock.metric == FIRST_RESPONSE:
        return data["first_response_at"]
    if clock.metric == RESOLUTION:
        return data["resolved_at"] if done else None
    if done or data.get("last_event_type") in AGENT_ANSWERS:
        return change.occurred_at
    return None


def _stop(
    emitter: _Emitter, clock: MetricClock, stop_at: int, change: Event
) -> tuple[MetricClock, list[Event]]:
    stopped_at = max(stop_at, clock.started_at)
    clock = replace(clock, pauses=_ledger_until(clock.pauses, stopped_at), stopped_at=stopped_at)
    deadline = deadline_of(clock, emitter.policy)
    assert deadline is not None  # every pause is closed at the stop
    if stopped_at > deadline:
        return _stopped_late(emitter, clock, deadline, change)
    events = []
    if clock.breached_at is not None:
        # Announced live, but event time says the metric was achieved in time.
        clock, event = emitter.emit(clock, SLA_BREACH_RETRACTED, change.occurred_at,
                                    change.caused_by)
        clock = replace(clock, breached_at=None)
        events.append(event)
    clock, event = emitter.emit(replace(clock, outcome=MET), SLA_MET, change.occurred_at,
                                change.caused_by)
    return clock, [*events, event]


def _stopped_late(
    emitter: _Emitter, clock: MetricClock, deadline: int, change: Event
) -> tuple[MetricClock, list[Event]]:
    """The breach stands; ``sla.stopped`` says so and when the clock stopped, which ends the
    breach alert and dates the stop in sla_outcomes."""
    clock = replace(clock, outcome=BREACHED)
    events = []
    if clock.breached_at is None:
        # Announced already unless the change itself made the stop late: a ticket first seen
        # mid-way, or a clock re-planned by the change that stops it. Otherwise the catch-up
        # before the change announced the breach.
        clock, event = emitter.emit(replace(clock, breached_at=deadline), SLA_BREACHED,
                                    deadline, None)
        events.append(event)
    clock, event = emitter.emit(clock, SLA_STOPPED, change.occurred_at, change.caused_by,
                                outcome=BREACHED)
    return clock, [*events, event]


def _pause(emitter: _Emitter, clock: MetricClock, change: Event) -> tuple[MetricClock, list[Event]]:
    reason = change.data["status"]
    start = max(change.occurred_at, _latest_instant(clock))
    clock = replace(clock, pauses=(*clock.pauses, Pause(start, None, reason)), outcome=PAUSED)
    clock, event = emitter.emit(clock, SLA_PAUSED, change.occurred_at, change.caused_by,
                                reason=reason)
    return clock, [event]


def _resume(
    emitter: _Emitter, clock: MetricClock, change: Event
) -> tuple[MetricClock, list[Event]]:
    pause = clock.pauses[-1]
    ended = replace(pause, ended_at=max(change.occurred_at, pause.started_at))
    clock = replace(clock, pauses=(*clock.pauses[:-1], ended), outcome=RUNNING)
    clock, event = emitter.emit(clock, SLA_RESUMED, change.occurred_at, change.caused_by,
                                reason=pause.reason)
    return clock, [event]

