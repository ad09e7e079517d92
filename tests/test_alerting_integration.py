"""Breach notifications end to end: the local stack's SLA engine → the alert bridge → a real
Alertmanager → a webhook receiver in this test process."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from alerting.alertmanager import render_config
from alerting.alerts import REPLAY_HORIZON_MS, SLA_ALERTNAMES, epoch_ms
from alerting.bridge import AlertmanagerClient, BridgeStats, run_bridge
from complaintflow import stack
from complaintflow.config import Settings
from complaintflow.processes import free_loopback_ports
from schemas import serde
from schemas.event import Event
from streams import topics
from tests.conftest import eventually, post_events
from tests.test_alerts import sla
from tests.test_sla_integration import first_response, received

pytestmark = pytest.mark.integration

BREACH_TARGET_MS = 2_000  # urgent VIP first response in tests/data/sla_policy_fast.yaml


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Notified:
    alert: dict[str, Any]  # one alert of a webhook notification
    arrived_ms: int


class Webhook:
    """Alertmanager's webhook receiver: keeps every alert of every notification it gets."""

    def __init__(self) -> None:
        self.received: list[Notified] = []
        self._lock = threading.Lock()
        (port,) = free_loopback_ports(1)
        self.url = f"http://127.0.0.1:{port}/alerts"
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                arrived = now_ms()
                with webhook._lock:
                    webhook.received += [Notified(a, arrived) for a in body["alerts"]]
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:  # keep pytest's output clean
                pass

        return Handler

    def wait_for(self, ticket_id: str, alertname: str, status: str,
                 timeout: float = 30) -> Notified:
        def found() -> Notified | None:
            with self._lock:
                return next((n for n in self.received
                             if n.alert["labels"].get("ticket_id") == ticket_id
                             and n.alert["labels"]["alertname"] == alertname
                             and n.alert["status"] == status), None)
        return eventually(found, timeout=timeout, interval=0.02)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


class LocalAlertmanager:
    """A real Alertmanager whose webhook receiver is `webhook`, with 1 s group timings.
    Recorded under the stack's state dir, so `stack down` stops it too if a test dies."""

    def __init__(self, state_dir: Path, config: Path, webhook: Webhook) -> None:
        config.write_text(render_config(webhook.url, group_wait="1s", group_interval="1s"))
        self._state_dir, self._config = state_dir, config
        self.url = stack.start_alertmanager(state_dir, config)

    def stop(self) -> None:
        stack.stop_alertmanager(self._state_dir)

    def restart(self) -> None:
        """Start again on the same port (the bridge keeps its URL)."""
        port = int(self.url.rsplit(":", 1)[1])
        assert stack.start_alertmanager(self._state_dir, self._config, port=port) == self.url


@pytest.fixture
def local_alertmanager(local_stack: Settings, webhook: Webhook, tmp_path: Path
                       ) -> Iterator[LocalAlertmanager]:
    manager = LocalAlertmanager(local_stack.state_dir, tmp_path / "alertmanager.yml", webhook)
    yield manager
    manager.stop()


@pytest.fixture
def bridge(local_stack: Settings, local_alertmanager: LocalAlertmanager
           ) -> Iterator[BridgeStats]:
    stats, stop = BridgeStats(), threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            run_bridge(local_stack.kafka_bootstrap, local_alertmanager.url, stop,
                       group_id=f"alerting-test-{uuid.uuid4().hex[:6]}", stats=stats)
        except BaseException as exc:  # surfaced below, not lost in the thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="alert-bridge", daemon=True)
    thread.start()
    eventually(lambda: stats.partitions_assigned or failure, timeout=30, interval=0.1)
    assert not failure, failure
    yield stats
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive(), "the bridge did not stop within 15 s"
    assert not failure, failure


def test_breach_notifies_the_webhook_and_its_retraction_resolves_it(local_stack, webhook,
                                                                  bridge):
    ticket_id = f"ALERT-{uuid.uuid4().hex[:6]}"
    start = now_ms()
    assert post_events(local_stack, [received(ticket_id, start)])[0] == 202

    firing = webhook.wait_for(ticket_id, "SlaBreached", "firing")
    latency_ms = firing.arrived_ms - (start + BREACH_TARGET_MS)
    print(f"\nbreach notification reached the webhook {latency_ms} ms after the deadline")
    assert firing.alert["labels"] | {"ticket_id": ticket_id} == {
        "alertname": "SlaBreached", "ticket_id": ticket_id, "metric": "first_response",
        "cycle": "1", "priority": "urgent", "customer_tier": "vip", "category": "billing",
        "severity": "critical"}
    assert firing.alert["annotations"]["summary"] == \
        f"first response of ticket {ticket_id} (urgent, VIP) breached its 2 s target"
    # 1 s group_wait on top of the engine's sub-second breach; generous for a busy machine.
    assert latency_ms < 5_000

    # The agent answered at +1 s, but the event only arrives now: the breach is retracted.
    answered = now_ms()
    assert post_events(local_stack, [first_response(ticket_id, start + 1_000)])[0] == 202
    resolved = webhook.wait_for(ticket_id, "SlaBreached", "resolved")
    print(f"resolved notification {resolved.arrived_ms - answered} ms after the late response")
    assert resolved.alert["labels"] == firing.alert["labels"]
    assert "retracted the breach" in resolved.alert["annotations"]["summary"]
    assert bridge.alerts_sent >= 2


def test_a_late_response_resolves_the_breach_and_the_at_risk_alert(local_stack, webhook,
                                                                   local_alertmanager, bridge):
    ticket_id = f"ALERT-late-{uuid.uuid4().hex[:6]}"
    client = AlertmanagerClient(local_alertmanager.url)

    def held() -> dict[str, dict[str, Any]]:
        """The ticket's alerts Alertmanager still holds, by alertname."""
        return {a["labels"]["alertname"]: a for a in client.active_alerts(SLA_ALERTNAMES)
                if a["labels"]["ticket_id"] == ticket_id}

    start = now_ms()
    assert post_events(local_stack, [received(ticket_id, start)])[0] == 202
    firing = webhook.wait_for(ticket_id, "SlaBreached", "firing")
    # Both alerts of the clock (the breach inhibits the at-risk one), held far beyond
    # Alertmanager's 5 min resolve_timeout: only the event that resolves them ends them.
    eventually(lambda: held().keys() == set(SLA_ALERTNAMES), timeout=10, interval=0.1)
    assert all(epoch_ms(a["endsAt"]) > now_ms() + 24 * 3600 * 1000 for a in held().values())

    # The agent answers only now, well after the 2 s deadline: the breach stands, the clock
    # stops, and sla.stopped resolves both alerts.
    answered = now_ms()
    assert post_events(local_stack, [first_response(ticket_id, answered)])[0] == 202
    resolved = webhook.wait_for(ticket_id, "SlaBreached", "resolved")
    print(f"\nresolved notification {resolved.arrived_ms - answered} ms after the late response")
    assert resolved.alert["labels"] == firing.alert["labels"]
    assert resolved.alert["annotations"]["summary"].endswith("past its 2 s target")
    eventually(lambda: not held(), timeout=10, interval=0.1)


def test_breach_while_alertmanager_is_down_is_notified_once_it_is_back(local_stack, webhook,
                                                                      local_alertmanager,
                                                                      bridge):
    local_alertmanager.stop()
    ticket_id = f"ALERT-down-{uuid.uuid4().hex[:6]}"
    start = now_ms()
    assert post_events(local_stack, [received(ticket_id, start)])[0] == 202
    # The bridge has the breach but cannot post it: it rewinds and backs off, uncommitted.
    failed_before = bridge.unreachable
    eventually(lambda: bridge.unreachable > failed_before and now_ms() > start + 3_000,
               timeout=30, interval=0.1)

    local_alertmanager.restart()
    back = now_ms()
    firing = webhook.wait_for(ticket_id, "SlaBreached", "firing")
    print(f"\nbreach notified {firing.arrived_ms - back} ms after Alertmanager was back "
          f"({bridge.unreachable - failed_before} failed posts meanwhile)")
    assert firing.alert["labels"]["severity"] == "critical"


def _announce(bootstrap: str, records: list[tuple[Event, int | None]]) -> None:
    """Produce sla.* events to one partition of complaints.sla, in order, each with its record
    timestamp (None: CreateTime now, as the SLA worker's); one record per batch
    (docs/local-stack.md)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    try:
        for sla_event, timestamp_ms in records:
            producer.send(topics.SLA.name, key=sla_event.ticket_id.encode(),
                          value=serde.encode(sla_event), partition=0,
                          timestamp_ms=timestamp_ms).get(timeout=10)
    finally:
        producer.close()


def test_an_old_breach_fires_when_announced_now_but_not_from_an_old_record(
        local_stack, webhook, local_alertmanager, bridge):
    suffix = uuid.uuid4().hex[:6]
    replayed, caught_up = f"ALERT-replay-{suffix}", f"ALERT-catchup-{suffix}"
    client = AlertmanagerClient(local_alertmanager.url)
    # Both breaches are dated at a deadline 6 h ago, tickets still open. One record was
    # announced 6 h ago (history a new consumer group reads); the other a worker announces
    # now, catching up after an outage.
    deadline = now_ms() - REPLAY_HORIZON_MS - 2 * 3600 * 1000
    overdue = {"at": deadline, "deadline": deadline}
    _announce(local_stack.kafka_bootstrap, [
        (sla("sla.breached", replayed, **overdue), deadline + 1_000),
        (sla("sla.breached", caught_up, **overdue), None),
    ])
    firing = webhook.wait_for(caught_up, "SlaBreached", "firing")
    assert epoch_ms(firing.alert["startsAt"]) == deadline  # Alertmanager trims trailing zeros
    # The replayed record came first on the same partition and fired nothing.
    held = {a["labels"]["ticket_id"] for a in client.active_alerts(SLA_ALERTNAMES)}
    assert caught_up in held and replayed not in held
    assert not [n for n in webhook.received if n.alert["labels"]["ticket_id"] == replayed]

    # The late stop, even from a record announced long ago, resolves what fired.
    _announce(local_stack.kafka_bootstrap, [
        (sla("sla.stopped", caught_up, outcome="breached", **overdue), deadline + 2_000)])
    resolved = webhook.wait_for(caught_up, "SlaBreached", "resolved")
    assert resolved.alert["labels"] == firing.alert["labels"]
