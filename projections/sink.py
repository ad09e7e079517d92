"""A batching ClickHouse sink: buffer rows per table, insert them in large blocks.

ClickHouse wants few big inserts (each insert makes a part on disk that merges later), so rows
wait until the buffer holds max_rows or its oldest row is max_age_s old. Every table is a
ReplacingMergeTree keyed by what the row describes, so inserting a batch twice (a retry, a
replay after a crash before the offset commit) changes no count read with FINAL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from clickhouse_driver.errors import Error as ClickHouseError

from projections.migrate import Executor
from projections.rows import Row, Table

DEFAULT_MAX_ROWS = 5_000
DEFAULT_MAX_AGE_S = 0.5


class SinkError(RuntimeError):
    """An insert failed. The buffer is kept as it was: flushing again re-inserts it all."""


class BatchingSink:
    def __init__(self, client: Executor, max_rows: int = DEFAULT_MAX_ROWS,
                 max_age_s: float = DEFAULT_MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._max_rows = max_rows
        self._max_age_s = max_age_s
        self._clock = clock
        self._buffers: dict[Table, list[Row]] = {}
        self._pending = 0
        self._oldest: float | None = None  # clock() when the first buffered row arrived

    @property
    def pending(self) -> int:
        return self._pending

    def add(self, table: Table, row: Row) -> None:
        if self._oldest is None:
            self._oldest = self._clock()
        self._buffers.setdefault(table, []).append(row)
        self._pending += 1

    def add_all(self, rows: Iterable[tuple[Table, Row]]) -> None:
        # add() for each row, in one loop: the projector calls this for every message.
        buffers = self._buffers
        added = 0
        for table, row in rows:
            buffered = buffers.get(table)
            if buffered is None:
                buffered = buffers[table] = []
            buffered.append(row)
            added += 1
        if added:
            if self._oldest is None:
                self._oldest = self._clock()
            self._pending += added

    def due(self) -> bool:
        """True when the buffer is full or its oldest row has waited long enough."""
        if self._oldest is None:
            return False
        return (self._pending >= self._max_rows
                or self._clock() - self._oldest >= self._max_age_s)

    def flush(self) -> dict[str, int]:
        """Insert every buffered row; return the rows written per table name."""
        written: dict[str, int] = {}
        for table, rows in self._buffers.items():
            try:
                self._client.execute(table.insert_sql, rows)
            except (ClickHouseError, OSError, EOFError) as exc:
                raise SinkError(f"insert of {len(rows)} rows into {table.name} failed: "
                                f"{exc}") from exc
            written[table.name] = len(rows)
        self.discard()
        return written

    def discard(self) -> None:
        """Forget the buffer (the caller will replay those messages from the log)."""
        self._buffers.clear()
        self._pending = 0
        self._oldest = None
