"""`complaintflow demo`: the local stack with simulated traffic, ending in a KPI report."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from complaintflow import stack
from complaintflow.config import Settings, load_settings
from complaintflow.services import clickhouse_client, migrate_clickhouse, start_services
from complaintflow.simulator import DAY, Plan, SendResult, SimulationConfig, plan, send
from projections.report import format_report, kpi_report, reconciliation


def simulate_and_report_progress(settings: Settings, tickets: int, days: float,
                                 compression: float, seed: int) -> tuple[Plan, SendResult]:
    config = SimulationConfig(tickets=tickets, span_ms=int(days * DAY), seed=seed)
    sim_plan = plan(config, end_ms=int(time.time() * 1000))
    print(f"simulating {tickets} tickets over {days:g} days at {compression:.0f}x: "
          f"{sim_plan.unique_events} events, {len(sim_plan.sends)} posts with re-deliveries")
    result = send(sim_plan, settings.api_url, compression, settings.api_token,
                  progress=_progress_printer())
    rate = result.posted / max(result.wall_seconds, 1e-9)
    print(f"\nposted {result.posted} events in {result.wall_seconds:.1f}s ({rate:.0f} events/s)")
    return sim_plan, result


def _progress_printer():
    shown = {"decile": -1}

    def show(result: SendResult, fraction: float) -> None:
        line = f"  {fraction:6.1%} of simulated time, {result.posted} events posted"
        if sys.stdout.isatty():
            print("\r" + line, end="", flush=True)
        elif int(fraction * 10) > shown["decile"]:
            shown["decile"] = int(fraction * 10)
            print(line, flush=True)

    return show


def wait_until_projected(settings: Settings, expected_archived: int,
                         timeout: float = 180.0) -> dict:
    """Poll ClickHouse until every event is archived and each is applied or dead-lettered."""
    client = clickhouse_client(settings)
    deadline = time.monotonic() + timeout
    counts = reconciliation(client)
    while time.monotonic() < deadline:
        counts = reconciliation(client)
        if counts["archived"] >= expected_archived and counts["balanced"]:
            return counts
        time.sleep(1.0)
    return counts


def run_demo(state_dir: Path, tickets: int, days: float, seconds: float, keep: bool) -> int:
    started = time.monotonic()
    if not stack.status(state_dir)["running"]:
        # The demo's own stack starts empty each time: the stack keeps its archive across
        # `stack down` (and restores it), which would mix an earlier demo into this report.
        shutil.rmtree(state_dir, ignore_errors=True)
    try:
        print("starting the local stack (broker, ClickHouse, api, worker, projector)...")
        endpoints = stack.up(state_dir)
        settings = load_settings(state_dir=state_dir)
        migrate_clickhouse(settings)
        start_services(settings)
        print(f"  kafka {endpoints.kafka_bootstrap}, clickhouse "
              f"{endpoints.clickhouse_host}:{endpoints.clickhouse_port}, api {endpoints.api_url}")
        compression = days * DAY / 1000 / seconds
        sim_plan, result = simulate_and_report_progress(settings, tickets, days, compression,
                                                        seed=7)
        print("waiting for the processors and projections to catch up...")
        counts = wait_until_projected(settings, sim_plan.unique_events)
        print(format_report(kpi_report(clickhouse_client(settings))))
        return _print_reconciliation(sim_plan, result, counts, time.monotonic() - started)
    finally:
        if keep:
            print(f"the demo's stack keeps running: CF_STATE_DIR={state_dir} complaintflow "
                  f"report | stack status | stack down")
        else:
            stack.down(state_dir)


def _print_reconciliation(sim_plan: Plan, result: SendResult, counts: dict,
                          elapsed: float) -> int:
    expected_dead = len(sim_plan.invalid_event_ids)
    checks = [
        ("events accepted by the API (distinct)", len(result.accepted_ids),
         sim_plan.unique_events),
        ("archived in complaint_events", counts["archived"], sim_plan.unique_events),
        ("dead-lettered by the ticket processor", counts["dead_lettered"], expected_dead),
        ("applied to ticket state", counts["applied"], sim_plan.unique_events - expected_dead),
    ]
    print("\nReconciliation with the simulator")
    ok = True
    for label, seen, expected in checks:
        mark = "ok" if seen == expected else "MISMATCH"
        ok &= seen == expected
        print(f"  {label:<42} {seen:>8}  expected {expected:>8}  {mark}")
    redelivered = result.posted - len(result.accepted_ids)
    print(f"  {'re-deliveries posted (ignored as duplicates)':<42} {redelivered:>8}")
    print(f"\ndemo finished in {elapsed:.0f}s: {'all counts reconcile' if ok else 'MISMATCH'}")
    return 0 if ok else 1
