"""Putting tickets into the worker's state before it starts.

Pushing 1M tickets through the pipeline, or recovering them from the changelog, would take
longer than the whole benchmark. Instead the records are written straight into the worker's
per-partition RocksDB (`streams.pipeline.store.PartitionStore` under
``<worker data dir>/state/<partition>``, the partition the ticket's events go to) with changelog
position 0: with an empty `complaints.worker-state` the worker's recovery applies nothing after
that position but its own fence, so it keeps them — the state it has after processing or
recovering them. Each ticket is stored as the worker stores it: its `TicketRecord` JSON and its
`Running` entry (next SLA instant, calendars of its running clocks, purge time).

`RecordTemplate` makes many tickets from one quickly: the record's JSON and Running entry are
computed once, and a clone is the same bytes with another ticket id (its event ids contain it)
and that id's partition in the SLA state.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from bench.workload import Record, partition_for
from complaintflow.config import Settings
from streams import topics
from streams.pipeline.step import EMPTY, TicketRecord, apply_due, apply_input
from streams.pipeline.store import PartitionStore, Running, running_entry
from streams.sla.clock import next_due
from streams.sla.policy import SlaPolicy
from streams.tickets.handling import Origin
from streams.tickets.model import DAY_MS, TicketState

Seed = tuple[str, bytes, Running | None]  # ticket id, TicketRecord JSON, its Running entry
WRITE_CHUNK = 10_000  # records per RocksDB write batch
_PARTITION_MARK = 2_000_000_001  # stands for the clone's partition in a template's JSON


def retention_ms(settings: Settings) -> int:
    """The retention the worker runs with (`complaintflow worker` computes it the same way)."""
    return round(settings.ticket_retention_days * DAY_MS)


def seed_store(data_dir: Path, rows: Iterable[Seed]) -> float:
    """Write the records into the worker's partition stores under ``data_dir`` (the worker
    must not run); return the seconds it took."""
    started = time.perf_counter()
    stores = {p: PartitionStore(data_dir / "state" / str(p)) for p in range(topics.PARTITIONS)}
    pending: dict[int, dict[str, tuple[bytes, Running | None]]] = {p: {} for p in stores}
    try:
        for ticket_id, value, running in rows:
            partition = partition_for(ticket_id.encode())
            chunk = pending[partition]
            chunk[ticket_id] = (value, running)
            if len(chunk) >= WRITE_CHUNK:
                stores[partition].write(chunk, position=0)
                pending[partition] = {}
        for partition, chunk in pending.items():
            if chunk:
                stores[partition].write(chunk, position=0)
    finally:
        for store in stores.values():
            store.close()
    return time.perf_counter() - started


def fold_records(records: Iterable[Record], policy: SlaPolicy, now_ms: int
                 ) -> dict[str, TicketRecord]:
    """Each ticket's `TicketRecord` after the worker's pure step (`apply_input`: ticket and
    SLA in one pass) over input records, with the partitions and offsets they get on a fresh
    complaints.events; then its SLA clocks advanced to ``now_ms`` (what was due is announced
    already, as in a running system)."""
    states: dict[str, TicketRecord] = {}
    next_offset: Counter[int] = Counter()
    for key, raw in records:
        partition = partition_for(key)
        origin = Origin(topics.EVENTS.name, partition, next_offset[partition])
        next_offset[partition] += 1
        ticket_id = key.decode()
        step = apply_input(states.get(ticket_id, EMPTY), raw, key, origin, policy, now_ms)
        if step.record is not None:
            states[ticket_id] = step.record
    for ticket_id, record in states.items():
        step = apply_due(record, now_ms, policy)
        if step.record is not None:
            states[ticket_id] = step.record
    return states


@dataclass(frozen=True)
class RecordTemplate:
    """One stored ticket, ready to be cloned under other ticket ids."""

    ticket_id: bytes
    value: bytes  # the record's JSON, the SLA partition as _PARTITION_MARK
    running: Running | None

    @classmethod
    def of(cls, ticket_id: str, record: TicketRecord, policy: SlaPolicy,
           retention: int) -> RecordTemplate:
        """A template of ``record``. Its applied offset is dropped: the clones' events will
        be at other offsets of another log (a record at or below it would be a redelivery)."""
        ticket, sla = record.ticket, record.sla
        if isinstance(ticket, TicketState):
            ticket = replace(ticket, applied_offset=None)
        if sla is not None:
            sla = replace(sla, partition=_PARTITION_MARK)
        stored = TicketRecord(ticket, sla)
        due = None if sla is None else next_due(sla, policy)
        return cls(ticket_id.encode(), stored.to_json(), running_entry(stored, due, retention))

    @property
    def due(self) -> int | None:
        return None if self.running is None else self.running.due

    def clone(self, ticket_id: str) -> Seed:
        new_id = ticket_id.encode()
        value = self.value.replace(self.ticket_id, new_id).replace(
            b'"partition":%d' % _PARTITION_MARK,
            b'"partition":%d' % partition_for(new_id))
        return ticket_id, value, self.running
