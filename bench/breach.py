"""P3 breach latency: from an SLA deadline to its `sla.breached`, with many open tickets.

Every ticket is a clone of one real open ticket (complaint.received run through the worker's
pure step, ticket and SLA clocks in one `TicketRecord`, its first-response warnings already
announced), moved in time so its first-response breach falls where the measurement wants it.
A bench policy puts every clock on a 24x7 calendar (10 min first response), so deadlines are
plain wall-clock instants.

- pure: the worker's per-tick work without Kafka — `DeadlineIndex.pop_due`, then per due
  ticket the record's JSON round trip, `apply_due` (the SLA step, Avro encoding of its
  outputs included), the holiday-data check, its new `Running` entry and rescheduling — on a
  simulated clock ticking every TICK_SECONDS, with 0, 1, 10, 100, 1000 deadlines due per
  tick in turn. CPU per tick is time.process_time(); a breach's latency is the tick instant
  minus its deadline plus the CPU spent in the tick until it was encoded.
- live: the same open tickets written into the worker's partition stores (bench.tables)
  before it starts; breaches come due at LIVE_BREACHES_PER_S for the window. A breach's
  latency is its record's CreateTime on complaints.sla (stamped by the worker's producer)
  minus its deadline; a breach not seen LIVE_DRAIN_S after the window counts as LIVE_DRAIN_S.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from kafka import KafkaConsumer, TopicPartition

from bench.harness import WORKER, bench_stack, cpu_seconds, percentile
from bench.sizes import Options
from bench.table import Goal, Measurement
from bench.tables import Seed, retention_ms, seed_store
from bench.workload import partition_for
from schemas import serde
from schemas.catalogue import CURRENT
from schemas.event import Event
from streams import topics
from streams.pipeline.agent import TICK_SECONDS
from streams.pipeline.step import EMPTY, TicketRecord, apply_due, apply_input
from streams.pipeline.store import Running, running_entry
from streams.sla import clock as sla_clock
from streams.sla.clock import FIRST_RESPONSE, SLA_BREACHED, deadline_of, next_due
from streams.sla.deadlines import DeadlineIndex
from streams.sla.holiday_gaps import holiday_gaps
from streams.sla.policy import SlaPolicy, parse_policy
from streams.tickets.handling import Origin
from streams.tickets.model import DEFAULT_RETENTION_MS, TicketState

BENCH_POLICY = """
version: bench-p3
calendars:
  24x7: {type: always_open}
warning_thresholds: [0.5, 0.8]
pause_on: [pending_customer]
targets:
  first_response: {default: {target: 10m, calendar: 24x7}}
  next_response: {default: {target: 10m, calendar: 24x7}}
  resolution: {default: {target: 8h, calendar: 24x7}}
"""
TICK_MS = int(TICK_SECONDS * 1000)
DUE_PER_TICK = (0, 1, 10, 100, 1000)
TICKS_PER_STEP = 20
# ~100k open tickets on 30-minute first-response targets breach at most ~55/s.
LIVE_BREACHES_PER_S = 50
IDLE_AFTER_MS = 3_600_000  # tickets not due during a measurement are due an hour after it
LIVE_DRAIN_S = 10.0
# From storing the open tickets to the first deadline: the worker's start-up and group join,
# then its deadline-index rebuild over every stored clock, with a margin.
LIVE_LEAD_S = 8.0
REBUILD_PER_S = 8_000
P99_GOAL = Goal(at_most=1.0)


def bench_policy() -> SlaPolicy:
    return parse_policy(BENCH_POLICY)


def _template(policy: SlaPolicy, now_ms: int) -> TicketRecord:
    """One open ticket through the worker's pure step, warnings announced: its breach is
    next due."""
    received = Event(
        event_id="bench-template-received", event_type="complaint.received",
        ticket_id="bench-template", occurred_at=now_ms,
        schema_version=CURRENT["complaint.received"].version,
        data={"channel": "wechat", "category": "logistics", "priority": "normal",
              "customer_id": "C-bench", "customer_tier": "regular", "region": "shanghai",
              "kind": "complaint"})
    key = received.ticket_id.encode()
    record = apply_input(EMPTY, serde.encode(received), key,
                         Origin(topics.EVENTS.name, 0, 0), policy, now_ms).record
    assert record is not None and record.sla is not None
    first_response = next(c for c in record.sla.clocks if c.metric == FIRST_RESPONSE)
    warned = apply_due(record, deadline_of(first_response, policy) - 1, policy).record
    assert warned is not None
    return warned


def _clone(template: TicketRecord, ticket_id: str, shift_ms: int) -> TicketRecord:
    sla, ticket = template.sla, template.ticket
    assert sla is not None and isinstance(ticket, TicketState)
    clocks = tuple(replace(c, started_at=c.started_at + shift_ms) for c in sla.clocks)
    return TicketRecord(
        replace(ticket, ticket_id=ticket_id, received_at=ticket.received_at + shift_ms,
                updated_at=ticket.updated_at + shift_ms, applied_offset=None,
                seen_event_ids=(f"{ticket_id}-received",)),
        replace(sla, ticket_id=ticket_id, partition=partition_for(ticket_id.encode()),
                clocks=clocks, watermark=sla.watermark + shift_ms))


def open_tickets(policy: SlaPolicy, deadlines: list[int], total: int,
                 prefix: str = "SLA") -> list[TicketRecord]:
    """`total` open tickets: the first breach at each of `deadlines`, the rest idle."""
    now_ms = int(time.time() * 1000)
    template = _template(policy, now_ms)
    assert template.sla is not None
    template_deadline = next_due(template.sla, policy)
    assert template_deadline is not None
    idle = max(deadlines, default=now_ms) + IDLE_AFTER_MS
    due = [*deadlines, *(idle + n for n in range(total - len(deadlines)))]
    return [_clone(template, f"{prefix}-{n:07d}", deadline - template_deadline)
            for n, deadline in enumerate(due)]


# ---------------------------------------------------------------- pure


def stepped_deadlines(start_ms: int, available: int) -> tuple[list[int], list[int]]:
    """Deadlines making each tick after start_ms due for 0, 1, 10, … tickets in turn (as many
    steps as `available` tickets allow); returns (deadlines, due count per tick)."""
    deadlines: list[int] = []
    per_tick: list[int] = []
    for due in DUE_PER_TICK:
        if len(deadlines) + due * TICKS_PER_STEP > available:
            break
        for _ in range(TICKS_PER_STEP):
            tick_start = start_ms + len(per_tick) * TICK_MS
            deadlines += [tick_start + 1 + n * (TICK_MS - 1) // due for n in range(due)]
            per_tick.append(due)
    return deadlines, per_tick


@dataclass
class PureRun:
    latencies: list[float] = field(default_factory=list)  # seconds
    cpu_by_due: dict[int, list[float]] = field(default_factory=dict)  # due count -> CPU s
    index_build_seconds: float = 0.0


def run_pure(policy: SlaPolicy, open_count: int) -> PureRun:
    start_ms = int(time.time() * 1000) + 60_000
    deadlines, due_per_tick = stepped_deadlines(start_ms, open_count)
    records = open_tickets(policy, deadlines, open_count)
    # The store: each ticket's record JSON and its Running entry, as bytes.
    store: dict[str, tuple[bytes, bytes]] = {}
    for record in records:
        assert record.sla is not None
        running = running_entry(record, next_due(record.sla, policy), DEFAULT_RETENTION_MS)
        assert running is not None
        store[record.sla.ticket_id] = (record.to_json(), running.to_bytes())
    run = PureRun()
    built = time.perf_counter()
    index = DeadlineIndex()
    for ticket_id, (_value, running_raw) in store.items():  # what a take-over does
        index.schedule(ticket_id, Running.from_bytes(running_raw).due)
    run.index_build_seconds = time.perf_counter() - built
    # The SLA clock remembers computed instants; seeding just computed every ticket's. A
    # worker computed them when the ticket last changed (minutes to hours before its breach,
    # long evicted with many open tickets): each tick starts cold here too.
    getattr(sla_clock, "_INSTANTS", {}).clear()
    for tick in range(1, len(due_per_tick) + 1):
        now_ms = start_ms + tick * TICK_MS
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        due = index.pop_due(now_ms)
        for ticket_id in due:
            step = apply_due(TicketRecord.from_json(store[ticket_id][0]), now_ms, policy)
            assert step.record is not None  # outputs are encoded by the step
            for event in step.sla_events:
                holiday_gaps(event, policy)  # the worker's holiday-data check per sla event
            running = running_entry(step.record, step.due, DEFAULT_RETENTION_MS)
            store[ticket_id] = (step.record.to_json(),
                                b"" if running is None else running.to_bytes())
            index.schedule(ticket_id, step.due)
            for event in step.sla_events:
                if event.event_type == SLA_BREACHED:
                    run.latencies.append((now_ms - event.occurred_at) / 1000
                                         + time.perf_counter() - wall_started)
        run.cpu_by_due.setdefault(len(due), []).append(time.process_time() - cpu_started)
    return run


# ---------------------------------------------------------------- live


@dataclass
class LiveRun:
    latencies: list[float]
    expected: int
    missing: int  # breaches never seen, counted as LIVE_DRAIN_S in the latencies
    lead_seconds: float  # worker ready this long before the first deadline (< 0: after)
    start_seconds: float  # worker start to ready: start-up and group join
    worker_cores: float  # in the window


def _sla_consumer(bootstrap: str) -> KafkaConsumer:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             fetch_max_wait_ms=50, enable_auto_commit=False)
    consumer.assign([TopicPartition(topics.SLA.name, p) for p in range(topics.SLA.partitions)])
    return consumer


def _collect_breaches(consumer: KafkaConsumer, window: tuple[int, int], expected: int,
                      until: float) -> list[float]:
    """Latencies (s) of the sla.breached events with deadlines in the window."""
    latencies: list[float] = []
    while len(latencies) < expected and time.monotonic() < until:
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                event = serde.decode(record.value)
                deadline = event.data.get("deadline")
                if (event.event_type == SLA_BREACHED and deadline is not None
                        and window[0] <= deadline <= window[1]):
                    latencies.append((record.timestamp - deadline) / 1000)
    return latencies


def _sleep_until_wall(epoch_s: float) -> None:
    time.sleep(max(0.0, epoch_s - time.time()))


def _seeds(records: list[TicketRecord], policy: SlaPolicy, retention: int) -> Iterator[Seed]:
    for record in records:
        assert record.sla is not None
        yield (record.sla.ticket_id, record.to_json(),
               running_entry(record, next_due(record.sla, policy), retention))


def run_live(options: Options, policy: SlaPolicy) -> LiveRun:
    size = options.size
    count = int(size.sla_window_seconds * LIVE_BREACHES_PER_S)
    with bench_stack("p3") as env:
        policy_path = env.state_dir / "bench-sla-policy.yaml"
        policy_path.write_text(BENCH_POLICY)
        data_dir, retention = env.settings.worker_data_dir, retention_ms(env.settings)
        # The idle tickets first; the window is placed once they are stored, far enough
        # ahead for the worker to start and take its partitions over with all of them.
        seed_store(data_dir, _seeds(open_tickets(policy, [], size.sla_open_tickets - count),
                                    policy, retention))
        first_ms = int((time.time() + LIVE_LEAD_S + size.sla_open_tickets / REBUILD_PER_S)
                       * 1000)
        deadlines = [first_ms + n * 1000 // LIVE_BREACHES_PER_S for n in range(count)]
        seed_store(data_dir, _seeds(open_tickets(policy, deadlines, count, prefix="DUE"),
                                    policy, retention))
        consumer = _sla_consumer(env.settings.kafka_bootstrap)
        started = time.time()
        env.start_worker(options.worker_settings, sla_policy=policy_path)
        env.wait_worker_ready(first_ms / 1000 - time.time() + size.timeout_s)
        ready_s = time.time()
        worker = env.pid(WORKER)
        _sleep_until_wall(first_ms / 1000)
        cpu_started = cpu_seconds(worker)
        _sleep_until_wall(deadlines[-1] / 1000)
        cpu = cpu_seconds(worker) - cpu_started
        latencies = _collect_breaches(consumer, (deadlines[0], deadlines[-1]), count,
                                      time.monotonic() + LIVE_DRAIN_S)
        consumer.close()
    missing = count - len(latencies)
    latencies += [LIVE_DRAIN_S] * missing  # never seen: counted as the wait bound
    window_s = (deadlines[-1] - deadlines[0]) / 1000
    return LiveRun(latencies, count, missing, first_ms / 1000 - ready_s, ready_s - started,
                   cpu / max(window_s, 1e-9))


# ---------------------------------------------------------------- measurement


def _mean_ms(values: list[float]) -> float:
    return statistics.fmean(values) * 1000 if values else math.nan


def measure(options: Options) -> Measurement:
    policy = bench_policy()
    size = options.size
    measurement = Measurement("P3", f"SLA breach latency, {size.sla_open_tickets:,} open tickets")
    pure = run_pure(policy, size.sla_open_tickets)
    measurement.add("pure p50", percentile(pure.latencies, 50), "s")
    measurement.add("pure p99", percentile(pure.latencies, 99), "s", P99_GOAL)
    for due, cpu in sorted(pure.cpu_by_due.items()):
        if due in DUE_PER_TICK:
            measurement.add(f"pure CPU per tick, {due} due", _mean_ms(cpu), "ms")
    live = _run_live_or_none(lambda: run_live(options, policy), measurement)
    if live is not None:
        measurement.add("live p50", percentile(live.latencies, 50), "s")
        measurement.add("live p99", percentile(live.latencies, 99), "s", P99_GOAL)
        measurement.add(f"live worker CPU per tick at {LIVE_BREACHES_PER_S} breaches/s",
                        live.worker_cores * TICK_SECONDS * 1000, "ms")
        measurement.details["live"] = {
            "breaches_expected": live.expected, "breaches_missing": live.missing,
            "worker_ready_before_first_deadline_s": round(live.lead_seconds, 1),
            "worker_start_to_ready_s": round(live.start_seconds, 1),
            "worker_cores_in_window": round(live.worker_cores, 3),
            "max_seconds": max(live.latencies, default=None)}
    measurement.details.update(
        tick_seconds=TICK_SECONDS, pure_breaches=len(pure.latencies),
        pure_index_build_seconds=round(pure.index_build_seconds, 2),
        pure_cpu_ms_per_tick_by_due={due: round(_mean_ms(cpu), 3)
                                     for due, cpu in sorted(pure.cpu_by_due.items())},
        method=__doc__.split("\n\n", 1)[1].strip())
    return measurement


def _run_live_or_none(run: Callable[[], LiveRun], measurement: Measurement) -> LiveRun | None:
    """The live half is best effort: its failure is recorded, the pure numbers still stand."""
    try:
        return run()
    except Exception as exc:  # a broker, worker or timing problem of the live half
        measurement.details["live_error"] = f"{type(exc).__name__}: {exc}"
        return None
