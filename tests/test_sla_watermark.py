"""The per-partition SLA clock: wall time when caught up, the log's time in a backlog."""

from __future__ import annotations

import pytest

from streams.sla.watermark import LIVE_LAG_MS, PartitionClock

BACKLOG = LIVE_LAG_MS + 10_000


@pytest.mark.parametrize(("observations", "wall", "expected"), [
    ([], 5_000, 5_000),                                          # nothing seen: wall clock
    ([(1_000, 1_300)], 3_500, 3_500),                            # caught up: wall clock
    ([(1_000, 1_000 + LIVE_LAG_MS)], 9_999_999, 9_999_999),      # lag at the limit: live
    ([(1_000, 1_000 + BACKLOG)], 1_500 + BACKLOG, 1_500),        # backlog: event time + 0.5 s
    ([(1_000, BACKLOG), (4_000, BACKLOG + 100)], BACKLOG + 100, 4_000),  # newer event moves it
    ([(4_000, BACKLOG), (1_000, BACKLOG + 100)], BACKLOG + 100, 4_100),  # older one does not
    ([(8_000, 1_000)], 2_000, 2_000),                            # never ahead of the wall
])
def test_partition_clock(observations, wall, expected):
    clock = PartitionClock()
    for event_ms, seen_at in observations:
        clock.observe(0, event_ms, seen_at)
    assert clock.now(0, wall) == expected
    assert clock.now(1, wall) == wall  # partitions are independent


def test_latest_event_time_and_forgetting_a_partition():
    clock = PartitionClock()
    assert clock.latest(0) is None
    clock.observe(0, 4_000, BACKLOG)
    clock.observe(0, 1_000, BACKLOG + 100)  # older: the latest stays
    assert clock.latest(0) == 4_000
    clock.forget(0)
    assert (clock.latest(0), clock.now(0, 7_000)) == (None, 7_000)
