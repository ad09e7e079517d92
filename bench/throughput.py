"""P1 throughput: complaint events/s through the whole pipeline, beside two ceilings.

`complaints.events` is pre-loaded with a simulated mix; then, one after the other on that same
topic: (a) a Faust agent that only counts records, (b) kafka-python copying decoded events into
a scratch ClickHouse table, (c) the worker + projector, until ClickHouse shows every event
archived and each applied to its ticket or dead-lettered (reconciliation: archived ==
sum(tickets.version) + dead letters). "From start" runs from starting the processes (group
joins included) to the last record; "steady" from the first record seen (the first archived
row, for the pipeline) to the last. The ratios use steady rates: the ceilings finish in
seconds, so their group joins (3-5 s) would dominate a rate from start.

The worker runs the ticket and SLA steps on each record in one pass (one agent, one state
write per ticket per batch), so the SLA work is inside the run above; "incl. SLA" follows the
same run on until the projector has also committed every sla.* record on complaints.sla (the
partitions' real ends, read back from the broker: Tansu under-reports the end offsets of
batched topics). The worker's producer batches normally on both brokers (it keeps no Faust
table, so no changelog needs one record per batch); "one record per producer batch" repeats
the pipeline on a fresh stack with the settings the local profile used to force
(producer_max_batch_size=1, producer_linger=0), to show what that setting would cost.

With the optional `bench` extra installed (quixstreams), a Quix Streams app runs the worker's
pure per-record step on a copy of the same input, with its state in Quix's RocksDB store and
changelog (bench.ceilings), counted like the Faust ceiling; the pipeline incl. SLA is printed as
a ratio to it. It does the worker's work, not the projector's, and its rate excludes its last
checkpoint (≤ 1 s).
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from bench.ceilings import DONE_MARKER, QUIX_INPUT
from bench.harness import (
    PROJECTOR,
    PROJECTOR_GROUP,
    WORKER,
    BenchError,
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
# Issue 8's goals for the pipeline incl. SLA clocks, as a ratio to the Faust count-only agent:
# 0.35 with normal producer batching, 0.2 with one record per producer batch.
RATIO_GOAL = Goal(at_least=0.35)
ONE_RECORD_RATIO_GOAL = Goal(at_least=0.2)
# The producer settings of the old local profile (one record per batch, for Tansu's sake).
ONE_RECORD_BATCHES: dict[str, Any] = {"producer_max_batch_size": 1, "producer_linger": 0.0}


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


def run_quix_peer(env: BenchStack, workload: Workload, options: Options) -> Progress | None:
    """The Quix Streams peer (bench.ceilings) on a copy of the pre-loaded input; None when
    quixstreams is not installed (it is the optional `bench` extra)."""
    if importlib.util.find_spec("quixstreams") is None:
        return None
    admin = KafkaAdminClient(bootstrap_servers=env.settings.kafka_bootstrap,
                             client_id="complaintflow-bench")
    try:
        admin.create_topics([NewTopic(QUIX_INPUT, topics.EVENTS.partitions, 1,
                                      topic_configs={"retention.ms": "-1"})])
    finally:
        admin.close()
    load(env.settings.kafka_bootstrap, QUIX_INPUT, workload.records)
    return run_ceiling(env, "quix", len(workload.sends), options)


@dataclass(frozen=True)
class PipelineRun:
    tickets: Progress  # every event archived and applied or dead-lettered (the goal's measure)
    with_sla: Progress  # … and every sla.* record the worker made projected
    cores: dict[str, float]  # during `tickets`


def real_ends(consumer: KafkaConsumer, topic: str) -> dict[int, int]:
    """Each partition's real end offset (its last record's offset + 1). The broker's end offset
    may be the base offset of the last batch + 1 (Tansu); the records from there on are read
    to find the last one."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic)
                                                             or ())]
    reported = consumer.end_offsets(partitions)
    ends = {tp.partition: reported[tp] for tp in partitions}
    unread = {tp for tp in partitions if reported[tp] > 0}
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, max(0, reported[tp] - 1))
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        polled = consumer.poll(timeout_ms=200)
        for tp, records in polled.items():
            unread.discard(tp)
            ends[tp.partition] = max(ends[tp.partition], records[-1].offset + 1)
        if not polled and not unread:
            return ends
    raise BenchError(f"could not read the last records of {topic}")


def run_pipeline(env: BenchStack, workload: Workload, options: Options,
                 worker_settings: dict[str, Any] | None = None) -> PipelineRun:
    """Start worker + projector; follow them until every event is archived and reconciled,
    then until the projector has every sla.* record the worker produced."""
    client = env.clickhouse()
    started = time.monotonic()
    env.start_worker(options.worker_settings if worker_settings is None else worker_settings)
    env.start_projector()
    meter = CpuMeter(env)

    def reconciled() -> tuple[int, bool]:
        counts = reconciliation(client)
        done = counts["archived"] >= workload.unique_events and counts["balanced"]
        return counts["archived"] + counts["applied"] + counts["dead_lettered"], done

    offsets = Offsets(env.settings.kafka_bootstrap)
    reader = KafkaConsumer(bootstrap_servers=env.settings.kafka_bootstrap,
                           client_id="complaintflow-bench", enable_auto_commit=False,
                           fetch_max_wait_ms=50)

    def sla_projected() -> tuple[int, bool]:
        # The worker sends a record's sla.* events with its ticket change, in one batch: once
        # every change is in ClickHouse, every sla.* record is on the broker (or in flight
        # for a few ms).
        projected = offsets.committed(PROJECTOR_GROUP, topics.SLA.name)
        return projected, projected >= sum(real_ends(reader, topics.SLA.name).values())

    bounds = {"timeout_s": options.size.timeout_s,
              "check": lambda: env.require_alive(WORKER, PROJECTOR)}
    try:
        with env.log_on_failure(WORKER):
            tickets = follow(reconciled, started, "pipeline", **bounds)
            cores = meter.cores()
            with_sla = follow(sla_projected, started, "the sla.* events", **bounds)
    finally:
        offsets.close()
        reader.close()
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


def _with_sla_steady(run: PipelineRun, records: int) -> float:
    """From the first archived row to the last sla.* record projected."""
    return records / max(run.with_sla.finished - run.tickets.first_progress, 1e-9)


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
        quix = run_quix_peer(env, workload, options)
        run = run_pipeline(env, workload, options)
    one_record = {**options.worker_settings, **ONE_RECORD_BATCHES}
    run_one = None
    try:
        with bench_stack("p1-one-record") as env:
            load(env.settings.kafka_bootstrap, topics.EVENTS.name, workload.records)
            run_one = run_pipeline(env, workload, options, one_record)
    except BenchError as exc:  # a profile the worker no longer needs: report, don't lose P1
        measurement.details["one_record_failed"] = str(exc).splitlines()[0]
    pipeline = run.tickets
    steady = {"pipeline": pipeline.steady_rate(records), "faust_count": faust.steady_rate(records),
              "copy": copy.steady_rate(records),
              "pipeline_incl_sla": _with_sla_steady(run, records)}
    measurement.add("pipeline, from start", pipeline.rate(records), "events/s")
    measurement.add("pipeline, steady", steady["pipeline"], "events/s")
    measurement.add("ceiling: Faust count-only, steady", steady["faust_count"], "events/s")
    measurement.add("ceiling: kafka-python→ClickHouse, steady", steady["copy"], "events/s")
    measurement.add("pipeline / Faust ceiling", steady["pipeline"] / steady["faust_count"],
                    "ratio")
    measurement.add("pipeline / copy ceiling", steady["pipeline"] / steady["copy"], "ratio")
    measurement.add("pipeline duration", pipeline.seconds, "s")
    measurement.add("pipeline incl. SLA, steady", steady["pipeline_incl_sla"], "events/s")
    measurement.add("pipeline incl. SLA / Faust ceiling",
                    steady["pipeline_incl_sla"] / steady["faust_count"], "ratio", RATIO_GOAL)
    if run_one is not None:
        steady["one_record"] = run_one.tickets.steady_rate(records)
        steady["one_record_incl_sla"] = _with_sla_steady(run_one, records)
        measurement.add("one record per producer batch: pipeline, steady",
                        steady["one_record"], "events/s")
        measurement.add("one record per producer batch: incl. SLA, steady",
                        steady["one_record_incl_sla"], "events/s")
        measurement.add("one record per producer batch: incl. SLA / Faust ceiling",
                        steady["one_record_incl_sla"] / steady["faust_count"], "ratio",
                        ONE_RECORD_RATIO_GOAL)
    if quix is None:
        measurement.details["quix_peer"] = "skipped: quixstreams is not installed " \
                                           "(pip install -e '.[bench]')"
    else:
        steady["quix_peer"] = quix.steady_rate(records)
        measurement.add("peer: Quix Streams, same per-record step, steady",
                        steady["quix_peer"], "events/s")
        measurement.add("pipeline incl. SLA / Quix Streams peer",
                        steady["pipeline_incl_sla"] / steady["quix_peer"], "ratio")
        measurement.details["quix_peer_startup_seconds"] = round(quix.startup_seconds, 2)
    measurement.details.update(
        tickets=tickets, records=records, unique_events=workload.unique_events,
        invalid_events=workload.invalid_events, preload_seconds=round(load_s, 2),
        preload_events_per_s=round(records / load_s),
        startup_seconds={"pipeline": round(pipeline.startup_seconds, 2),
                         "faust_count": round(faust.startup_seconds, 2),
                         "copy": round(copy.startup_seconds, 2),
                         "one_record": round(run_one.tickets.startup_seconds, 2)},
        events_per_s_from_start={"pipeline": round(pipeline.rate(records)),
                                 "pipeline_incl_sla": round(run.with_sla.rate(records)),
                                 "faust_count": round(faust.rate(records)),
                                 "copy": round(copy.rate(records)),
                                 "one_record": round(run_one.tickets.rate(records)),
                                 "one_record_incl_sla": round(run_one.with_sla.rate(records))},
        steady_events_per_s={name: round(rate) for name, rate in steady.items()},
        pipeline_cores_by_process=run.cores,
        one_record_cores_by_process=run_one.cores,
        seconds_until_sla_projected={"pipeline": round(run.with_sla.seconds, 1),
                                     "one_record": round(run_one.with_sla.seconds, 1)},
        one_record_worker_settings=ONE_RECORD_BATCHES,
        method=__doc__.split("\n\n", 1)[1].strip())
    return measurement
