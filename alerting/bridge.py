"""The alert bridge: `complaints.sla` → Alertmanager's `POST /api/v2/alerts`, at least once.

Loop: poll, map each sla.* event to its alerts (alerting.alerts; the record's timestamp says
when the event was announced, which decides whether it may still fire), post the batch, and
commit the offsets only once Alertmanager accepted it. When Alertmanager cannot be reached the
consumer rewinds to its committed offsets and backs off, so the same events are posted again
later; a re-posted alert has the same labels (and, from the same record, the same times), and
Alertmanager notifies about it once.

Alerts that Alertmanager refuses (HTTP 4xx) are logged, counted and skipped: posting the same
alerts again cannot succeed, and holding them would stop every later notification.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from prometheus_client import Counter

from alerting.alerts import (
    SLA_ALERTNAMES,
    ActiveAlerts,
    Alert,
    alerts_for,
    is_resolution,
    postable,
)
from schemas import serde
from streams import topics
from streams.consuming import committing_consumer, rewind_to_committed

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 100
MAX_BATCH = 500
HTTP_TIMEOUT_S = 2.0
# Timeout plus the longest back-off stays under max_poll_interval_ms, so the group keeps us.
RETRY_BACKOFF_S = (0.5, 1.0, 2.0)

ALERTS_SENT = Counter("complaintflow_alerts_sent_total",
                      "Alerts Alertmanager accepted, by alertname and state (firing/resolved)",
                      ["alertname", "state"])
POST_FAILURES = Counter("complaintflow_alert_post_failures_total",
                        "Posts to Alertmanager that failed: unreachable (retried) or rejected "
                        "(skipped)", ["reason"])
UNREACHABLE, REJECTED = "unreachable", "rejected"  # reasons of POST_FAILURES
UNDECODABLE = Counter("complaintflow_alert_undecodable_total",
                      "complaints.sla messages the alert bridge could not decode (skipped)")


def _series_start_at_zero() -> None:
    """Create the labelled series at 0, so rate() and increase() see their first increment."""
    for alertname in SLA_ALERTNAMES:
        for state in ("firing", "resolved"):
            ALERTS_SENT.labels(alertname, state)
    for reason in (UNREACHABLE, REJECTED):
        POST_FAILURES.labels(reason)


_series_start_at_zero()


class AlertmanagerUnavailable(RuntimeError):
    """Alertmanager did not answer, or answered 5xx: worth retrying."""


class AlertsRejected(RuntimeError):
    """Alertmanager refused the alerts (4xx): retrying the same alerts cannot help."""


class AlertmanagerClient:
    """Alertmanager's API v2 over urllib."""

    def __init__(self, url: str, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s

    def post(self, alerts: list[Alert]) -> None:
        self._call(urllib.request.Request(
            f"{self.url}/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST",
            headers={"Content-Type": "application/json"}))

    def active_alerts(self, alertnames: tuple[str, ...]) -> list[Alert]:
        """Alerts still active (inhibited and silenced included) with one of these names."""
        query = urllib.parse.urlencode({"filter": f'alertname=~"{"|".join(alertnames)}"',
                                        "active": "true", "inhibited": "true",
                                        "silenced": "true", "unprocessed": "true"})
        return json.loads(self._call(urllib.request.Request(f"{self.url}/api/v2/alerts?{query}")))

    def _call(self, request: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            if 400 <= exc.code < 500:
                raise AlertsRejected(f"HTTP {exc.code}: {detail}") from exc
            raise AlertmanagerUnavailable(f"HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out
            raise AlertmanagerUnavailable(f"{self.url}: {exc}") from exc


@dataclass
class BridgeStats:
    """What one bridge has done, readable from Python (tests, demo)."""

    records: int = 0  # records committed
    alerts_sent: int = 0
    alerts_rejected: int = 0
    unreachable: int = 0  # failed posts, retried
    undecodable: int = 0
    commit_failures: int = 0
    partitions_assigned: int = 0


def consumer_for(bootstrap: str, group_id: str) -> KafkaConsumer:
    # A new group replays the topic; what it reads long after it was announced fires nothing.
    return committing_consumer(bootstrap, [topics.SLA.name], group_id)


class AlertBridge:
    """One poll → map → post → commit step at a time; run_bridge drives it."""

    def __init__(self, consumer: KafkaConsumer, alertmanager: AlertmanagerClient,
                 stats: BridgeStats, clock: Callable[[], float] = time.time) -> None:
        self._consumer = consumer
        self._alertmanager = alertmanager
        self._stats = stats
        self._clock = clock
        # What fired, read from Alertmanager on first contact and after every rebalance: the
        # partitions this bridge now owns may have fired alerts through another instance.
        self._active: ActiveAlerts | None = None
        self._assignment: set = set()
        self._failures_in_a_row = 0

    def step(self) -> float:
        """Poll once and post what came; return how long to back off (0 when all is well)."""
        polled = self._consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=MAX_BATCH)
        self._note_assignment(set(self._consumer.assignment()))
        records = [record for batch in polled.values() for record in batch]
        if not records:
            return 0.0
        now_ms = int(self._clock() * 1000)
        alerts = [alert for record in records for alert in self._alerts(record, now_ms)]
        try:
            self._post(alerts, now_ms)
        except AlertmanagerUnavailable as exc:
            return self._retry_later(exc)
        self._failures_in_a_row = 0
        self._commit(len(records))
        return 0.0

    def _note_assignment(self, assignment: set) -> None:
        if assignment != self._assignment:
            self._assignment = assignment
            self._active = None
        self._stats.partitions_assigned = len(assignment)

    def _alerts(self, record: ConsumerRecord, now_ms: int) -> list[Alert]:
        try:
            event = serde.decode(record.value)
        except serde.DecodeError as exc:
            # The projector dead-letters these; the bridge has nothing to say about them.
            log.warning("skipping %s[%d]@%d: %s", record.topic, record.partition,
                        record.offset, exc)
            UNDECODABLE.inc()
            self._stats.undecodable += 1
            return []
        # The record's timestamp (CreateTime: when the SLA worker produced it; -1 when unknown)
        # dates the announcement; a breach dated at its deadline may be announced much later.
        return alerts_for(event, now_ms, record.timestamp)

    def _post(self, alerts: list[Alert], now_ms: int) -> None:
        if not alerts:
            return
        # Plan on a copy: if the post fails, the same records come again and must find what
        # had fired as it was.
        active = (self._active or self._read_active(now_ms)).copy()
        posts = active.to_post(alerts, now_ms)
        if posts:
            self._send(posts)
        self._active = active

    def _send(self, posts: list[Alert]) -> None:
        try:
            self._alertmanager.post(posts)
        except AlertsRejected as exc:
            log.error("Alertmanager refused %d alerts, skipping them: %s", len(posts), exc)
            POST_FAILURES.labels(REJECTED).inc()
            self._stats.alerts_rejected += len(posts)
            return
        for alert in posts:
            state = "resolved" if is_resolution(alert) else "firing"
            ALERTS_SENT.labels(alert["labels"]["alertname"], state).inc()
        self._stats.alerts_sent += len(posts)

    def _read_active(self, now_ms: int) -> ActiveAlerts:
        """The SLA alerts Alertmanager holds: fired before this bridge restarted, or by the
        instance that owned these partitions before the last rebalance."""
        active = ActiveAlerts()
        for alert in self._alertmanager.active_alerts(SLA_ALERTNAMES):
            active.remember(postable(alert))
        active.forget_ended(now_ms)
        return active

    def _commit(self, records: int) -> None:
        try:
            self._consumer.commit()
        except KafkaError as exc:
            # A rebalance took partitions away: their new owner posts those alerts again,
            # which Alertmanager de-duplicates.
            self._stats.commit_failures += 1
            log.warning("offset commit failed, the batch will be posted again: %s", exc)
            return
        self._stats.records += records

    def _retry_later(self, exc: AlertmanagerUnavailable) -> float:
        log.error("Alertmanager unavailable, posting again from the last commit: %s", exc)
        POST_FAILURES.labels(UNREACHABLE).inc()
        self._stats.unreachable += 1
        rewind_to_committed(self._consumer)
        backoff = RETRY_BACKOFF_S[min(self._failures_in_a_row, len(RETRY_BACKOFF_S) - 1)]
        self._failures_in_a_row += 1
        return backoff


def run_bridge(bootstrap: str, alertmanager_url: str,
               stop_event: threading.Event | None = None,
               group_id: str = "complaintflow-alerting", *,
               stats: BridgeStats | None = None) -> BridgeStats:
    """Post alerts for `complaints.sla` until stop_event is set (forever without one).

    Pass `stats` to watch progress from another thread.
    """
    stop_event = stop_event or threading.Event()
    stats = stats if stats is not None else BridgeStats()
    consumer = consumer_for(bootstrap, group_id)
    bridge = AlertBridge(consumer, AlertmanagerClient(alertmanager_url), stats)
    try:
        while not stop_event.is_set():
            backoff = bridge.step()
            if backoff:
                stop_event.wait(backoff)
    finally:
        consumer.close(autocommit=False)
    return stats
