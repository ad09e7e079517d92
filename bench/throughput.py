"""P1 throughput: complaint events/s through the whole pipeline, beside two ceilings.

`complaints.events` is pre-loaded with a simulated mix; then, one after the other on that same
topic: (a) a Faust agent that only counts records, (b) kafka-python copying decoded events into
a scratch ClickHouse table, (c) the worker + projector, until ClickHouse shows every event
archived and each applied to its ticket or dead-lettered (reconciliation: archived ==
sum(tickets.version) + dead letters). "From start" runs from starting the processes (group
joins included) to the last record; "steady" from the first record seen (the first archived
row, for the pipeline) to the last. The ratios use steady rates: the ceilings finish in
seconds, so their group joins (3-5 s) would dominate a rate from start. "incl. SLA agent"
runs on until the worker's group has committed every ticket change it published and the
projector every sla.* event (Faust commits every 2.8 s, so it includes up to that much).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from bench.ceilings import DONE_MARKER
from bench.harness import (
    PROJECTOR,
    PROJECTOR_GROUP,
    WORKER,
    WORKER_GROUP,
    BenchStack,
    CpuMeter,
    Offsets,
    Progress,
    bench_stack,
    follow,
    log_json_line,
)
from bench.sizes import Options
from bench.table import Goal, Measurement
from bench.workload import Workload, load, simulated
from projections.report import reconciliation
from streams import topics

MIN_PIPELINE_SECONDS = 60.0  # full size: sustained at least this long
CALIBRATION_TICKETS = 1_000
RATIO_GOAL = Goal(at_least=0.5)


def run_ceiling(env: BenchStack, kind: str, records: int, options: Options) -> Progress:
    """Start a ceiling process and return when it has seen `records` records."""
    name = f"ceiling-{kind}"
    started, started_wall = time.monotonic(), time.time()
    env.spawn(name, "bench.ceilings", kind, str(records),
              "--faust-settings", json.dumps(options.worker_settings))
    try:
        env.wait_for_log(name, DONE_MARKER, options.size.timeout_s)
        tally = log_json_line(env.log_path(name), DONE_MARKER)
    finally:
        env.stop(name)
    return Progress(started, started + tally["first_at"] - started_wall,
                    started + tally["last_at"] - started_wall)


@dataclass(frozen=True)
class PipelineRun:
    tickets: Progress  # every event archived and applied or dead-lettered (the goal's measure)
    with_sla: Progress  # … and the SLA agent through every ticket change, its output projected
    cores: dict[str, float]  # during `tickets`


def run_pipeline(env: BenchStack, workload: Workload, options: Options) -> PipelineRun:
    """Start worker + projector; follow them until every event is archived and reconciled,
    then until the SLA agent has caught up (it starts late: see bench/README.md)."""
    client = env.clickhouse()
    started = time.monotonic()
    env.start_worker(options.worker_settings)
    env.start_projector()
    meter = CpuMeter(env)

    def reconciled() -> tuple[int, bool]:
        counts = reconciliation(client)
        done = counts["archived"] >= workload.unique_events and counts["balanced"]
        return counts["archived"] + counts["applied"] + counts["dead_lettered"], done

    offsets = Offsets(env.settings.kafka_bootstrap)

    def sla_caught_up() -> tuple[int, bool]:
        consumed = offsets.committed(WORKER_GROUP, topics.TICKET_STATE.name)
        projected = offsets.committed(PROJECTOR_GROUP, topics.SLA.name)
        done = (consumed >= offsets.end(topics.TICKET_STATE.name)
                and projected >= offsets.end(topics.SLA.name))
        return consumed + projected, done

    bounds = {"timeout_s": options.size.timeout_s,
              "check": lambda: env.require_alive(WORKER, PROJECTOR)}
    try:
        with env.log_on_failure(WORKER):
            tickets = follow(reconciled, started, "pipeline", **bounds)
            cores = meter.cores()
            with_sla = follow(sla_caught_up, started, "the SLA agent", **bounds)
    finally:
        offsets.close()
    return PipelineRun(tickets, with_sla, cores)


def calibrated_tickets(options: Options) -> tuple[int, dict]:
    """Tickets whose events keep the pipeline busy for MIN_PIPELINE_SECONDS (with margin)."""
    workload = simulated(CALIBRATION_TICKETS, seed=11)
    with bench_stack("p1-calibration") as env:
        load(env.settings.kafka_bootstrap, topics.EVENTS.name, workload.records)
        progress = run_pipeline(env, workload, options).tickets
    steady = progress.steady_rate(len(workload.sends))
    per_ticket = len(workload.sends) / CALIBRATION_TICKETS
    tickets = math.ceil(steady * MIN_PIPELINE_SECONDS * 1.25 / per_ticket)
    return tickets, {"steady_events_per_s": round(steady), "tickets": tickets}


def measure(options: Options) -> Measurement:
    measurement = Measurement("P1", "throughput (pre-loaded mix, whole pipeline)")
    tickets = options.size.throughput_tickets
    if tickets is None:
        tickets, measurement.details["calibration"] = calibrated_tickets(options)
    workload = simulated(tickets)
    records = len(workload.sends)
    with bench_stack("p1") as env:
        _, load_s = load(env.settings.kafka_bootstrap, topics.EVENTS.name, workload.records)
        faust = run_ceiling(env, "faust-count", records, options)
        copy = run_ceiling(env, "copy", records, options)
        run = run_pipeline(env, workload, options)
    pipeline = run.tickets
    steady = {"pipeline": pipeline.steady_rate(records), "faust_count": faust.steady_rate(records),
              "copy": copy.steady_rate(records)}
    measurement.add("pipeline, from start", pipeline.rate(records), "events/s")
    measurement.add("pipeline, steady", steady["pipeline"], "events/s")
    measurement.add("ceiling: Faust count-only, steady", steady["faust_count"], "events/s")
    measurement.add("ceiling: kafka-python→ClickHouse, steady", steady["copy"], "events/s")
    measurement.add("pipeline / Faust ceiling", steady["pipeline"] / steady["faust_count"],
                    "ratio", RATIO_GOAL)
    measurement.add("pipeline / copy ceiling", steady["pipeline"] / steady["copy"], "ratio")
    measurement.add("pipeline duration", pipeline.seconds, "s")
    measurement.add("pipeline incl. SLA agent, from start", run.with_sla.rate(records),
                    "events/s")
    measurement.details.update(
        tickets=tickets, records=records, unique_events=workload.unique_events,
        invalid_events=workload.invalid_events, preload_seconds=round(load_s, 2),
        preload_events_per_s=round(records / load_s),
        startup_seconds={"pipeline": round(pipeline.startup_seconds, 2),
                         "faust_count": round(faust.startup_seconds, 2),
                         "copy": round(copy.startup_seconds, 2)},
        events_per_s_from_start={"pipeline": round(pipeline.rate(records)),
                                 "faust_count": round(faust.rate(records)),
                                 "copy": round(copy.rate(records))},
        pipeline_cores_by_process=run.cores,
        seconds_until_sla_agent_caught_up=round(run.with_sla.seconds, 1),
        method=__doc__.split("\n\n", 1)[1].strip())
    return measurement
