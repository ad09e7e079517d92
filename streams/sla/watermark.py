"""The SLA engine's notion of "now" per partition.

A partition that is caught up (its latest event arrived within LIVE_LAG_MS of its event
time) runs on the wall clock, so a deadline passes live when no event arrives. A partition
reading a backlog or a replay runs on the log's own time — the latest event time seen,
advancing at wall speed since — so no breach fires early only to be retracted by the events
still queued behind it.
"""

from __future__ import annotations

LIVE_LAG_MS = 5_000


class PartitionClock:
    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, int]] = {}  # partition -> (event ms, wall ms then)

    def observe(self, partition: int, event_ms: int, wall_ms: int) -> None:
        latest = self._seen.get(partition)
        if latest is None or event_ms >= latest[0]:
            self._seen[partition] = (event_ms, wall_ms)

    def latest(self, partition: int) -> int | None:
        """The latest event time seen on the partition, if any."""
        seen = self._seen.get(partition)
        return None if seen is None else seen[0]

    def forget(self, partition: int) -> None:
        """The partition went to another worker: what was seen of it no longer holds."""
        self._seen.pop(partition, None)

    def now(self, partition: int, wall_ms: int) -> int:
        latest = self._seen.get(partition)
        if latest is None:
            return wall_ms
        event_ms, seen_at = latest
        if seen_at - event_ms <= LIVE_LAG_MS:
            return wall_ms
        return min(wall_ms, event_ms + max(0, wall_ms - seen_at))
