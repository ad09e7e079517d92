"""`sla recompute`: outcomes as contracted beside a new policy's, from the input events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from complaintflow.sla_cli import contracted_verdicts, format_comparison, recompute
from projections.migrate import migrate
from projections.report import run_query
from projections.rows import (
    COMPLAINT_EVENTS,
    SLA_EVENTS,
    SLA_OUTCOMES_TABLE,
    Position,
    archive_row,
    sla_event_row,
    sla_outcome_row,
)
from projections.sink import BatchingSink
from schemas.event import Event
from streams.sla.policy import DEFAULT_POLICY_PATH, SlaPolicy, policy_from_mapping
from streams.sla.recompute import (
    Failure,
    compare,
    contracted_verdict,
    replay_ticket,
    replay_verdicts,
    verdicts,
)
from tests.factories import event
from tests.test_sla_clock import POLICY, Ticket, sh


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
    contracted = {("A", "first_response", 1): "met", ("B", "first_response", 1): "met",
                  ("A", "resolution", 1): "open", ("B", "resolution", 1): "open"}
    recomputed, failed = replay_verdicts(logs.items(), stricter(), AS_OF)
    assert failed == []
    result = compare(contracted, recomputed, failed)
    # A replied after 20 min: met against 30 min, breached against 10; B met both ways.
    assert result.changed == [(("A", "first_response", 1), "met", "breached")]
    assert result.contracted["first_response"] == {"met": 2}
    assert result.recomputed["first_response"] == {"met": 1, "breached": 1}
    text = format_comparison(result, stricter(), AS_OF, limit=20)
    assert "按新政策 2027-strict" in text
    assert "工单 A  首次响应 第 1 轮  达标 → 违约" in text
    assert "100.0% → 50.0%" in text
    assert "无法重算的工单：0 张" in text


def test_a_running_clock_past_its_deadline_counts_as_breached_and_before_it_as_open():
    log = ticket("C", 0)[:1]  # received, no response yet
    state = replay_ticket(log, POLICY)
    assert verdicts(state, POLICY, sh("2025-11-04 10:29:59"))[("C", "first_response", 1)] \
        == "open"
    assert verdicts(state, POLICY, sh("2025-11-04 10:30"))[("C", "first_response", 1)] == \
        "breached"


def contracted_row(verdict: str = "open", stopped: int = 0, breached_at: int = 0,
                   deadline: int | None = None) -> dict[str, Any]:
    """A row of operations/sla_contracted_verdicts."""
    return {"verdict": verdict, "stopped": stopped, "breached_at_ms": breached_at,
            "deadline_s": 0 if deadline is None else deadline // 1000}


def test_the_contracted_side_is_judged_at_as_of_like_the_replay():
    due = sh("2025-11-04 10:02")
    # Stopped: the engine's verdict, whenever as_of is.
    assert contracted_verdict(contracted_row("met", 1, deadline=due), due - 60_000) == "met"
    assert contracted_verdict(contracted_row("breached", 1, due, due), due - 60_000) == \
        "breached"
    # Running with its breach announced: breached from the announcement on.
    running_breached = contracted_row("breached", breached_at=due, deadline=due)
    assert contracted_verdict(running_breached, due) == "breached"
    assert contracted_verdict(running_breached, due - 1_000) == "open"
    # Overdue but not announced yet (the engine lags): breached from the deadline's second.
    assert contracted_verdict(contracted_row(deadline=due + 400), due) == "breached"
    assert contracted_verdict(contracted_row(deadline=due), due - 1) == "open"
    # Paused short of its target: no deadline, open.
    assert contracted_verdict(contracted_row(), AS_OF) == "open"


# --- through ClickHouse (chdb, in-process): the engine's events against the replay ----------


class ArchivedTicket(Ticket):
    """A `Ticket` that also keeps its input events, for the archive."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(POLICY, ticket_id)
        self.inputs: list[Event] = []

    def record(self, event_type: str, at: int | str, **data: Any) -> Event:
        at_ms = sh(at) if isinstance(at, str) else at
        self.inputs.append(event(event_type, ticket_id=self.ticket_id, at=at_ms,
                                 event_id=f"{self.ticket_id}-in{len(self.changes)}", **data))
        return super().record(event_type, at_ms, **data)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A migrated in-process ClickHouse with clickhouse-driver's execute_iter too."""
    pytest.importorskip("chdb.session")
    from tests.test_migrations_chdb import ChdbExecutor

    class Executor(ChdbExecutor):
        def execute_iter(self, query: str) -> Iterator[tuple]:
            return iter(self.execute(query))

    executor = Executor(tmp_path_factory.mktemp("recompute-chdb"))
    migrate(executor)
    yield executor
    executor.close()  # chdb allows one embedded server per process at a time


def project(executor: Any, tickets: list[ArchivedTicket]) -> None:
    """Archive the tickets' inputs and the engine's sla.* events, as the projector does."""
    sink = BatchingSink(executor)
    for t in tickets:
        sink.add_all((COMPLAINT_EVENTS, archive_row(e, Position("events", 0, n), 0))
                      for n, e in enumerate(t.inputs))
        sink.add_all(row for n, e in enumerate(t.events)
                     for row in ((SLA_EVENTS, sla_event_row(e, Position("sla", 0, n), 0)),
                                 (SLA_OUTCOMES_TABLE, sla_outcome_row(e))))
    sink.flush()


def test_a_clock_that_breached_and_was_then_paused_or_resumed_stays_breached(archive):
    # Urgent: first response 2 min, next response 30 min, resolution 8 h, all on 24x7.
    t = ArchivedTicket("BP")
    t.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    t.do("ticket.assigned", "2025-11-04 10:01", team="A")
    t.advance("2025-11-04 10:03")  # the first response's breach, announced live (10:02)
    t.do("ticket.status_changed", "2025-11-04 10:05", status="pending_customer")
    t.do("ticket.customer_replied", "2025-11-04 10:20")  # resumes; next response 1 starts
    t.advance("2025-11-04 18:30")  # next response (10:50) and resolution (18:15) breach live
    t.do("ticket.status_changed", "2025-11-04 18:40", status="pending_customer")
    # Overdue, but the engine has not announced it yet (no timer ran): breached on both sides.
    lagging = ArchivedTicket("LAG")
    lagging.do("complaint.received", "2025-11-04 10:00", priority="urgent")
    project(archive, [t, lagging])

    # The trap: the latest outcome of every breached clock is "paused".
    latest = archive.execute("SELECT metric, outcome FROM sla_outcomes FINAL "
                             "WHERE ticket_id = 'BP' ORDER BY metric")
    assert latest == [("first_response", "paused"), ("next_response", "paused"),
                      ("resolution", "paused")]
    rows = {row["metric"]: row for row in run_query(archive, "operations/sla_contracted_verdicts")
            if row["ticket_id"] == "BP"}
    assert {metric: row["verdict"] for metric, row in rows.items()} == {
        "first_response": "breached", "next_response": "breached", "resolution": "breached"}

    later = sh("2025-11-05 12:00")
    assert contracted_verdicts(archive, later) == {
        ("BP", "first_response", 1): "breached", ("BP", "next_response", 1): "breached",
        ("BP", "resolution", 1): "breached", ("LAG", "first_response", 1): "breached",
        ("LAG", "resolution", 1): "breached"}
    # Under the running policy the replay agrees, at any as_of.
    result = recompute(archive, POLICY, later)
    assert result.changed == [] and result.failed == []
    assert result.recomputed["first_response"] == {"breached": 2}
    early = recompute(archive, POLICY, sh("2025-11-04 10:01"))
    assert early.changed == []
    assert early.contracted["first_response"] == {"open": 2}


def strict_holiday_data() -> SlaPolicy:
    """The default policy, but cn_business refuses years its holiday data lacks."""
    raw = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    raw["calendars"]["cn_business"]["holiday_data_missing"] = "error"
    return policy_from_mapping(raw)


def test_a_ticket_the_replay_cannot_recompute_is_listed_and_the_others_still_are():
    # 2099 is in no holiday data: cn_business clocks cannot run on it.
    far = event("complaint.received", "Z", sh("2099-03-02 10:00"), event_id="Z-r")
    recomputed, failed = replay_verdicts([("A", ticket("A", 20)), ("Z", [far])],
                                         strict_holiday_data(), AS_OF)
    assert [f.ticket_id for f in failed] == ["Z"]
    assert failed[0].reason.startswith("HolidayDataUnavailable: ")
    assert set(recomputed) == {("A", "first_response", 1), ("A", "resolution", 1)}

    contracted = {("A", "first_response", 1): "met", ("A", "resolution", 1): "open",
                  ("Z", "first_response", 1): "open", ("Z", "resolution", 1): "open"}
    result = compare(contracted, recomputed, failed)
    assert result.changed == []  # Z's clocks are left out of both sides
    assert result.contracted["first_response"] == {"met": 1}
    assert result.as_dict()["failed_tickets"] == 1
    assert result.as_dict()["failed"] == [{"ticket_id": "Z", "reason": failed[0].reason}]
    text = format_comparison(result, POLICY, AS_OF, limit=20)
    assert "无法重算的工单：1 张（其时钟两侧都不计入上表）" in text
    assert f"  工单 Z  原因：{failed[0].reason}" in text


def test_failures_are_listed_up_to_the_limit():
    failed = [Failure(f"F{n}", "UnknownCalendar: calendar 'x'") for n in range(3)]
    text = format_comparison(compare({}, {}, failed), POLICY, AS_OF, limit=2)
    assert "无法重算的工单：3 张（其时钟两侧都不计入上表；列出前 2 张）" in text
    assert "工单 F1  原因" in text and "工单 F2" not in text
