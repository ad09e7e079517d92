"""Pinned calendars on the real stack: a worker restarted on a new policy keeps running clocks
on the calendar they started on, and one that cannot serve them refuses to run."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from complaintflow import stack
from complaintflow.config import Settings, settings_env
from complaintflow.processes import wait_until
from complaintflow.services import start_services
from streams import topics
from streams.sla.registry import read_pinned_calendars
from tests.conftest import post_events
from tests.test_sla_integration import TopicReader, first_response, received

pytestmark = pytest.mark.integration

# Calendar and target names differ from the fast policy's; the "office" calendar is open
# 00:00-23:59 UTC every day, so its fingerprint is new.
NEW_POLICY = """\
version: "test-pinned-2"
calendars:
  office:
    type: business
    timezone: UTC
    hours: {mon: ["00:00-23:59"], tue: ["00:00-23:59"], wed: ["00:00-23:59"],
            thu: ["00:00-23:59"], fri: ["00:00-23:59"], sat: ["00:00-23:59"],
            sun: ["00:00-23:59"]}
targets:
  first_response: {default: {target: 1h, calendar: office}}
  next_response: {default: {target: 2h, calendar: office}}
  resolution: {default: {target: 24h, calendar: office}}
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _restart_worker(settings: Settings) -> None:
    stack.stop_service(settings.state_dir, "worker")
    start_services(settings, names=("worker",))


def test_running_clocks_keep_their_calendar_across_a_policy_change(local_stack: Settings,
                                                                   tmp_path: Path):
    reader = TopicReader(local_stack, topics.SLA.name)
    old_ticket = f"PIN-old-{uuid.uuid4().hex[:6]}"
    start = _now_ms()
    assert post_events(local_stack, received(old_ticket, start, customer_tier="regular"))[0] \
        == 202  # urgent, regular: first response 2 min on the fast policy's 24x7
    started, _ = reader.wait_for(old_ticket, "sla.started")
    assert (started.data["calendar"], started.data["target_seconds"]) == ("24x7", 120)
    pinned = started.data["calendar_fingerprint"]

    policy_file = tmp_path / "new-policy.yaml"
    policy_file.write_text(NEW_POLICY, encoding="utf-8")
    on_new_policy = replace(local_stack, sla_policy=policy_file)
    try:
        _restart_worker(on_new_policy)
        # The old clock is still measured on 24x7 (the new policy has no such calendar).
        post_events(local_stack, first_response(old_ticket, start + 60_000))
        met, _ = reader.wait_for(old_ticket, "sla.met")
        assert (met.data["calendar"], met.data["calendar_fingerprint"]) == ("24x7", pinned)
        assert met.data["deadline"] == start + 120_000
        # A ticket received now starts on the new policy, and its calendar is in the log.
        new_ticket = f"PIN-new-{uuid.uuid4().hex[:6]}"
        post_events(local_stack, received(new_ticket, _now_ms()))
        fresh, _ = reader.wait_for(new_ticket, "sla.started")
        assert (fresh.data["calendar"], fresh.data["policy_version"]) == ("office",
                                                                          "test-pinned-2")
        assert fresh.data["calendar_fingerprint"] in read_pinned_calendars(
            local_stack.kafka_bootstrap)
    finally:
        _restart_worker(local_stack)


def test_a_worker_refuses_a_policy_that_cannot_serve_its_running_clocks(local_stack: Settings,
                                                                        tmp_path: Path):
    reader = TopicReader(local_stack, topics.SLA.name)
    ticket = f"PIN-lost-{uuid.uuid4().hex[:6]}"
    post_events(local_stack, received(ticket, _now_ms(), customer_tier="regular"))
    reader.wait_for(ticket, "sla.started")  # running clocks pinned to the fast policy's 24x7
    policy_file = tmp_path / "new-policy.yaml"
    policy_file.write_text(NEW_POLICY, encoding="utf-8")
    stack.stop_service(local_stack.state_dir, "worker")
    _lose_the_calendar_registry(local_stack)
    # Posted while no worker runs: the refused worker must leave it to the next one.
    waiting = f"PIN-wait-{uuid.uuid4().hex[:6]}"
    post_events(local_stack, received(waiting, _now_ms(), customer_tier="regular"))
    try:
        stack.spawn_service(local_stack.state_dir, "worker",
                            [sys.executable, "-m", "complaintflow.cli", "worker"],
                            env=settings_env(replace(local_stack, sla_policy=policy_file)))
        record = stack.status(local_stack.state_dir)["processes"]["worker"]
        wait_until(lambda: not stack.status(local_stack.state_dir)["processes"]["worker"][
            "alive"], 120, "the worker to refuse the policy and exit")
        log = Path(record["log"]).read_text(errors="replace")
        assert "cannot serve running clocks" in log
        assert "24x7 (" in log and "test-pinned-2" in log
        assert "worker stopped:" in log
    finally:
        stack.stop_service(local_stack.state_dir, "worker")
        # The fast policy publishes its calendars again, so every running clock is served.
        start_services(local_stack, names=("worker",))
    started, _ = reader.wait_for(waiting, "sla.started")
    assert (started.data["calendar"], started.data["policy_version"]) == ("24x7", "test-fast-1")
    assert [e for e, _ in reader.poll() if e.ticket_id == waiting and
            e.data.get("policy_version") == "test-pinned-2"] == []


def _lose_the_calendar_registry(settings: Settings) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.delete_topics([topics.SLA_CALENDARS.name])
        wait_until(lambda: topics.SLA_CALENDARS.name not in admin.list_topics(), 30,
                   "the calendar topic to be deleted")
        admin.create_topics([NewTopic(topics.SLA_CALENDARS.name, 1, 1,
                                      topic_configs={"cleanup.policy": "compact"})])
    finally:
        admin.close()
    assert read_pinned_calendars(settings.kafka_bootstrap) == {}
