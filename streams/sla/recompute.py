"""SLA outcomes "as contracted" beside "as they would be under another policy" (pure).

The contracted outcomes are what the engine decided, each clock on the calendar it was pinned
to (ClickHouse's ``sla_outcomes``). The what-if outcomes replay the archived input events of
every ticket through the ticket model and the SLA clocks under the other policy, as if it had
been in force from the start. Nothing is overwritten: both columns are shown side by side.
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
# sla_outcomes' outcome column (the latest sla.* event of a clock) → verdict.
_CONTRACTED = {"met": VERDICT_MET, "retracted": VERDICT_MET, "breached": VERDICT_BREACHED}


def replay_ticket(events: Iterable[Event], policy: SlaPolicy) -> SlaState | None:
    """The ticket's SLA state after its input events, in log order; refused and repeated
    events are skipped, as the ticket processor skips them."""
    ticket: TicketState | None = None
    sla: SlaState | None = None
    for event in events:
        if isinstance(decide(ticket, event), Duplicate | Rejected):
            continue
        ticket = evolve(ticket, event)
        sla, _ = on_ticket_state(sla, ticket_change(ticket, event), policy, partition=0)
    return sla


def verdicts(state: SlaState, policy: SlaPolicy, as_of_ms: int) -> dict[ClockKey, str]:
    """met / breached / open per clock; a running clock past its deadline at ``as_of_ms``
    counts as breached, as the live engine would have announced it."""
    result = {}
    for clock in state.clocks:
        if clock.stopped:
            verdict = VERDICT_MET if clock.outcome == MET else VERDICT_BREACHED
        else:
            deadline = deadline_of(clock, policy)
            overdue = deadline is not None and deadline <= as_of_ms
            verdict = VERDICT_BREACHED if overdue else VERDICT_OPEN
        result[(state.ticket_id, clock.metric, clock.cycle)] = verdict
    return result


def contracted_verdict(outcome: str) -> str:
    return _CONTRACTED.get(outcome, VERDICT_OPEN)


@dataclass
class Comparison:
    """Per metric, how many clocks have each verdict as contracted and under the new policy,
    and the clocks whose verdict would change."""

    contracted: dict[str, Counter[str]] = field(default_factory=dict)
    recomputed: dict[str, Counter[str]] = field(default_factory=dict)
    changed: list[tuple[ClockKey, str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metrics": {metric: {"contracted": dict(self.contracted.get(metric, {})),
                                 "recomputed": dict(self.recomputed.get(metric, {}))}
                        for metric in sorted({*self.contracted, *self.recomputed})},
            "changed": [{"ticket_id": t, "metric": m, "cycle": c, "contracted": before,
                         "recomputed": after} for (t, m, c), before, after in self.changed],
        }


def compare(contracted: Mapping[ClockKey, str], recomputed: Mapping[ClockKey, str]
            ) -> Comparison:
    """Both sets of verdicts side by side; a clock only one side has is compared with
    "open" on the other (e.g. a new policy's next-response clock never started before)."""
    result = Comparison()
    for key in sorted({*contracted, *recomputed}):
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
