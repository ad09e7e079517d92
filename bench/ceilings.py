"""Ceilings for P1, run as their own processes on the same pre-loaded topic as the pipeline.

    python -m bench.ceilings faust-count N   a Faust agent that only counts raw records
    python -m bench.ceilings copy N          kafka-python → decode → ClickHouse, no logic
    python -m bench.ceilings quix N          a Quix Streams app doing the worker's per-record
                                             step (optional: `pip install -e .[bench]`)

Each prints `BENCH-DONE {json}` with the instants of its first and N-th record, then idles
until it is stopped. The Faust app is the project's (`create_app`: local-profile settings)
under its own app id, so it has its own consumer group.

The Quix Streams peer runs the worker's pure step (`streams.pipeline.step.apply_input`:
ticket state machine and SLA clocks) on each record of QUIX_INPUT, with each ticket's
`TicketRecord` JSON in Quix's RocksDB state (made durable by Quix's changelog topic), and
produces the step's outputs to QUIX_OUTPUT. It counts a record once its step has run; Quix
flushes state and outputs at its checkpoint (every QUIX_COMMIT_S). QUIX_INPUT is a copy of
complaints.events created with `retention.ms`: Quix derives its changelog topic's config
from the input topic's, and Tansu returns no retention.ms for topics created without one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

DONE_MARKER = "BENCH-DONE "
FAUST_APP_ID = "bench-count-only"
COPY_GROUP = "bench-copy-ceiling"
COPY_TABLE = "bench_copy"
COPY_BATCH_ROWS = 5_000  # the projector's DEFAULT_MAX_ROWS
QUIX_GROUP = "bench-quix-peer"
QUIX_INPUT = "bench.quix-events"
QUIX_OUTPUT = "bench.quix-outputs"
QUIX_COMMIT_S = 1.0
# librdkafka group timings short enough for Tansu (its defaults wait ~45 s to join).
QUIX_CONSUMER_CONFIG = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                        "fetch.wait.max.ms": 100}


@dataclass
class Tally:
    expected: int
    records: int = 0
    first_at: float | None = None  # epoch seconds
    last_at: float | None = None

    def seen(self) -> None:
        """A record arrived (counted later, once it is processed)."""
        if self.first_at is None:
            self.first_at = time.time()

    def add(self, count: int = 1) -> bool:
        """Count processed records; True once the expected number is reached (reported once)."""
        if count <= 0:
            return False
        now = time.time()
        self.seen()
        before = self.records
        self.records += count
        if before < self.expected <= self.records:
            self.last_at = now
            print(DONE_MARKER + json.dumps(asdict(self)), flush=True)
            return True
        return False


def run_faust_count(expected: int, faust_settings: dict) -> None:
    import faust

    from complaintflow.config import load_settings
    from streams import topics
    from streams.app import create_app, raw_topic

    settings = load_settings()
    app = create_app(settings.kafka_bootstrap, settings.profile, settings.worker_data_dir,
                     app_id=FAUST_APP_ID)
    for name, value in faust_settings.items():
        setattr(app.conf, name, value)
    tally = Tally(expected)

    @app.agent(raw_topic(app, topics.EVENTS), name="count")
    async def count(stream: faust.StreamT) -> None:
        async for _event in stream.events():  # the ticket agent iterates the same way
            tally.add()

    sys.argv = [sys.argv[0], "worker", "-l", "warning"]
    faust.Worker(app, loglevel="warning").execute_from_commandline()


def run_copy(expected: int) -> None:
    from clickhouse_driver import Client

    from complaintflow.config import load_settings
    from projections.projector import consumer_for
    from schemas import serde

    settings = load_settings()
    client = Client(settings.clickhouse_host, port=settings.clickhouse_port)
    client.execute(f"CREATE TABLE IF NOT EXISTS {COPY_TABLE} (event_id String, "
                   f"event_type String, ticket_id String, occurred_at_ms UInt64) "
                   f"ENGINE = MergeTree ORDER BY event_id")
    insert = f"INSERT INTO {COPY_TABLE} (event_id, event_type, ticket_id, occurred_at_ms) VALUES"
    # The projector's consumer settings; only complaints.events has records at this point.
    consumer = consumer_for(settings.kafka_bootstrap, COPY_GROUP)
    tally = Tally(expected)
    rows: list[tuple] = []
    while True:
        polled = consumer.poll(timeout_ms=100, max_records=COPY_BATCH_ROWS)
        for records in polled.values():
            tally.seen()
            for record in records:
                event = serde.decode(record.value)
                rows.append((event.event_id, event.event_type, event.ticket_id,
                             event.occurred_at))
        if rows and (len(rows) >= COPY_BATCH_ROWS or not polled):
            client.execute(insert, rows)
            consumer.commit()
            tally.add(len(rows))
            rows = []


def run_quix(expected: int) -> None:
    from quixstreams import Application, State
    from quixstreams.context import message_context

    from complaintflow.config import load_settings
    from streams import topics
    from streams.pipeline.step import EMPTY, TicketRecord, apply_input
    from streams.sla.policy import load_default_policy, load_policy
    from streams.tickets.handling import Origin

    settings = load_settings()
    policy = load_policy(settings.sla_policy) if settings.sla_policy else load_default_policy()
    app = Application(broker_address=settings.kafka_bootstrap, consumer_group=QUIX_GROUP,
                      auto_offset_reset="earliest", commit_interval=QUIX_COMMIT_S,
                      state_dir=str(settings.state_dir / "quix-state"), loglevel="WARNING",
                      consumer_extra_config=QUIX_CONSUMER_CONFIG)
    source = app.topic(QUIX_INPUT, key_deserializer="bytes", value_deserializer="bytes")
    sink = app.topic(QUIX_OUTPUT, key_serializer="bytes", value_serializer="bytes")
    tally = Tally(expected)

    def step(value: bytes, key: bytes, _timestamp: int, _headers: object,
             state: State) -> list[bytes]:
        context = message_context()
        stored = state.get("record")
        record = EMPTY if stored is None else TicketRecord.from_json(stored)
        # The worker's origin: same partition and offset as on complaints.events.
        done = apply_input(record, value, key,
                           Origin(topics.EVENTS.name, context.partition, context.offset),
                           policy, int(time.time() * 1000))
        if done.record is not None:
            state.set("record", done.record.to_json().decode())
        tally.add()
        return [output.value for output in done.outputs]

    app.dataframe(source).apply(step, stateful=True, metadata=True, expand=True).to_topic(sink)
    app.run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceilings")
    parser.add_argument("kind", choices=("faust-count", "copy", "quix"))
    parser.add_argument("expected", type=int, help="records to count before reporting")
    parser.add_argument("--faust-settings", default="{}", help="JSON object (faust-count)")
    args = parser.parse_args(argv)
    if args.kind == "faust-count":
        run_faust_count(args.expected, json.loads(args.faust_settings))
    elif args.kind == "quix":
        run_quix(args.expected)
    else:
        run_copy(args.expected)


if __name__ == "__main__":
    main()
