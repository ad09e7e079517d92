"""Ceilings for P1, run as their own processes on the same pre-loaded topic as the pipeline.

    python -m bench.ceilings faust-count N   a Faust agent that only counts raw records
    python -m bench.ceilings copy N          kafka-python → decode → ClickHouse, no logic

Each prints `BENCH-DONE {json}` with the instants of its first and N-th record, then idles
until it is stopped. The Faust app is the project's (`create_app`: local-profile settings)
under its own app id, so it has its own consumer group.
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceilings")
    parser.add_argument("kind", choices=("faust-count", "copy"))
    parser.add_argument("expected", type=int, help="records to count before reporting")
    parser.add_argument("--faust-settings", default="{}", help="JSON object (faust-count)")
    args = parser.parse_args(argv)
    if args.kind == "faust-count":
        run_faust_count(args.expected, json.loads(args.faust_settings))
    else:
        run_copy(args.expected)


if __name__ == "__main__":
    main()
