"""SLA outcomes "as contracted" beside "as they would be under another policy" (pure).

The contracted verdicts are what the engine announced, each clock on the calendar it was
pinned to (ClickHouse's ``sla_events``, operations/sla_contracted_verdicts.sql). The what-if
verdicts replay the archived input events of every ticket through the ticket model and the SLA
clocks under the other policy, as if it had been in force from the start. Nothing is
overwritten: both columns are shown side by side.

Both sides judge a clock by the same rule (docs/sla.md, "What-if"): a stopped clock is met or
breached as its stop decided; a clock still running (or paused) at the end of the log is
breached at ``as_of_ms`` if a breach announced by then stands, or if its deadline is at or
before ``as_of_ms`` (to the second, as ``sla_events`` keeps deadlines): the breach the engine
announces, or would announce, at the deadline. Otherwise it is open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.event import Event
from streams.sla.clock import MET, SlaState, deadline_of, on_ticket_state
from streams.sla.policy import SlaPolicy
from streams.tickets.model import Duplicate, Rejected, TicketState, decide, evolve
from streams.tickets.model import state_changed_event as ticket_change

ClockKey = tuple[str, str, int]  # (ticket_id, metric, cycle)

VERDICT_MET = "met"
VERDICT_BREACHED = "breached"
VERDICT_OPEN = "open"
VERDICTS = (VERDICT_MET, VERDICT_BREACHED, VERDICT_OPEN)


def replay_ticket(events: Iterable[Event], policy: SlaPolicy) -> SlaState | None:
    """The ticket's SLA state after its input events, in log order; refused and repeated
    events are skipped, as the ticket processor skips them. What the clocks raise (e.g.
    ``HolidayDataUnavailable``, ``UnknownCalendar``) propagates: `replay_verdicts` catches
    it per ticket."""
    ticket: TicketState | None = None
    sla: SlaState | None = None
    for event in events:
        if isinstance(decide(ticket, event), Duplicate | Rejected):
            continue
        ticket = evolve(ticket, event)
        sla, _ = on_ticket_state(sla, ticket_change(ticket, event), policy, partition=0)
    return sla


def verdicts(state: SlaState, policy: SlaPolicy, as_of_ms: int) -> dict[ClockKey, str]:
    """met / breached / open per clock, judged at ``as_of_ms`` as the contracted side is
    (`contracted_verdict`)."""
    result = {}
    for clock in state.clocks:
        if clock.stopped:
            verdict = VERDICT_MET if clock.outcome == MET else VERDICT_BREACHED
        else:
            verdict = _running_verdict(clock.breached_at, deadline_of(clock, policy), as_of_ms)
        result[(state.ticket_id, clock.metric, clock.cycle)] = verdict
    return result


def contracted_verdict(row: Mapping[str, Any], as_of_ms: int) -> str:
    """The verdict of one row of operations/sla_contracted_verdicts, judged at ``as_of_ms``:
    a stopped clock keeps the engine's verdict; a running one is judged as `verdicts` judges
    the replayed clocks."""
    if row["stopped"]:
        return str(row["verdict"])
    breached_at = int(row["breached_at_ms"]) or None
    deadline_s = int(row["deadline_s"])
    return _running_verdict(breached_at, deadline_s * 1000 if deadline_s else None, as_of_ms)


def _running_verdict(breached_at: int | None, deadline: int | None, as_of_ms: int) -> str:
    """A clock not stopped: breached if a breach announced by ``as_of_ms`` stands, or if its
    deadline (None: paused short of its target) falls in or before ``as_of_ms``'s second;
    otherwise open. Seconds, because ``sla_events`` keeps deadlines in whole seconds."""
    announced = breached_at is not None and breached_at <= as_of_ms
    overdue = deadline is not None and deadline // 1000 <= as_of_ms // 1000
    return VERDICT_BREACHED if announced or overdue else VERDICT_OPEN


@dataclass(frozen=True)
class Failure:
    """A ticket the replay could not recompute (e.g. no holiday data for a year its clocks
    run into, or a calendar the new policy lacks), and why."""

    ticket_id: str
    reason: str


def replay_verdicts(tickets: Iterable[tuple[str, Iterable[Event]]], policy: SlaPolicy,
                    as_of_ms: int) -> tuple[dict[ClockKey, str], list[Failure]]:
    """The verdicts of every ticket's clocks replayed under ``policy``, and the tickets that
    failed. A failure costs only its own ticket (none of its clocks is kept), as the engine
    dead-letters one change rather than stall; ``events`` may be lazy, so a ticket whose
    archived events cannot be read fails the same way."""
    result: dict[ClockKey, str] = {}
    failures = []
    for ticket_id, events in tickets:
        try:
            state = replay_ticket(events, policy)
            if state is not None:
                result.update(verdicts(state, policy, as_of_ms))
        except Exception as exc:  # e.g. HolidayDataUnavailable, UnknownCalendar, a bad value
            failures.append(Failure(ticket_id, f"{type(exc).__name__}: {exc}"))
    return result, failures


@dataclass
class Comparison:
    """Per metric, how many clocks have each verdict as contracted and under the new policy,
    the clocks whose verdict would change, and the tickets the replay failed on (left out of
    both sides)."""

    contracted: dict[str, Counter[str]] = field(default_factory=dict)
    recomputed: dict[str, Counter[str]] = field(default_factory=dict)
    changed: list[tuple[ClockKey, str, str]] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metrics": {metric: {"contracted": dict(self.contracted.get(metric, {})),
                                 "recomputed": dict(self.recomputed.get(metric, {}))}
                        for metric in sorted({*self.contracted, *self.recomputed})},
            "changed": [{"ticket_id": t, "metric": m, "cycle": c, "contracted": before,
                         "recomputed": after} for (t, m, c), before, after in self.changed],
            "failed_tickets": len(self.failed),
            "failed": [{"ticket_id": f.ticket_id, "reason": f.reason} for f in self.failed],
        }


def compare(contracted: Mapping[ClockKey, str], recomputed: Mapping[ClockKey, str],
            failed: Iterable[Failure] = ()) -> Comparison:
    """Both sets of verdicts side by side; a clock only one side has is compared with
    "open" on the other (e.g. a new policy's next-response clock never started before).
    The clocks of tickets the replay failed on are left out of both sides."""
    result = Comparison(failed=sorted(failed, key=lambda f: f.ticket_id))
    skipped = {f.ticket_id for f in result.failed}
    for key in sorted({*contracted, *recomputed}):
        if key[0] in skipped:
            continue
        metric = key[1]
        before = contracted.get(key, VERDICT_OPEN)
        after = recomputed.get(key, VERDICT_OPEN)
        if key in contracted:
            result.contracted.setdefault(metric, Counter())[before] += 1
        if key in recomputed:
            result.recomputed.setdefault(metric, Counter())[after] += 1
        if before != after:
            result.changed.append((key, before, after))
    return result
