"""The deadline index: which tickets have an SLA announcement due, without scanning them all.

A min-heap of ``(due_ms, key)`` with lazy invalidation: rescheduling pushes a new entry and
records the key's current due time in a dict; an entry that no longer matches the dict is
stale and is skipped when it reaches the top. Every ticket change reschedules its ticket, so
stale entries pile up; the heap is rebuilt from the dict once they outnumber the live ones.

Cost (n scheduled keys, k keys due): `schedule` O(log n) amortised, `pop_due` O((k + s) log n)
where s is the stale entries passed on the way, `earliest` O(1) amortised. A timer tick thus
costs what is due, not the number of open tickets. To measure, time ``pop_due`` on an index
holding N keys of which a fixed number are due, for growing N: it should stay flat.
"""

from __future__ import annotations

import heapq

# Rebuild when stale entries exceed live ones by this factor (and a small floor, so tiny
# indexes do not rebuild on every reschedule).
_STALE_FACTOR = 2
_MIN_HEAP_TO_COMPACT = 64


class DeadlineIndex:
    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._due: dict[str, int] = {}

    def schedule(self, key: str, due_ms: int | None) -> None:
        """Make ``key`` due at ``due_ms``, replacing any earlier schedule; None unschedules."""
        if due_ms is None:
            self._due.pop(key, None)
        elif self._due.get(key) != due_ms:  # an identical schedule would only add a stale entry
            self._due[key] = due_ms
            heapq.heappush(self._heap, (due_ms, key))
        self._compact_if_stale()

    def pop_due(self, now_ms: int) -> list[str]:
        """Keys due at or before ``now_ms``, earliest first, each once; they are unscheduled."""
        due = []
        while self._heap and self._heap[0][0] <= now_ms:
            due_ms, key = heapq.heappop(self._heap)
            if self._due.get(key) == due_ms:
                del self._due[key]
                due.append(key)
        return due

    def earliest(self) -> int | None:
        """The earliest due time scheduled, or None if nothing is."""
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._due)

    def _compact_if_stale(self) -> None:
        if len(self._heap) > max(_MIN_HEAP_TO_COMPACT, _STALE_FACTOR * len(self._due)):
            self._heap = [(due_ms, key) for key, due_ms in self._due.items()]
            heapq.heapify(self._heap)
