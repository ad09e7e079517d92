"""Putting tickets into the worker's Faust tables before it starts.

Pushing 1M tickets through the pipeline, or restoring them from a changelog (~3,600 records/s
here), would take longer than the whole benchmark. Instead the rows are written straight into
the RocksDB files the worker opens — the state it has after processing or restoring them, and
with an empty changelog it keeps them. Faust's own code says where and how: the worker's app
is built here (same settings, so the same data directory) and each table's store gives its
partition paths and RocksDB options. Rows are laid out as Faust stores them (checked against a
worker's changelog): key = JSON of the ticket id, value = compact JSON of the stored dict, in
the partition the ticket's events go to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from bench.workload import partition_for
from complaintflow.config import Settings
from streams import topics
from streams.worker import build_app

TICKETS = "tickets"  # the table names of streams/tickets/agent.py and streams/sla/agent.py
SLA_CLOCKS = "sla-clocks"

Row = tuple[str, dict[str, Any]]  # ticket id, the dict the agent stores


def _encoded(row: Row) -> tuple[int, bytes, bytes]:
    ticket_id, stored = row
    return (partition_for(ticket_id.encode()), json.dumps(ticket_id).encode(),
            json.dumps(stored, separators=(",", ":")).encode())


def seed_tables(settings: Settings, rows_by_table: Mapping[str, Iterable[Row]]) -> float:
    """Write the rows into the worker's tables (the worker must not run); return seconds."""
    started = time.perf_counter()
    app = build_app(settings)
    for table_name, rows in rows_by_table.items():
        store = app.tables[table_name].data
        dbs = {p: store.rocksdb_options.open(store.partition_path(p))
               for p in range(topics.PARTITIONS)}
        try:
            for row in rows:
                partition, key, value = _encoded(row)
                dbs[partition].put(key, value)
        finally:
            for db in dbs.values():
                db.close()
    return time.perf_counter() - started
