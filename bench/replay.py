"""P4 replay: rebuild every projection from an archived log with a fresh projector.

The log is what a running system leaves behind: N simulated input events on complaints.events
(re-deliveries included), and the ticket.state_changed events and dead letters the ticket
processor derives from them — computed with the worker's own pure handler
(`streams.tickets.handling.handle`) rather than by waiting for the worker, and beyond
BASE_EVENTS cloned under other ticket ids (see `cloned_log`). complaints.sla stays empty:
deriving SLA events in Python would take longer than the replay, and there is about one per
ten input events. Then the projector (`complaintflow project`, a fresh consumer group) reads
everything from offset 0 into fresh tables; the replay is done when its committed offsets
cover the whole log and ClickHouse reconciles.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from bench.harness import (
    PROJECTOR,
    PROJECTOR_GROUP,
    BenchStack,
    CpuMeter,
    Offsets,
    Progress,
    bench_stack,
    follow,
)
from bench.sizes import Options
from bench.table import Goal, Measurement
from bench.workload import Record, Workload, derive_ticket_log, load, simulated
from projections.report import reconciliation
from streams import topics

REFERENCE_EVENTS = 1_000_000  # the goal is for this many
GOAL = Goal(at_most=120.0)
EVENTS_PER_TICKET = 5.5  # the simulator's mix, re-deliveries included
BASE_EVENTS = 50_000  # simulated and derived once, then cloned up to the size
SEED_P4 = 31


@dataclass(frozen=True)
class Log:
    events: list[Record]
    ticket_state: list[Record]
    dead_letters: list[Record]

    def by_topic(self) -> dict[str, list[Record]]:
        return {topics.EVENTS.name: self.events, topics.TICKET_STATE.name: self.ticket_state,
                topics.DLQ.name: self.dead_letters}


def _clone_prefix(copy: int) -> bytes:
    return f"K{copy:02d}-".encode()


def cloned_log(base: Workload, copies: int) -> Log:
    """The base workload's log, `copies` times under other ticket ids.

    Ticket ids (and the event ids built from them) start with the plan's prefix "T<seed>-";
    each copy swaps it for another prefix of the same length, inside the Avro and JSON bytes
    too — same length, so every Avro length prefix stays valid. The ticket processor derives
    the same records for a renamed ticket, so this is the log N events would leave, made in
    the time of N / copies.
    """
    if copies > 100:
        raise ValueError("at most 100 copies (two-digit prefixes)")
    original = f"T{SEED_P4}-".encode()
    if len(_clone_prefix(0)) != len(original):
        raise ValueError("clone prefixes must keep the length of the original prefix")
    ticket_log = derive_ticket_log(base.records)

    def copied(records: list[Record]) -> list[Record]:
        out: list[Record] = []
        for n in range(copies):
            prefix = _clone_prefix(n)
            out.extend((key.replace(original, prefix), value.replace(original, prefix))
                       for key, value in records)
        return out

    return Log(copied(base.records), copied(ticket_log.ticket_state),
               copied(ticket_log.dead_letters))


def _replay(env: BenchStack, log_size: int, unique_events: int, timeout_s: float
            ) -> tuple[Progress, dict[str, float]]:
    """Run the projector until it has committed the whole log and ClickHouse reconciles."""
    offsets = Offsets(env.settings.kafka_bootstrap)
    client = env.clickhouse()
    started = time.monotonic()
    env.start_projector()
    meter = CpuMeter(env)

    def read() -> tuple[int, bool]:
        committed = offsets.committed(PROJECTOR_GROUP)
        if committed < log_size:
            return committed, False
        counts = reconciliation(client)
        return committed, counts["archived"] >= unique_events and counts["balanced"]

    try:
        progress = follow(read, started, "replay", timeout_s=timeout_s,
                          check=lambda: env.require_alive(PROJECTOR))
    finally:
        offsets.close()
    return progress, meter.cores()


def measure(options: Options) -> Measurement:
    size = options.size
    generated = time.monotonic()
    base_events = min(size.replay_events, BASE_EVENTS)
    copies = math.ceil(size.replay_events / base_events)
    base = simulated(int(base_events / EVENTS_PER_TICKET) + 1, seed=SEED_P4)
    log = cloned_log(base, copies)
    generate_s = time.monotonic() - generated
    events, unique_events = len(log.events), base.unique_events * copies
    with bench_stack("p4") as env:
        loaded = time.monotonic()
        for topic, records in log.by_topic().items():
            load(env.settings.kafka_bootstrap, topic, records)
        load_s = time.monotonic() - loaded
        log_size = sum(len(records) for records in log.by_topic().values())
        progress, cores = _replay(env, log_size, unique_events, size.timeout_s)
    seconds = progress.seconds
    # Start-up (group join) once, then the steady rate: smaller sizes scale fairly.
    scaled = progress.startup_seconds + REFERENCE_EVENTS / progress.steady_rate(events)
    measurement = Measurement("P4", f"replay of {events:,} input events")
    measurement.add("replay time", seconds, "s")
    measurement.add(f"replay time scaled to {REFERENCE_EVENTS:,} events", scaled, "s", GOAL)
    measurement.add("replay rate", events / seconds, "input events/s")
    measurement.add("replay rate, all topics", log_size / seconds, "messages/s")
    measurement.details.update(
        input_events=events, unique_events=unique_events, copies_of_base=copies,
        messages={topic: len(records) for topic, records in log.by_topic().items()},
        generate_seconds=round(generate_s, 1), load_seconds=round(load_s, 1),
        startup_seconds=round(progress.startup_seconds, 1), cores_by_process=cores,
        method=__doc__.split("\n\n", 1)[1].strip())
    return measurement
