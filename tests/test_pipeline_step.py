"""The worker's one pass, without Kafka: a record through the ticket and SLA steps, deadlines,
purges, and the state store's recovery from its changelog."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from schemas import serde
from streams import topics
from streams.deadletter import DeadLetter
from streams.pipeline.step import EMPTY, TicketRecord, apply_due, apply_input, apply_purge
from streams.pipeline.store import FENCE_KEY, PartitionStore, Running, recover, running_entry
from streams.sla.policy import load_policy
from streams.tickets.handling import Origin
from streams.tickets.model import DAY_MS, TicketTombstone
from tests.factories import T0, event

POLICY = load_policy(Path(__file__).parent / "data" / "sla_policy_fast.yaml")
RETENTION = 30 * DAY_MS


def _input(record: TicketRecord, event_type: str, offset: int, at: int = T0, **data):
    raw = serde.encode(event(event_type, ticket_id="P1", at=at, event_id=f"P1-{offset}",
                             **data))
    return apply_input(record, raw, b"P1", Origin(topics.EVENTS.name, 2, offset), POLICY, at)


def _types(step) -> list[tuple[str, str]]:
    decoded = []
    for output in step.outputs:
        name = output.topic
        kind = ("dead_letter" if name == topics.DLQ.name
                else serde.decode(output.value).event_type)
        decoded.append((name, kind))
    return decoded


def test_one_input_runs_the_ticket_and_its_clocks_in_one_pass():
    step = _input(EMPTY, "complaint.received", 0, priority="urgent", customer_tier="vip")
    assert step.ticket_outcome == "applied"
    assert _types(step) == [(topics.TICKET_STATE.name, "ticket.state_changed"),
                            (topics.SLA.name, "sla.started"), (topics.SLA.name, "sla.started")]
    record = step.record
    assert record.ticket.version == 1 and record.sla.partition == 2
    assert step.due == T0 + 1_000  # 50% of the 2 s urgent VIP first response
    assert TicketRecord.from_json(record.to_json()) == record


def test_a_redelivered_record_changes_nothing_and_publishes_nothing():
    record = _input(EMPTY, "complaint.received", 0).record
    again = _input(record, "complaint.received", 0)
    assert (again.ticket_outcome, again.record, again.outputs) == ("duplicate", None, [])


def test_a_refused_event_is_dead_lettered_and_the_record_stays():
    step = _input(EMPTY, "ticket.resolved", 0)
    assert step.ticket_outcome == "dead_lettered" and step.record is None
    assert _types(step) == [(topics.DLQ.name, "dead_letter")]


def test_an_sla_failure_parks_the_clocks_but_the_ticket_change_stands():
    record = _input(EMPTY, "complaint.received", 0).record
    lost = replace(record.sla, clocks=tuple(replace(c, calendar_fingerprint="f" * 64)
                                            for c in record.sla.clocks))
    step = _input(TicketRecord(record.ticket, lost), "ticket.assigned", 1, at=T0 + 10,
                  team="billing")
    assert step.ticket_outcome == "applied" and step.sla_dead_letter
    assert step.record.ticket.team == "billing" and step.record.sla == lost
    letter = DeadLetter.from_json(step.outputs[-1].value)
    assert (letter.stage, letter.reason.split(":")[0]) == ("sla", "UnknownCalendar")


def test_a_due_deadline_announces_the_breach_with_no_event():
    record = _input(EMPTY, "complaint.received", 0, priority="urgent",
                    customer_tier="vip").record
    step = apply_due(record, T0 + 2_000, POLICY)
    assert [kind for _, kind in _types(step)].count("sla.breached") == 1
    assert step.ticket_outcome is None and step.record.sla.clocks[0].breached_at is not None
    assert apply_due(EMPTY, T0, POLICY).record is None


def test_a_closed_ticket_leaves_a_tombstone_after_its_retention_and_refuses_late_events():
    record = EMPTY
    for offset, event_type in enumerate(("complaint.received", "ticket.first_response_sent",
                                         "ticket.resolved", "ticket.customer_confirmed")):
        record = _input(record, event_type, offset, at=T0 + offset * 1_000).record
    purge_at = record.purge_at(RETENTION)
    assert purge_at == T0 + 3_000 + RETENTION + 1
    assert apply_purge(record, purge_at - 2, RETENTION).record is None  # not yet
    purged = apply_purge(record, purge_at, RETENTION).record
    assert isinstance(purged.ticket, TicketTombstone) and purged.sla is None
    assert running_entry(purged, None, RETENTION) is None
    late = _input(TicketRecord.from_json(purged.to_json()), "complaint.received", 9,
                  at=purge_at + 5)
    assert late.ticket_outcome == "dead_lettered"
    assert "purged after the retention of 30 days" in DeadLetter.from_json(
        late.outputs[0].value).reason
    assert _input(purged, "ticket.reopened", 3).ticket_outcome == "duplicate"  # redelivery


def test_the_store_keeps_records_and_schedules_and_recovers_from_its_changelog(tmp_path):
    first = _input(EMPTY, "complaint.received", 0).record
    second = _input(first, "ticket.assigned", 1, at=T0 + 5, team="t").record
    store = PartitionStore(tmp_path / "p2")
    store.write({"P1": (first.to_json(), running_entry(first, T0 + 9, RETENTION))}, 1)
    assert store.get("P1") == first and store.position == 1
    assert [(t, r.due) for t, r in store.running()] == [("P1", T0 + 9)]
    # The changelog has a newer record (written before a crash, say) and foreign tombstones.
    log = [(0, b"P1", first.to_json()), (1, b"P1", second.to_json()), (2, b"P9", None)]
    sent: list[tuple[str, int, bytes, bytes | None]] = []

    async def send(topic: str, partition: int, key: bytes, value: bytes | None) -> int:
        sent.append((topic, partition, key, value))
        log.append((len(log), key, value))
        return len(log) - 1

    async def read_from(_partition: int, offset: int):
        return [r for r in log if r[0] >= offset][:2]

    applied = asyncio.run(recover(store, 2, send, read_from,
                                  lambda r: running_entry(r, 42, RETENTION)))
    assert sent == [(topics.WORKER_STATE.name, 2, FENCE_KEY, None)]
    assert applied == 1 and store.get("P1") == second and store.position == 4
    assert dict(store.running()) == {"P1": Running(42, (("24x7", second.sla.clocks[0]
                                                         .calendar_fingerprint),))}
    store.close()
