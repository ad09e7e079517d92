"""P6 memory: peak RSS (VmHWM) of the worker holding N tickets in its state.

The tickets are clones of a simulated mix: each ticket's `TicketRecord` (ticket and SLA
clocks) as the worker's pure step (`streams.pipeline.step.apply_input`) leaves it after its
events, its clocks advanced to now with the default policy. They are written into the
worker's per-partition RocksDB before it starts (bench.tables), with their `Running` entries.
The worker then starts, takes each partition over (recovery from the empty changelog, then its
deadline and purge indexes built from every stored Running entry), and processes live
traffic: a small simulated mix of new tickets, plus a compensation for a few stored tickets —
applying those proves the stored state is there. Done when the worker has committed every
live input record; then the peak RSS (VmHWM) is read.
"""

from __future__ import annotations

import time
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
from bench.tables import RecordTemplate, fold_records, retention_ms, seed_store
from bench.workload import load, simulated
from schemas import serde
from schemas.catalogue import CURRENT
from schemas.event import Event
from streams import topics
from streams.sla.policy import load_default_policy

TEMPLATE_TICKETS = 2_000  # at most; a tenth of the stored tickets at small sizes
LIVE_TICKETS = 1_000  # at most; a twentieth of the stored tickets at small sizes
TOUCHED = 20  # stored tickets that get a live event
GOAL_MB = Goal(at_most=500.0)


def templates(tickets: int, now_ms: int, retention: int) -> list[RecordTemplate]:
    """Each ticket of a simulated mix as the worker stores it: the worker's pure step over
    its events, its SLA clocks advanced to now (default policy)."""
    policy = load_default_policy()
    records = fold_records(simulated(tickets, seed=41, end_ms=now_ms).records, policy, now_ms)
    return [RecordTemplate.of(ticket_id, record, policy, retention)
            for ticket_id, record in records.items()]


def clone_id(number: int) -> str:
    return f"M{number:07d}"


def seed(env: BenchStack, count: int, pool: list[RecordTemplate]) -> float:
    """Write `count` cloned tickets into the worker's state; return the seconds it took. The
    clones are made as they are written: 1M of them at once would take gigabytes here."""
    return seed_store(env.settings.worker_data_dir,
                      (pool[n % len(pool)].clone(clone_id(n)) for n in range(count)))


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
    records = [*live.records, *((e.ticket_id.encode(), serde.encode(e)) for e in touches)]
    load(env.settings.kafka_bootstrap, topics.EVENTS.name, records)
    offsets = Offsets(env.settings.kafka_bootstrap)
    try:
        with env.log_on_failure(WORKER):
            # Done when the worker has committed every input record: it acknowledges a
            # record once its batch's outputs and state are written. A partition's first
            # records wait for its take-over (recovery and the deadline index over every
            # stored ticket), one long step without progress: only the timeout bounds it.
            progress = follow(lambda: (n := offsets.committed(WORKER_GROUP, topics.EVENTS.name),
                                       n >= len(records)),
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
            "live_records": len(records)}


def measure(options: Options) -> Measurement:
    count = options.size.memory_tickets
    with bench_stack("p6") as env:
        pool = templates(min(TEMPLATE_TICKETS, count // 10), int(time.time() * 1000),
                         retention_ms(env.settings))
        indexed = sum(pool[n % len(pool)].due is not None for n in range(count))
        seed_s = seed(env, count, pool)
        worker = _run_worker(env, options, count)
    peak_mb = worker["peak_kb"] / 1024
    measurement = Measurement("P6", f"worker memory, {count:,} tickets in state")
    measurement.add("peak RSS (VmHWM)", peak_mb, "MB", GOAL_MB)
    measurement.add("RSS when Faust is ready", worker["rss_ready_kb"] / 1024, "MB")
    measurement.add("peak RSS per stored ticket",
                    (worker["peak_kb"] - worker["rss_ready_kb"]) * 1024 / count, "bytes")
    measurement.details.update(
        tickets=count, tickets_in_deadline_index=indexed, seed_seconds=round(seed_s, 1),
        rss_at_end_mb=round(worker["rss_kb"] / 1024, 1),
        worker_start_to_ready_s=worker["ready_seconds"],
        rebuild_and_live_seconds=worker["rebuild_and_live_seconds"],
        live_input_records=worker["live_records"],
        method=__doc__.split("\n\n", 1)[1].strip())
    return measurement
