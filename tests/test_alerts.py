"""sla.* events → Alertmanager alerts, and the bridge's post/commit/retry logic, without servers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from alerting.alerts import (
    FIRING_BACKSTOP_MS,
    REPLAY_HORIZON_MS,
    ActiveAlerts,
    Alert,
    alerts_for,
    human_duration,
    rfc3339,
)
from alerting.bridge import (
    AlertBridge,
    AlertmanagerUnavailable,
    AlertsRejected,
    BridgeStats,
)
from schemas import serde
from schemas.event import Event
from streams.sla.clock import advance, on_ticket_state
from streams.sla.policy import load_policy
from streams.tickets.model import evolve, state_changed_event
from tests.factories import T0, event

FAST_POLICY = load_policy(Path(__file__).parent / "data" / "sla_policy_fast.yaml")
NOW = T0 + 60_000
DEADLINE = T0 + 2_000
URGENT_VIP = {"team": "billing-l1", "priority": "urgent", "customer_tier": "vip",
              "category": "billing"}


def sla(event_type: str, ticket_id: str = "T-1", *, at: int = DEADLINE,
        threshold: float | None = None, **data: Any) -> Event:
    fields = {"metric": "first_response", "cycle": 1, "policy_version": "p-7",
              "calendar": "24x7", "target_seconds": 2, "deadline": DEADLINE,
              "elapsed_business_seconds": 2, "threshold": threshold, "reason": None,
              **URGENT_VIP, **data}
    return Event(event_id=f"{ticket_id}:{event_type}", event_type=event_type,
                 ticket_id=ticket_id, occurred_at=at, schema_version=1, data=fields,
                 source="sla")


def alert_for(source: Event, now_ms: int = NOW) -> Alert:
    """The one alert an event fires or resolves."""
    (alert,) = alerts_for(source, now_ms)
    return alert


def labels(alertname: str, severity: str, **overrides: str | None) -> dict[str, str]:
    base = {"alertname": alertname, "ticket_id": "T-1", "metric": "first_response",
            "cycle": "1", **URGENT_VIP, "severity": severity, **overrides}
    return {k: v for k, v in base.items() if v is not None}


# ---------------------------------------------------------------- which event, which alert


@pytest.mark.parametrize(("case", "source", "expected_labels", "firing"), [
    ("breach of an urgent VIP ticket",
     sla("sla.breached"), labels("SlaBreached", "critical"), True),
    ("breach of an urgent regular ticket",
     sla("sla.breached", customer_tier="regular"),
     labels("SlaBreached", "critical", customer_tier="regular"), True),
    ("breach of a normal VIP ticket",
     sla("sla.breached", priority="normal"),
     labels("SlaBreached", "critical", priority="normal"), True),
    ("breach of a normal regular ticket",
     sla("sla.breached", priority="normal", customer_tier="regular"),
     labels("SlaBreached", "warning", priority="normal", customer_tier="regular"), True),
    ("breach of an unassigned ticket: no team label",
     sla("sla.breached", team=None, category=""),
     labels("SlaBreached", "critical", team=None, category=None), True),
    ("warning at 80%", sla("sla.warning", threshold=0.8), labels("SlaAtRisk", "info"), True),
    ("warning at 90%", sla("sla.warning", threshold=0.9), labels("SlaAtRisk", "info"), True),
    ("breach retracted", sla("sla.breach_retracted"), labels("SlaBreached", "critical"), False),
    ("met", sla("sla.met"), labels("SlaAtRisk", "info"), False),
])
def test_sla_events_fire_or_resolve_alerts(case: str, source: Event,
                                           expected_labels: dict[str, str], firing: bool):
    alert = alert_for(source)
    assert alert["labels"] == expected_labels, case
    if firing:
        # Far ahead, beyond resolve_timeout: the event that resolves it ends it.
        assert alert["endsAt"] == rfc3339(source.occurred_at + FIRING_BACKSTOP_MS)
    else:
        assert (alert["endsAt"], "startsAt" in alert) == (rfc3339(NOW), False), case


@pytest.mark.parametrize("source", [
    sla("sla.warning", threshold=0.5),
    sla("sla.warning", threshold=0.79),
    sla("sla.paused", reason="pending_customer"),
    sla("sla.resumed", reason="pending_customer"),
    sla("sla.started"),
    event("complaint.received", ticket_id="T-1"),
], ids=lambda e: f"{e.event_type}@{e.data.get('threshold')}")
def test_other_events_concern_no_alert(source: Event):
    assert alerts_for(source, NOW) == []


def test_a_late_stop_resolves_the_breach_and_the_at_risk_alert_of_its_clock():
    stopped = sla("sla.stopped", at=DEADLINE + 298_000, elapsed_business_seconds=300,
                  outcome="breached")
    alerts = alerts_for(stopped, NOW)
    assert [a["labels"] for a in alerts] == [labels("SlaBreached", "critical"),
                                             labels("SlaAtRisk", "info")]
    assert all((a["endsAt"], "startsAt" in a) == (rfc3339(NOW), False) for a in alerts)
    assert {a["annotations"]["summary"] for a in alerts} == {
        "first response of ticket T-1 (urgent, VIP) stopped after 5 min, past its 2 s target"}


def test_breach_starts_at_its_deadline_and_says_what_happened():
    alert = alert_for(sla("sla.breached", at=DEADLINE + 40))
    assert alert["startsAt"] == "2025-11-23T00:00:02.000Z"
    assert alert["annotations"] == {
        "summary": "first response of ticket T-1 (urgent, VIP) breached its 2 s target",
        "deadline": "2025-11-23T00:00:02.000Z", "elapsed_business_seconds": "2",
        "target_seconds": "2", "calendar": "24x7", "policy_version": "p-7",
        "sla_event_id": "T-1:sla.breached"}


@pytest.mark.parametrize(("source", "summary"), [
    (sla("sla.warning", threshold=0.8, metric="resolution", cycle=2, target_seconds=86_400,
         priority="high", customer_tier="regular"),
     "resolution (cycle 2) of ticket T-1 (high, regular) has used 80% of its 1 d target"),
    (sla("sla.met", priority=None, customer_tier=None, target_seconds=1_800),
     "first response of ticket T-1 met its 30 min target"),
    (sla("sla.breach_retracted"), "first response of ticket T-1 (urgent, VIP) met its 2 s "
     "target after all: a late event retracted the breach"),
])
def test_summaries_read_as_sentences(source: Event, summary: str):
    assert alert_for(source)["annotations"]["summary"] == summary


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (2, "2 s"), (120, "2 min"), (5_400, "1 h 30 min"), (90_061, "1 d 1 h 1 min 1 s"),
])
def test_human_duration(seconds: int, text: str):
    assert human_duration(seconds) == text


@pytest.mark.parametrize(("replied_at", "resolved_by"), [
    # Dated before the 2 s deadline: the breach is retracted, then the target is met.
    (T0 + 1_000, [("SlaBreached", "sla.breach_retracted"), ("SlaAtRisk", "sla.met")]),
    # Dated after it: the one sla.stopped resolves both alerts of the clock.
    (T0 + 2_500, [("SlaBreached", "sla.stopped"), ("SlaAtRisk", "sla.stopped")]),
], ids=["retracted", "stopped late"])
def test_alerts_follow_the_real_sla_engine_through_a_live_breach_and_the_late_response(
        replied_at: int, resolved_by: list[tuple[str, str]]):
    received = event("complaint.received", ticket_id="T-9", at=T0, priority="urgent",
                     customer_tier="vip")
    ticket = evolve(None, received)
    state, started = on_ticket_state(None, state_changed_event(ticket, received), FAST_POLICY, 0)
    state, due = advance(state, T0 + 3_000, FAST_POLICY)
    reply = event("ticket.first_response_sent", ticket_id="T-9", at=replied_at)
    ticket = evolve(ticket, reply)
    _, late = on_ticket_state(state, state_changed_event(ticket, reply), FAST_POLICY, 0)

    def fired(events: list[Event]) -> list[tuple[str, str, bool]]:
        alerts = [a for e in events for a in alerts_for(e, NOW)]
        return [(a["labels"]["alertname"], a["labels"]["metric"], "startsAt" in a)
                for a in alerts]

    assert fired(started) == []
    assert fired(due) == [("SlaAtRisk", "first_response", True),
                          ("SlaBreached", "first_response", True)]
    assert fired(late) == [(name, "first_response", False) for name, _ in resolved_by]
    resolutions = [a for e in late for a in alerts_for(e, NOW)]
    assert [(a["labels"]["alertname"], a["annotations"]["sla_event_id"].split(":")[3])
            for a in resolutions] == resolved_by
    # Through ActiveAlerts, every alert that fired is resolved and none is left.
    active = ActiveAlerts()
    active.to_post([a for e in due for a in alerts_for(e, NOW)], NOW)
    assert len(active.to_post(resolutions, NOW)) == 2
    assert len(active) == 0


# ---------------------------------------------------------------- labels alerts fired with


def test_resolution_uses_the_labels_the_alert_fired_with():
    active = ActiveAlerts()
    breach = alert_for(sla("sla.breached", team=None), NOW)
    # Assigned to a team after the breach; the retraction carries the new team.
    retraction = alert_for(sla("sla.breach_retracted", team="billing-l2"), NOW)
    posts = active.to_post([breach, retraction], NOW)
    assert posts[1]["labels"] == breach["labels"]
    assert posts[1]["endsAt"] == rfc3339(NOW)
    assert len(active) == 0


@pytest.mark.parametrize("source", [
    sla("sla.met"), sla("sla.breach_retracted"), sla("sla.stopped", outcome="breached"),
], ids=lambda e: e.event_type)
def test_resolution_of_an_alert_that_never_fired_is_not_posted(source: Event):
    # Alertmanager would put it, as "resolved", into its group's next notification.
    active = ActiveAlerts()
    assert active.to_post(alerts_for(source, NOW), NOW) == []
    # Nor when another alert of the clock fired: only that one resolves.
    active.to_post([alert_for(sla("sla.warning", threshold=0.8))], NOW)
    posts = active.to_post(alerts_for(source, NOW), NOW)
    assert [a["labels"]["alertname"] for a in posts] == (
        [] if source.event_type == "sla.breach_retracted" else ["SlaAtRisk"])


SIX_HOURS_AGO = NOW - 6 * 3600 * 1000  # beyond REPLAY_HORIZON_MS


def test_a_breach_dated_long_ago_but_announced_now_fires():
    # The worker was down for 6 h: catching up, its timer announces the breach now, dated at
    # the deadline 6 h ago, for a ticket still open.
    overdue = sla("sla.breached", at=SIX_HOURS_AGO, deadline=SIX_HOURS_AGO)
    (breach,) = alerts_for(overdue, NOW, announced_ms=NOW)
    assert breach["labels"] == labels("SlaBreached", "critical")
    assert (breach["startsAt"], breach["endsAt"]) == (
        rfc3339(SIX_HOURS_AGO), rfc3339(NOW + FIRING_BACKSTOP_MS))
    warning = sla("sla.warning", at=SIX_HOURS_AGO, threshold=0.9)
    assert [a["labels"]["alertname"] for a in alerts_for(warning, NOW, NOW)] == ["SlaAtRisk"]
    # Just inside the horizon still fires.
    assert alerts_for(overdue, NOW, NOW - REPLAY_HORIZON_MS) != []


def test_a_breach_announced_longer_ago_than_a_week_stands_a_week_from_its_announcement():
    # Its endsAt counts from the announcement, so it does not arrive already resolved.
    long_ago = NOW - 2 * FIRING_BACKSTOP_MS
    (breach,) = alerts_for(sla("sla.breached", at=long_ago, deadline=long_ago), NOW,
                           announced_ms=NOW - 1_000)
    assert breach["endsAt"] == rfc3339(NOW - 1_000 + FIRING_BACKSTOP_MS)
    active = ActiveAlerts()
    assert active.to_post([breach], NOW) == [breach]
    assert len(active) == 1


def test_a_record_from_an_old_stretch_of_the_log_fires_nothing_but_still_resolves():
    # E.g. a new consumer group reading old history, where these clocks have long stopped: the
    # records were announced 6 h ago, whatever their events say.
    assert alerts_for(sla("sla.breached", at=SIX_HOURS_AGO, deadline=SIX_HOURS_AGO), NOW,
                      announced_ms=SIX_HOURS_AGO) == []
    assert alerts_for(sla("sla.breached", at=NOW - 1_000, deadline=SIX_HOURS_AGO), NOW,
                      announced_ms=SIX_HOURS_AGO) == []
    assert alerts_for(sla("sla.warning", at=SIX_HOURS_AGO, threshold=0.9), NOW,
                      announced_ms=SIX_HOURS_AGO) == []
    assert alerts_for(sla("sla.breached"), NOW,
                      announced_ms=NOW - REPLAY_HORIZON_MS - 1) == []


@pytest.mark.parametrize("announced_ms", [None, -1], ids=["no timestamp", "timestamp -1"])
def test_without_a_record_timestamp_the_horizon_counts_from_the_event(announced_ms: int | None):
    long_ago = NOW - REPLAY_HORIZON_MS - 1
    assert alerts_for(sla("sla.breached", at=long_ago, deadline=long_ago), NOW,
                      announced_ms) == []
    (breach,) = alerts_for(sla("sla.breached", at=NOW - 1_000), NOW, announced_ms)
    assert breach["endsAt"] == rfc3339(NOW - 1_000 + FIRING_BACKSTOP_MS)


@pytest.mark.parametrize("stop_announced_ms", [NOW, SIX_HOURS_AGO],
                         ids=["stop announced now", "stop from an old record"])
def test_resolutions_of_alerts_that_fired_are_posted_however_old_their_record(
        stop_announced_ms: int):
    active = ActiveAlerts()
    overdue = sla("sla.breached", at=SIX_HOURS_AGO, deadline=SIX_HOURS_AGO)
    fired = active.to_post(alerts_for(overdue, NOW, announced_ms=NOW), NOW)
    assert [a["labels"]["alertname"] for a in fired] == ["SlaBreached"]
    stopped = sla("sla.stopped", at=SIX_HOURS_AGO, outcome="breached")
    posts = active.to_post(alerts_for(stopped, NOW, stop_announced_ms), NOW)
    assert [(a["labels"], a["endsAt"], "startsAt" in a) for a in posts] == [
        (fired[0]["labels"], rfc3339(NOW), False)]
    assert len(active) == 0
    # A retraction and a met from old records resolve what fired, too.
    active.to_post(alerts_for(overdue, NOW, NOW), NOW)
    active.to_post(alerts_for(sla("sla.warning", threshold=0.9), NOW, NOW), NOW)
    assert [a["labels"]["alertname"] for e in (sla("sla.breach_retracted"), sla("sla.met"))
            for a in active.to_post(alerts_for(e, NOW, SIX_HOURS_AGO), NOW)] == \
        ["SlaBreached", "SlaAtRisk"]
    assert len(active) == 0


def test_a_breach_dated_long_after_its_deadline_still_fires():
    # A reclassification made the breach overdue: it starts at the deadline, and its backstop
    # counts from the event.
    long_ago = NOW - 10 * FIRING_BACKSTOP_MS
    breach = alert_for(sla("sla.breached", at=NOW - 1_000, deadline=long_ago))
    assert (breach["startsAt"], breach["endsAt"]) == (
        rfc3339(long_ago), rfc3339(NOW - 1_000 + FIRING_BACKSTOP_MS))
    active = ActiveAlerts()
    assert active.to_post([breach], NOW) == [breach]


def test_a_firing_alert_stands_until_resolved_or_its_backstop():
    active = ActiveAlerts()
    active.to_post([alert_for(sla("sla.breached"))], NOW)
    active.forget_ended(DEADLINE + 4 * 3600 * 1000 + 1)  # the old 4 h lifetime ends nothing
    assert len(active) == 1
    active.forget_ended(DEADLINE + FIRING_BACKSTOP_MS)
    assert len(active) == 0


# ---------------------------------------------------------------- the bridge, with fakes


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp: int = -1  # as kafka-python's ConsumerRecord: ms when produced; -1 unknown


@dataclass
class FakeConsumer:
    """Hands out its records from the current position, like one assigned partition."""

    records: list[Record]
    position: int = 0
    committed_at: int | None = None
    partitions: set[str] = field(default_factory=lambda: {"p0"})

    def poll(self, timeout_ms: int, max_records: int) -> dict[str, list[Record]]:
        batch = self.records[self.position:self.position + max_records]
        self.position += len(batch)
        return {"p0": batch} if batch else {}

    def assignment(self) -> set[str]:
        return self.partitions

    def commit(self) -> None:
        self.committed_at = self.position

    def committed(self, _partition: str) -> int | None:
        return self.committed_at

    def seek(self, _partition: str, offset: int) -> None:
        self.position = offset

    def seek_to_beginning(self, _partition: str) -> None:
        self.position = 0


@dataclass
class FakeAlertmanager:
    failures: list[Exception] = field(default_factory=list)  # raised by the next posts
    posted: list[list[dict]] = field(default_factory=list)
    active: list[dict] = field(default_factory=list)

    def post(self, alerts: list[dict]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.posted.append(alerts)

    def active_alerts(self, _alertnames: tuple[str, ...]) -> list[dict]:
        return self.active


def bridge_over(events: list[Event], alertmanager: FakeAlertmanager
                ) -> tuple[AlertBridge, FakeConsumer, BridgeStats]:
    consumer = FakeConsumer([Record("complaints.sla", 0, n, serde.encode(e))
                             for n, e in enumerate(events)])
    stats = BridgeStats()
    return AlertBridge(consumer, alertmanager, stats, clock=lambda: NOW / 1000), consumer, stats


def test_bridge_commits_only_after_alertmanager_accepted_the_batch():
    alertmanager = FakeAlertmanager(failures=[AlertmanagerUnavailable("refused")])
    events = [sla("sla.warning", threshold=0.5), sla("sla.breached")]
    bridge, consumer, stats = bridge_over(events, alertmanager)

    assert bridge.step() == 0.5  # back off, rewound
    assert (consumer.committed_at, consumer.position, stats.unreachable) == (None, 0, 1)
    assert bridge.step() == 0.0
    assert consumer.committed_at == 2
    assert [[a["labels"]["alertname"] for a in batch] for batch in alertmanager.posted] == \
        [["SlaBreached"]]
    assert (stats.records, stats.alerts_sent) == (2, 1)


def test_backoff_grows_while_alertmanager_stays_away():
    alertmanager = FakeAlertmanager(failures=[AlertmanagerUnavailable("down")] * 4)
    bridge, _, _ = bridge_over([sla("sla.breached")], alertmanager)
    assert [bridge.step() for _ in range(5)] == [0.5, 1.0, 2.0, 2.0, 0.0]


def test_refused_alerts_are_skipped_so_later_ones_still_go_out():
    alertmanager = FakeAlertmanager(failures=[AlertsRejected("HTTP 400")])
    bridge, consumer, stats = bridge_over([sla("sla.breached")], alertmanager)
    assert bridge.step() == 0.0
    assert (consumer.committed_at, stats.alerts_rejected) == (1, 1)


def test_failed_post_leaves_the_fired_labels_for_the_retry():
    alertmanager = FakeAlertmanager()
    bridge, consumer, _ = bridge_over([sla("sla.breached", team=None)], alertmanager)
    bridge.step()
    consumer.records.append(Record("complaints.sla", 0, 1, serde.encode(
        sla("sla.breach_retracted", team="billing-l2"))))
    alertmanager.failures.append(AlertmanagerUnavailable("reset"))
    bridge.step()
    bridge.step()
    assert len(alertmanager.posted) == 2
    (resolution,) = alertmanager.posted[-1]
    assert "startsAt" not in resolution
    assert resolution["labels"] == alertmanager.posted[0][0]["labels"]


def test_after_a_restart_the_bridge_resolves_the_labels_alertmanager_still_holds():
    fired = alert_for(sla("sla.breached", team=None), NOW)
    listed = {**fired, "status": {"state": "active"}, "fingerprint": "f00d", "receivers": []}
    alertmanager = FakeAlertmanager(active=[listed])
    bridge, _, _ = bridge_over([sla("sla.breach_retracted", team="billing-l2")], alertmanager)
    bridge.step()
    assert alertmanager.posted[0][0]["labels"] == fired["labels"]


def test_a_rebalance_makes_the_bridge_read_what_fired_again():
    # Another instance fired the breach before this bridge got the partition.
    fired = alert_for(sla("sla.breached"), NOW)
    alertmanager = FakeAlertmanager()
    bridge, consumer, _ = bridge_over([sla("sla.breached", ticket_id="T-2")], alertmanager)
    bridge.step()
    alertmanager.active = [{**fired, "status": {"state": "active"}, "fingerprint": "f00d"}]
    consumer.partitions = {"p0", "p1"}
    consumer.records.append(Record("complaints.sla", 1, 0, serde.encode(
        sla("sla.breach_retracted"))))
    bridge.step()
    assert alertmanager.posted[-1] == [{**alert_for(sla("sla.breach_retracted"), NOW),
                                        "labels": fired["labels"]}]


def test_bridge_posts_the_resolutions_of_a_late_stop_for_what_fired():
    alertmanager = FakeAlertmanager()
    bridge, consumer, _ = bridge_over([sla("sla.warning", threshold=0.8),
                                       sla("sla.breached", team=None)], alertmanager)
    bridge.step()
    # Assigned after the breach, answered late: the stop resolves both alerts as they fired.
    consumer.records.append(Record("complaints.sla", 0, 2, serde.encode(
        sla("sla.stopped", team="billing-l2", outcome="breached"))))
    bridge.step()
    fired, resolved = alertmanager.posted
    assert [a["labels"] for a in resolved] == [fired[1]["labels"], fired[0]["labels"]]
    assert [("startsAt" in a, a["endsAt"]) for a in resolved] == [(False, rfc3339(NOW))] * 2
    assert consumer.committed_at == 3


def test_bridge_posts_nothing_for_a_late_stop_whose_alerts_never_fired():
    # A clock that stopped late but whose breach fired no alert here (e.g. read long after).
    alertmanager = FakeAlertmanager()
    bridge, consumer, stats = bridge_over([sla("sla.stopped", outcome="breached")],
                                          alertmanager)
    assert bridge.step() == 0.0
    assert (alertmanager.posted, stats.alerts_sent, consumer.committed_at) == ([], 0, 1)


def test_bridge_dates_announcements_by_the_record_timestamp():
    # Breaches dated 6 h ago: one a worker announces now, after an outage, one an old record
    # that a new consumer group replays. Only the fresh announcement fires.
    alertmanager = FakeAlertmanager()
    overdue = {"at": SIX_HOURS_AGO, "deadline": SIX_HOURS_AGO}
    bridge, consumer, stats = bridge_over([], alertmanager)
    consumer.records += [
        Record("complaints.sla", 0, 0, serde.encode(sla("sla.breached", "T-old", **overdue)),
               timestamp=SIX_HOURS_AGO),
        Record("complaints.sla", 0, 1, serde.encode(sla("sla.breached", "T-new", **overdue)),
               timestamp=NOW - 500),
    ]
    assert bridge.step() == 0.0
    ((breach,),) = alertmanager.posted
    assert (breach["labels"]["ticket_id"], breach["startsAt"]) == ("T-new", rfc3339(SIX_HOURS_AGO))
    # The ticket's late answer resolves the alert that fired.
    consumer.records.append(Record("complaints.sla", 0, 2, serde.encode(
        sla("sla.stopped", "T-new", outcome="breached")), timestamp=NOW))
    bridge.step()
    assert [(a["labels"], "startsAt" in a) for a in alertmanager.posted[-1]] == [
        (breach["labels"], False)]
    assert (stats.alerts_sent, consumer.committed_at) == (2, 3)


def test_undecodable_records_are_skipped():
    alertmanager = FakeAlertmanager()
    bridge, consumer, stats = bridge_over([sla("sla.breached")], alertmanager)
    consumer.records.insert(0, Record("complaints.sla", 0, 0, b"\x00garbage"))
    bridge.step()
    assert (stats.undecodable, stats.alerts_sent, consumer.committed_at) == (1, 1, 2)
