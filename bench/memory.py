"""P6 memory: peak RSS (VmHWM) of the worker holding N tickets in its tables.

The tickets are clones of a simulated mix (each ticket's final TicketState from the worker's
pure handler, and its SlaState folded by the SLA clock with the default policy up to now),
written into the worker's `tickets` and `sla-clocks` tables before it starts (bench.tables).
The worker then starts, rebuilds its in-memory deadline index from every stored clock (on its
first SLA record), and processes live traffic: a small simulated mix of new tickets, plus a
compensation for a few stored tickets — applying those proves the stored state is there.
Done when the SLA agent has committed all the ticket changes; then /proc/PID/status is read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bench.harness import (
    WORKER,
    WORKER_GROUP,
    BenchError,
    BenchStack,
    Offsets,
    bench_stack,
    follow,
    memory_kb,
)
from bench.sizes import Options
from bench.table import Goal, Measurement
from bench.tables import SLA_CLOCKS, TICKETS, Row, seed_tables
from bench.workload import derive_ticket_log, load, partition_for, simulated
from schemas import serde
from schemas.catalogue import CURRENT
from schemas.event import Event
from streams import topics
from streams.sla.clock import SlaState, advance, next_due, on_ticket_state
from streams.sla.policy import load_default_policy

TEMPLATE_TICKETS = 2_000  # at most; a tenth of the stored tickets at small sizes
LIVE_TICKETS = 1_000  # at most; a twentieth of the stored tickets at small sizes
TOUCHED = 20  # stored tickets that get a live event
GOAL_MB = Goal(at_most=500.0)


@dataclass(frozen=True)
class Template:
    ticket_id: str
    ticket: dict[str, Any]
    sla: dict[str, Any] | None
    indexed: bool  # the SLA agent keeps it in its deadline index


def templates(tickets: int, now_ms: int) -> list[Template]:
    """Final ticket and SLA state of each ticket of a simulated mix, as the worker stores them."""
    workload = simulated(tickets, seed=41, end_ms=now_ms)
    log = derive_ticket_log(workload.records)
    policy = load_default_policy()
    clocks: dict[str, SlaState] = {}
    for change in log.state_changes:
        partition = partition_for(change.ticket_id.encode())
        clocks[change.ticket_id], _ = on_ticket_state(clocks.get(change.ticket_id), change,
                                                      policy, partition)
    result = []
    for ticket_id, state in log.states.items():
        sla = clocks.get(ticket_id)
        if sla is not None:
            sla, _ = advance(sla, now_ms, policy)  # announced live already, as in a running system
        result.append(Template(ticket_id, state.to_dict(),
                               sla.to_dict() if sla else None,
                               sla is not None and next_due(sla, policy) is not None))
    return result


def clone_id(number: int) -> str:
    return f"M{number:07d}"


def _ticket_clone(template: Template, ticket_id: str) -> Row:
    return ticket_id, {**template.ticket, "ticket_id": ticket_id,
                       "seen_event_ids": [e.replace(template.ticket_id, ticket_id)
                                          for e in template.ticket["seen_event_ids"]]}


def _sla_clone(template: Template, ticket_id: str) -> Row | None:
    if template.sla is None:
        return None
    return ticket_id, {**template.sla, "ticket_id": ticket_id,
                       "partition": partition_for(ticket_id.encode())}


def seed(env: BenchStack, count: int, pool: list[Template]) -> float:
    """Write `count` cloned tickets into both tables; return the seconds it took. The clones
    are made as they are written: 1M of them at once would take gigabytes here."""
    def tickets() -> Iterator[Row]:
        return (_ticket_clone(pool[n % len(pool)], clone_id(n)) for n in range(count))

    def slas() -> Iterator[Row]:
        clones = (_sla_clone(pool[n % len(pool)], clone_id(n)) for n in range(count))
        return (clone for clone in clones if clone is not None)

    return seed_tables(env.settings, {TICKETS: tickets(), SLA_CLOCKS: slas()})


def touch_events(count: int, stored: int, now_ms: int) -> list[Event]:
    """A compensation for `count` stored tickets (accepted in any status)."""
    event_type = "ticket.compensation_issued"
    step = max(1, stored // count)
    return [Event(event_id=f"touch-{n}", event_type=event_type,
                  ticket_id=clone_id(n * step % stored), occurred_at=now_ms,
                  schema_version=CURRENT[event_type].version,
                  data={"amount": 10.0, "currency": "CNY"}, source="bench")
            for n in range(count)]


def _touched_versions(bootstrap: str, ticket_ids: set[str]) -> dict[str, int]:
    """The versions the worker published for the touched tickets."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=3000, enable_auto_commit=False)
    consumer.assign([TopicPartition(topics.TICKET_STATE.name, p)
                     for p in range(topics.TICKET_STATE.partitions)])
    versions = {}
    try:
        for record in consumer:
            if record.key and record.key.decode() in ticket_ids:
                versions[record.key.decode()] = serde.decode(record.value).data["version"]
    finally:
        consumer.close()
    return versions


def _run_worker(env: BenchStack, options: Options, stored: int) -> dict[str, Any]:
    size = options.size
    started = time.monotonic()
    env.start_worker(options.worker_settings)
    env.wait_worker_ready(size.timeout_s)
    ready_s = time.monotonic() - started
    worker = env.pid(WORKER)
    rss_ready_kb = memory_kb(worker, "VmRSS")
    now_ms = int(time.time() * 1000)
    live = simulated(min(LIVE_TICKETS, stored // 20), seed=43, end_ms=now_ms)
    touches = touch_events(TOUCHED, stored, now_ms)
    load(env.settings.kafka_bootstrap, topics.EVENTS.name,
         [*live.records, *((e.ticket_id.encode(), serde.encode(e)) for e in touches)])
    expected = live.unique_events - live.invalid_events + len(touches)
    offsets = Offsets(env.settings.kafka_bootstrap)
    try:
        with env.log_on_failure(WORKER):
            # The SLA agent commits ticket-state offsets only after its index rebuild, one
            # long step without progress: only the timeout bounds it.
            progress = follow(lambda: (n := offsets.committed(WORKER_GROUP,
                                                              topics.TICKET_STATE.name),
                                       n >= expected),
                              time.monotonic(), "the worker's live traffic",
                              timeout_s=size.timeout_s, stall_s=size.timeout_s,
                              check=lambda: env.require_alive(WORKER))
    except BenchError as exc:
        raise BenchError(f"{exc}\npeak RSS so far: {memory_kb(worker) // 1024} MB") from exc
    finally:
        offsets.close()
    versions = _touched_versions(env.settings.kafka_bootstrap, {e.ticket_id for e in touches})
    if len(versions) < len(touches) or min(versions.values()) < 2:
        raise BenchError(f"stored tickets were not in the worker's state: {versions}")
    return {"peak_kb": memory_kb(worker, "VmHWM"), "rss_kb": memory_kb(worker, "VmRSS"),
            "rss_ready_kb": rss_ready_kb, "ready_seconds": round(ready_s, 1),
            "rebuild_and_live_seconds": round(progress.seconds, 1),
            "live_changes": expected}


def measure(options: Options) -> Measurement:
    count = options.size.memory_tickets
    pool = templates(min(TEMPLATE_TICKETS, count // 10), int(time.time() * 1000))
    indexed = sum(pool[n % len(pool)].indexed for n in range(count))
    with bench_stack("p6") as env:
        seed_s = seed(env, count, pool)
        worker = _run_worker(env, options, count)
    peak_mb = worker["peak_kb"] / 1024
    measurement = Measurement("P6", f"worker memory, {count:,} tickets in state")
    measurement.add("peak RSS (VmHWM)", peak_mb, "MB", GOAL_MB)
    measurement.add("RSS when ready (tables opened)", worker["rss_ready_kb"] / 1024, "MB")
    measurement.add("peak RSS per stored ticket",
                    (worker["peak_kb"] - worker["rss_ready_kb"]) * 1024 / count, "bytes")
    measurement.details.update(
        tickets=count, tickets_in_deadline_index=indexed, seed_seconds=round(seed_s, 1),
        rss_at_end_mb=round(worker["rss_kb"] / 1024, 1),
        worker_start_to_ready_s=worker["ready_seconds"],
        rebuild_and_live_seconds=worker["rebuild_and_live_seconds"],
        live_ticket_changes=worker["live_changes"],
        method=__doc__.split("\n\n", 1)[1].strip())
    return measurement
