"""sla.* events → Alertmanager v2 alerts: which event fires or resolves which alert (pure).

| event | alert |
|---|---|
| `sla.breached` | `SlaBreached` fires from the deadline; critical (urgent or VIP) or warning |
| `sla.warning` at a threshold ≥ 0.8 | `SlaAtRisk` fires, severity info (lower ones: nothing) |
| `sla.stopped` | `SlaBreached` and `SlaAtRisk` resolve (the metric stopped after its deadline) |
| `sla.breach_retracted` | `SlaBreached` resolves (a late event showed the target was met) |
| `sla.met` | `SlaAtRisk` resolves |

Alertmanager knows an alert by its full label set, and resolving means posting the same labels
with an `endsAt` that has passed. Team, priority and tier can change between the event that
fires an alert and the one that resolves it (a ticket is assigned after it breached), so
`ActiveAlerts` remembers the alerts that fired and resolves the labels they fired with.

It also keeps noise away from receivers. Alertmanager puts every resolved alert it is sent
into its group's next notification, even one that never fired; so a resolution is posted only
for an alert that fired (most tickets meet their targets, and their `sla.met` resolves nothing).

How a firing alert ends: a clock stops with an event that resolves what it fired
(`sla.met`, `sla.stopped`, or `sla.breach_retracted` then `sla.met`), so a firing alert is
posted once, with an `endsAt` far ahead: `FIRING_BACKSTOP_MS` after its event (or after its
announcement, when that came later), a bound only for a clock that never stops (a ticket left
open). Without an `endsAt`, Alertmanager would resolve the alert after its `resolve_timeout`
(5 min) unless it were posted again. Posting every active alert again each minute with a
short `endsAt`, as Prometheus does, was not chosen: what the bridge remembers is not durable,
so a bridge down for longer than that `endsAt` would let its alerts resolve falsely and could
never fire them again (their events lie behind its committed offsets); and each instance of
the consumer group would have to re-post only its own partitions' alerts. With a far `endsAt`
the alerts live in Alertmanager, which a restarted bridge reads back. The cost: Alertmanager
holds alerts in memory only, so after a restart it lacks those that were firing (no repeat
notifications) until they resolve.

A record read more than `REPLAY_HORIZON_MS` after it was announced (its Kafka timestamp:
when the SLA worker produced it) comes from an old stretch of the log (a replay, a new consumer
group, a bridge far behind) whose clocks have most likely stopped since: it fires no alert,
while resolutions still go to the alerts that fired. The horizon counts from the announcement,
not from the event's `occurred_at`: the SLA timer dates a breach at its deadline, so a worker
catching up after an outage announces, with fresh record timestamps, breaches dated hours ago
whose tickets are still open, and those fire. A record without a timestamp counts from its
event. A breach announced longer ago than the horizon whose ticket is still open is not fired
by a new consumer group, nor by a bridge that was itself down for longer than that.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from schemas.event import Event

Alert = dict[str, Any]  # a postable alert of Alertmanager's API v2

SLA_BREACHED = "SlaBreached"
SLA_AT_RISK = "SlaAtRisk"
SLA_ALERTNAMES = (SLA_BREACHED, SLA_AT_RISK)
AT_RISK_THRESHOLD = 0.8  # the default policy's last warning before the breach (docs/sla.md)
# A firing alert's endsAt, after its event (or its later announcement): far beyond
# resolve_timeout, and past any breach someone still acts on; it only ends the alert of a
# clock that never stops.
FIRING_BACKSTOP_MS = 7 * 24 * 3600 * 1000
# A record announced longer ago than this when read fires nothing: its clock has most likely
# stopped since.
REPLAY_HORIZON_MS = 4 * 3600 * 1000

# An alert's identity across label changes; the context labels route and group it.
IDENTITY_LABELS = ("alertname", "ticket_id", "metric", "cycle")
CONTEXT_LABELS = ("team", "priority", "customer_tier", "category")


def alerts_for(event: Event, now_ms: int, announced_ms: int | None = None) -> list[Alert]:
    """The alerts an sla.* event fires or resolves: none when it concerns no alert, nor when
    it would fire one from an old stretch of the log (see REPLAY_HORIZON_MS).

    `announced_ms` is the timestamp of the record that carried the event (ms; when the SLA
    worker produced it); without one (None, or Kafka's -1) the event's own time stands in.
    """
    data = event.data
    announced = announced_at(event, announced_ms)
    match event.event_type:
        case "sla.breached" | "sla.warning" if announced < now_ms - REPLAY_HORIZON_MS:
            return []
        case "sla.breached":
            starts_at = data.get("deadline") or event.occurred_at
            return [_firing(event, SLA_BREACHED, f"breached its {_target(data)} target",
                            starts_at, announced)]
        case "sla.warning" if (data.get("threshold") or 0.0) >= AT_RISK_THRESHOLD:
            used = f"has used {data['threshold']:.0%} of its {_target(data)} target"
            return [_firing(event, SLA_AT_RISK, used, event.occurred_at, announced)]
        case "sla.stopped":
            late = (f"stopped after {human_duration(data['elapsed_business_seconds'])}, "
                    f"past its {_target(data)} target")
            return [_resolved(event, alertname, late, now_ms) for alertname in SLA_ALERTNAMES]
        case "sla.breach_retracted":
            met = f"met its {_target(data)} target after all: a late event retracted the breach"
            return [_resolved(event, SLA_BREACHED, met, now_ms)]
        case "sla.met":
            return [_resolved(event, SLA_AT_RISK, f"met its {_target(data)} target", now_ms)]
    return []


def announced_at(event: Event, announced_ms: int | None) -> int:
    """When the event was announced: its record's timestamp, else (none, or -1) its own time."""
    return event.occurred_at if announced_ms is None or announced_ms < 0 else announced_ms


def severity(alertname: str, priority: str | None, customer_tier: str | None) -> str:
    if alertname == SLA_AT_RISK:
        return "info"
    return "critical" if priority == "urgent" or customer_tier == "vip" else "warning"


def labels_for(event: Event, alertname: str) -> dict[str, str]:
    data = event.data
    labels = {"alertname": alertname, "ticket_id": event.ticket_id, "metric": data.get("metric"),
              "cycle": data.get("cycle"), **{name: data.get(name) for name in CONTEXT_LABELS},
              "severity": severity(alertname, data.get("priority"), data.get("customer_tier"))}
    # Alertmanager treats an empty label as absent; leaving it out keeps the identity stable.
    return {name: str(value) for name, value in labels.items() if value not in (None, "")}


def _firing(event: Event, alertname: str, what: str, starts_at_ms: int,
            announced_ms: int) -> Alert:
    # The backstop counts from the event or, later, its announcement, not from startsAt: a
    # breach that a reclassification dated long after its deadline, or one that a worker
    # announced long after it (catching up after an outage), still fires.
    return {"labels": labels_for(event, alertname),
            "annotations": _annotations(event, what),
            "startsAt": rfc3339(starts_at_ms),
            "endsAt": rfc3339(max(event.occurred_at, announced_ms) + FIRING_BACKSTOP_MS)}


def _resolved(event: Event, alertname: str, what: str, now_ms: int) -> Alert:
    # No startsAt: Alertmanager keeps the firing alert's start when the two merge.
    return {"labels": labels_for(event, alertname),
            "annotations": _annotations(event, what),
            "endsAt": rfc3339(now_ms)}


def _annotations(event: Event, what: str) -> dict[str, str]:
    data = event.data
    annotations = {
        "summary": f"{_subject(event)} {what}",
        "deadline": rfc3339(data["deadline"]) if data.get("deadline") else None,
        "elapsed_business_seconds": data.get("elapsed_business_seconds"),
        "target_seconds": data.get("target_seconds"),
        "calendar": data.get("calendar"),
        "policy_version": data.get("policy_version"),
        "sla_event_id": event.event_id,
    }
    return {name: str(value) for name, value in annotations.items() if value is not None}


def _subject(event: Event) -> str:
    """E.g. "first response of ticket T-1 (urgent, VIP)"; later cycles are numbered."""
    data = event.data
    metric = str(data.get("metric", "SLA")).replace("_", " ")
    if (data.get("cycle") or 1) > 1:
        metric += f" (cycle {data['cycle']})"
    tier = data.get("customer_tier")
    context = [c for c in (data.get("priority"), "VIP" if tier == "vip" else tier) if c]
    return f"{metric} of ticket {event.ticket_id}" + (f" ({', '.join(context)})" if context else "")


def _target(data: dict[str, Any]) -> str:
    return human_duration(int(data.get("target_seconds") or 0))


def human_duration(seconds: int) -> str:
    """2 → "2 s", 1800 → "30 min", 5400 → "1 h 30 min", 172800 → "2 d"."""
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 s"


def rfc3339(at_ms: int) -> str:
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_resolution(alert: Alert) -> bool:
    return "startsAt" not in alert


# ---------------------------------------------------------------- alerts that fired

_Identity = tuple[str, ...]
_LabelSet = tuple[tuple[str, str], ...]


def identity(labels: dict[str, str]) -> _Identity:
    return tuple(labels.get(name, "") for name in IDENTITY_LABELS)


class ActiveAlerts:
    """The alerts posted as firing that have neither resolved nor reached their backstop, by
    label set."""

    def __init__(self) -> None:
        self._fired: dict[_Identity, dict[_LabelSet, Alert]] = {}

    def remember(self, alert: Alert) -> None:
        label_set = tuple(sorted(alert["labels"].items()))
        self._fired.setdefault(identity(alert["labels"]), {})[label_set] = alert

    def to_post(self, alerts: Iterable[Alert], now_ms: int) -> list[Alert]:
        """What to post for these alerts, in order, noting what fires and what resolves: a
        firing alert as it is; a resolution once for every label set its alert fired with,
        and not at all when it never fired."""
        posts: list[Alert] = []
        for alert in alerts:
            if is_resolution(alert):
                fired = self._fired.pop(identity(alert["labels"]), {})
                posts += [{**alert, "labels": dict(label_set)} for label_set in fired]
            else:
                self.remember(alert)
                posts.append(alert)
        self.forget_ended(now_ms)
        return posts

    def forget_ended(self, now_ms: int) -> None:
        for key, label_sets in list(self._fired.items()):
            for label_set, alert in list(label_sets.items()):
                if epoch_ms(alert["endsAt"]) <= now_ms:
                    del label_sets[label_set]
            if not label_sets:
                del self._fired[key]

    def copy(self) -> ActiveAlerts:
        clone = ActiveAlerts()
        clone._fired = {key: dict(label_sets) for key, label_sets in self._fired.items()}
        return clone

    def __len__(self) -> int:
        return sum(len(label_sets) for label_sets in self._fired.values())


def epoch_ms(timestamp: str) -> int:
    """Milliseconds of an RFC 3339 time (Alertmanager writes milliseconds, as rfc3339 does)."""
    return round(datetime.fromisoformat(timestamp).timestamp() * 1000)


def postable(alert: Alert) -> Alert:
    """An alert as Alertmanager's GET /api/v2/alerts lists it, as it would be posted."""
    return {key: alert[key] for key in ("labels", "annotations", "startsAt", "endsAt")}
