"""The worker's per-ticket state: RocksDB on local disk, made durable by a changelog topic.

Each partition of `complaints.events` has its own RocksDB (``<data dir>/state/<partition>``)
holding the `TicketRecord` of every ticket on it and the ticket's next SLA instant, and its own
partition of the compacted topic `complaints.worker-state` (key: ticket id; value: the record's
JSON). The worker writes each changed ticket once per batch: first to the changelog (acknowledged
by the broker), then to RocksDB together with the changelog position it has reached.

A partition newly assigned to this worker is recovered before it is used: the records written
to the changelog after the local position are applied. The end of the changelog is found by a
fence — a record this worker writes itself and then reads back — rather than by the broker's
end offset, which Tansu under-reports for multi-record batches (docs/local-stack.md); so the
changelog can use normal producer batching on every broker.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from rocksdict import Options, Rdict, WriteBatch

from streams import topics
from streams.pipeline.step import TicketRecord

STATE_PREFIX = b"s"
RUNNING_PREFIX = b"r"  # tickets with running clocks: next SLA instant + calendars they need
NO_DUE = (1 << 64) - 1
POSITION_KEY = b"\x00changelog-position"  # the next changelog offset not yet in RocksDB
FENCE_KEY = b"\x00fence"  # never a ticket id: those are printable
RECOVERY_BATCH = 5_000
_LOG = logging.getLogger(__name__)

# (topic, partition, key, value) -> the offset the broker stored it at
Send = Callable[[str, int, bytes, bytes | None], Awaitable[int]]


@dataclass(frozen=True)
class Running:
    """What the worker schedules for a ticket, and the calendars its running clocks need:
    kept beside its record so that taking a partition over decodes no record."""

    due: int | None  # the next SLA instant
    calendars: tuple[tuple[str, str | None], ...]  # (name, fingerprint) of running clocks
    purge_at: int | None = None  # when a closed ticket's state may go

    def to_bytes(self) -> bytes:
        instants = b"".join((NO_DUE if at is None else at).to_bytes(8, "big")
                            for at in (self.due, self.purge_at))
        return instants + json.dumps(self.calendars).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Running:
        due, purge_at = (int.from_bytes(raw[i:i + 8], "big") for i in (0, 8))
        return cls(None if due == NO_DUE else due,
                   tuple((name, fp) for name, fp in json.loads(raw[16:])),
                   None if purge_at == NO_DUE else purge_at)


class PartitionStore:
    """One partition's records and what is scheduled for them, in RocksDB."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(path), options=Options(raw_mode=True))

    def get(self, ticket_id: str) -> TicketRecord | None:
        raw = self._db.get(STATE_PREFIX + ticket_id.encode())
        return None if raw is None else TicketRecord.from_json(raw)

    @property
    def position(self) -> int:
        raw = self._db.get(POSITION_KEY)
        return 0 if raw is None else int.from_bytes(raw, "big")

    def write(self, changed: Mapping[str, tuple[bytes, Running | None]], position: int) -> None:
        """Store ``{ticket_id: (record JSON, its running clocks or None)}`` and the changelog
        position, atomically."""
        batch = WriteBatch(raw_mode=True)
        for ticket_id, (value, running) in changed.items():
            key = ticket_id.encode()
            batch.put(STATE_PREFIX + key, value)
            if running is None:
                batch.delete(RUNNING_PREFIX + key)
            else:
                batch.put(RUNNING_PREFIX + key, running.to_bytes())
        batch.put(POSITION_KEY, position.to_bytes(8, "big"))
        self._db.write(batch)

    def running(self) -> Iterator[tuple[str, Running]]:
        """Every ticket with running clocks."""
        it = self._db.iter()
        it.seek(RUNNING_PREFIX)
        while it.valid() and it.key().startswith(RUNNING_PREFIX):
            yield it.key()[len(RUNNING_PREFIX):].decode(), Running.from_bytes(it.value())
            it.next()

    def close(self) -> None:
        self._db.close()


async def recover(store: PartitionStore, partition: int, send: Send,
                  read_from: Callable[[int, int], Awaitable[list[tuple[int, bytes, bytes]]]],
                  running_of: Callable[[TicketRecord], Running | None]) -> int:
    """Apply the changelog records after the store's position; returns how many.

    ``read_from(partition, offset)`` returns the next (offset, key, value) records of the
    changelog partition from ``offset`` on (possibly none yet)."""
    fence = await send(topics.WORKER_STATE.name, partition, FENCE_KEY, None)
    offset, applied = store.position, 0
    while offset <= fence:
        records = await read_from(partition, offset)
        if not records:
            await asyncio.sleep(0.05)
            continue
        changed: dict[str, tuple[bytes, Running | None]] = {}
        for record_offset, key, value in records:
            offset = record_offset + 1
            if key == FENCE_KEY or value is None:
                continue
            changed[key.decode()] = (value, running_of(TicketRecord.from_json(value)))
        store.write(changed, offset)
        applied += len(changed)
    _LOG.info("partition %d: recovered %d ticket records from the changelog up to offset %d",
              partition, applied, offset)
    return applied


def running_entry(record: TicketRecord, due: int | None, retention_ms: int) -> Running | None:
    """The `Running` entry of a record whose next SLA instant is ``due``; None when nothing of
    the ticket is running or scheduled."""
    clocks = () if record.sla is None else record.sla.clocks
    calendars = sorted({(c.calendar_name, c.calendar_fingerprint)
                        for c in clocks if not c.stopped},
                       key=lambda pair: (pair[0], pair[1] or ""))
    purge_at = record.purge_at(retention_ms)
    if not calendars and due is None and purge_at is None:
        return None
    return Running(due, tuple(calendars), purge_at)
