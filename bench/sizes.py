"""How big each measurement runs at --size tiny / small / full, and the options of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Size:
    name: str
    # P1: simulated tickets pre-loaded; None = calibrate so the pipeline runs >= 60 s.
    throughput_tickets: int | None
    # P2: steady input rates (events/s; the goal is for the first) and how long each runs.
    freshness_rates: tuple[int, ...]
    freshness_seconds: tuple[float, ...]
    sla_open_tickets: int  # P3: open tickets in the deadline index (pure and live)
    sla_window_seconds: float  # P3: deadlines come due over this span
    replay_events: int  # P4: input events in the log to rebuild from
    dashboard_events: int  # P5: rows in complaint_events
    dashboard_runs: int  # P5: runs per query for its p95
    memory_tickets: int  # P6: tickets in the worker's state
    timeout_s: float  # bound on each wait of a measurement


SIZES: dict[str, Size] = {
    "tiny": Size("tiny", throughput_tickets=250, freshness_rates=(200,),
                 freshness_seconds=(3,), sla_open_tickets=5_000, sla_window_seconds=3,
                 replay_events=5_000, dashboard_events=100_000, dashboard_runs=5,
                 memory_tickets=5_000, timeout_s=60),
    "small": Size("small", throughput_tickets=3_000, freshness_rates=(1_000, 250),
                  freshness_seconds=(15, 15), sla_open_tickets=100_000, sla_window_seconds=15,
                  replay_events=100_000, dashboard_events=1_000_000, dashboard_runs=10,
                  memory_tickets=100_000, timeout_s=300),
    "full": Size("full", throughput_tickets=None, freshness_rates=(1_000, 250),
                 freshness_seconds=(60, 30), sla_open_tickets=100_000, sla_window_seconds=30,
                 replay_events=1_000_000, dashboard_events=10_000_000, dashboard_runs=20,
                 memory_tickets=1_000_000, timeout_s=600),
}


@dataclass(frozen=True)
class Options:
    size: Size
    # Faust settings applied on top of the project's app (worker and Faust ceiling).
    worker_settings: dict[str, Any] = field(default_factory=dict)
