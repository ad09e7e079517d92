"""The one-pass worker on the real stack: two workers sharing the partitions through
rebalances, and a restart after downtime that decides the backlog by event time."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from complaintflow import stack
from complaintflow.config import Settings, settings_env
from complaintflow.services import start_services
from streams import topics
from tests.conftest import eventually, post_events
from tests.test_sla_integration import TopicReader, first_response, received

pytestmark = pytest.mark.integration
# Events queued while the worker is down, ahead of the ones that decide the clocks: enough
# for the worker to take several batches (and timer ticks) before it reaches them.
BACKLOG = 60_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _start_second_worker(settings: Settings, state_dir: Path) -> None:
    """Another worker in the same group, with its own state directory (its own RocksDB)."""
    env = {**settings_env(replace(settings, state_dir=state_dir))}
    stack.spawn_service(settings.state_dir, "worker-2",
                        [sys.executable, "-m", "complaintflow.cli", "worker"], env=env)
    stack.wait_for_log(settings.state_dir, "worker-2", "[^Worker]: Ready", timeout=90)


def _breaches(settings: Settings, reader: TopicReader, count: int) -> list[int]:
    """Post ``count`` urgent VIP tickets (2 s first response); the ms each breach arrived
    after its deadline, whichever worker owns the ticket."""
    start = _now_ms()
    tickets = [f"SCALE-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    assert post_events(settings, [received(t, start) for t in tickets])[0] == 202
    lateness = []
    for ticket in tickets:
        breach, arrived = reader.wait_for(ticket, "sla.breached", timeout=60)
        assert breach.data["deadline"] == start + 2_000
        lateness.append(arrived - breach.data["deadline"])
    return lateness


def test_two_workers_share_the_partitions_and_breaches_stay_live_through_rebalances(
        local_stack: Settings, tmp_path: Path):
    reader = TopicReader(local_stack, topics.SLA.name)
    try:
        _start_second_worker(local_stack, tmp_path / "second")
        log = local_stack.state_dir / "logs" / "worker-2.log"
        eventually(lambda: "recovered" in log.read_text(errors="replace"), timeout=60)
        # Enough tickets that every partition has some, whichever worker owns it.
        assert max(_breaches(local_stack, reader, 12)) <= 1_000
        # A ticket whose clock started on one worker breaches live on the other after the
        # partitions move back when the second worker leaves.
        pending = f"SCALE-move-{uuid.uuid4().hex[:6]}"
        start = _now_ms()
        post_events(local_stack, [received(pending, start, priority="urgent",
                                           customer_tier="regular")])  # 2 min: still running
        reader.wait_for(pending, "sla.started")
    finally:
        stack.stop_service(local_stack.state_dir, "worker-2")
    # Posted while the group rebalances: late by the rebalance at most, none lost; then live.
    assert max(_breaches(local_stack, reader, 8)) <= 15_000
    assert max(_breaches(local_stack, reader, 8)) <= 1_000
    post_events(local_stack, [first_response(pending, start + 30_000)])
    met, _ = reader.wait_for(pending, "sla.met", timeout=60)
    assert met.data["elapsed_business_seconds"] == 30
    reader.close()


def test_a_restart_after_downtime_decides_the_backlog_by_event_time(local_stack: Settings):
    reader = TopicReader(local_stack, topics.SLA.name)
    tickets = [f"DOWN-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    start = _now_ms()
    assert post_events(local_stack, [received(t, start) for t in tickets])[0] == 202
    for ticket in tickets:
        reader.wait_for(ticket, "sla.started")
    stack.stop_service(local_stack.state_dir, "worker")
    # While no worker runs, a backlog builds up (other tickets, on every partition) ...
    for chunk in range(BACKLOG // 500):
        filler = [received(f"DOWN-fill-{chunk}-{n}-{uuid.uuid4().hex[:6]}", start,
                           priority="low", customer_tier="regular") for n in range(500)]
        assert post_events(local_stack, filler)[0] == 202
    # ... behind which each ticket gets its first response in time (1 s of 2 s) ...
    assert post_events(local_stack, [first_response(t, start + 1_000) for t in tickets])[0] \
        == 202
    time.sleep(max(0.0, (start + 4_000 - _now_ms()) / 1000))  # ... and the deadlines pass.
    start_services(local_stack, names=("worker",))
    for ticket in tickets:
        met, _ = reader.wait_for(ticket, "sla.met", timeout=60)
        assert met.data["elapsed_business_seconds"] == 1
    time.sleep(1.0)
    said = [(e.ticket_id, e.event_type) for e, _ in reader.poll() if e.ticket_id in tickets]
    # No breach announced on the wall clock before the backlog was read, so none retracted.
    assert not [kind for _, kind in said if kind in ("sla.breached", "sla.breach_retracted")]
    # And the worker read the whole backlog without leaving its group (one join, no other).
    process = stack.status(local_stack.state_dir)["processes"]["worker"]
    own_lines = [line for line in Path(process["log"]).read_text(errors="replace").splitlines()
                 if f"] [{process['pid']}] " in line]
    assert sum("Joined group" in line for line in own_lines) == 1
    reader.close()
