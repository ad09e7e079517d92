"""Kafka messages → ClickHouse rows: pure functions, one per table, with explicit columns.

Times arrive as epoch milliseconds; DateTime columns take whole epoch seconds (clickhouse-driver
sends ints as they are, with no time-zone conversion), *_ms columns keep the milliseconds.
Optional texts become '' (the columns are String, not Nullable).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from schemas import serde
from schemas.catalogue import INPUT_EVENT_TYPES
from schemas.event import Event
from streams import topics
from streams.deadletter import DeadLetter

Row = tuple[Any, ...]

PROJECTOR_STAGE = "projector"
STATE_CHANGED = "ticket.state_changed"
# What each sla.* event says about its clock; the latest event of a clock wins.
SLA_OUTCOMES: Mapping[str, str] = {
    "sla.started": "running",
    "sla.warning": "warning",
    "sla.breached": "breached",
    "sla.met": "met",
    "sla.paused": "paused",
    "sla.resumed": "running",
    "sla.breach_retracted": "retracted",
    "sla.stopped": "breached",  # stopped after the deadline
}
# The events that stop their clock: the row gets its stopped_at. sla.stopped is dated after
# the deadline, so as the table's version (updated_ms) it outranks the clock's sla.breached.
SLA_STOPS = frozenset({"sla.met", "sla.stopped"})
HOLIDAY_DATA_WARNING = "sla.holiday_data_warning"  # not about one clock: its own table
SLA_TOPIC_EVENTS = frozenset({*SLA_OUTCOMES, HOLIDAY_DATA_WARNING})


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]

    @property
    def insert_sql(self) -> str:
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES"

    def row(self, **values: Any) -> Row:
        """The values in column order; a missing or unknown column is an error, not a NULL."""
        if values.keys() != set(self.columns):
            missing = set(self.columns) - values.keys()
            unknown = values.keys() - set(self.columns)
            raise ValueError(f"{self.name}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        return tuple(values[column] for column in self.columns)


COMPLAINT_EVENTS = Table("complaint_events", (
    "event_id", "event_type", "ticket_id", "occurred_at", "occurred_at_ms", "schema_version",
    "source", "channel", "category", "priority", "customer_tier", "region", "customer_id",
    "payload", "kafka_partition", "kafka_offset", "ingested_at",
))
TICKETS = Table("tickets", (
    "ticket_id", "version", "status", "kind", "channel", "category", "priority", "customer_id",
    "customer_tier", "region", "team", "agent", "received_at", "first_response_at",
    "first_resolved_at", "resolved_at", "closed_at", "updated_at", "updated_ms",
    "transfer_count", "reopen_count", "escalation_level", "csat", "nps", "compensation_total",
    "last_event_type", "resolution_code", "caused_by",
))
DEAD_LETTERS = Table("dead_letters", (
    "dlq_id", "stage", "reason", "field", "event_id", "event_type", "ticket_id", "occurred_at",
    "source_topic", "source_partition", "source_offset", "original", "recorded_at",
    "recorded_ms",
))
SLA_EVENTS = Table("sla_events", (
    "event_id", "event_type", "ticket_id", "occurred_at", "occurred_at_ms", "metric", "cycle",
    "policy_version", "calendar", "target_seconds", "deadline", "elapsed_business_seconds",
    "threshold", "reason", "team", "priority", "customer_tier", "category", "caused_by",
    "kafka_partition", "kafka_offset", "ingested_at", "calendar_fingerprint",
))
SLA_OUTCOMES_TABLE = Table("sla_outcomes", (
    "ticket_id", "metric", "cycle", "policy_version", "calendar", "target_seconds", "deadline",
    "stopped_at", "elapsed_business_seconds", "outcome", "updated_at", "updated_ms", "team",
    "priority", "customer_tier", "category", "last_event_id", "calendar_fingerprint",
))
SLA_CALENDARS = Table("sla_calendars", (
    "fingerprint", "name", "policy_version", "registered_at", "registered_ms", "spec",
))
SLA_HOLIDAY_WARNINGS = Table("sla_holiday_warnings", (
    "event_id", "ticket_id", "occurred_at", "occurred_at_ms", "calendar",
    "calendar_fingerprint", "holiday_set", "year", "status", "policy_version", "caused_by",
    "ingested_at",
))
TABLES = (COMPLAINT_EVENTS, TICKETS, DEAD_LETTERS, SLA_EVENTS, SLA_OUTCOMES_TABLE,
          SLA_CALENDARS, SLA_HOLIDAY_WARNINGS)


@dataclass(frozen=True)
class Position:
    """Where a message was read: kept with archived rows so any row leads back to the log."""

    topic: str
    partition: int
    offset: int


class UnprojectableMessage(Exception):
    """A message that does not decode, or is not what its topic carries."""


def _seconds(ms: int) -> int:
    return ms // 1000


def _optional_seconds(ms: int | None) -> int | None:
    return None if ms is None else ms // 1000


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def archive_row(event: Event, position: Position, ingested_at: int) -> Row:
    """complaint_events: one accepted input event; ingested_at in epoch seconds."""
    data = event.data
    return COMPLAINT_EVENTS.row(
        event_id=event.event_id, event_type=event.event_type, ticket_id=event.ticket_id,
        occurred_at=_seconds(event.occurred_at), occurred_at_ms=event.occurred_at,
        schema_version=event.schema_version, source=event.source,
        channel=_text(data.get("channel")), category=_text(data.get("category")),
        priority=_text(data.get("priority")), customer_tier=_text(data.get("customer_tier")),
        region=_text(data.get("region")), customer_id=_text(data.get("customer_id")),
        payload=json.dumps(data, ensure_ascii=False, sort_keys=True),
        kafka_partition=position.partition, kafka_offset=position.offset,
        ingested_at=ingested_at,
    )


def ticket_row(event: Event) -> Row:
    """tickets: the full state carried by a ticket.state_changed event."""
    state = event.data
    updated_ms = state.get("updated_at") or event.occurred_at
    return TICKETS.row(
        ticket_id=event.ticket_id, version=state["version"], status=state["status"],
        **{name: _text(state.get(name)) for name in (
            "kind", "channel", "category", "priority", "customer_id", "customer_tier", "region",
            "team", "agent", "last_event_type", "resolution_code")},
        **{name: _optional_seconds(state.get(name)) for name in (
            "received_at", "first_response_at", "first_resolved_at", "resolved_at",
            "closed_at")},
        updated_at=_seconds(updated_ms), updated_ms=updated_ms,
        transfer_count=state["transfer_count"], reopen_count=state["reopen_count"],
        escalation_level=state["escalation_level"], csat=state.get("csat"),
        nps=state.get("nps"), compensation_total=float(state["compensation_total"]),
        caused_by=_text(event.caused_by),
    )


def _sla_common(event: Event) -> dict[str, Any]:
    data = event.data
    return {
        "ticket_id": event.ticket_id, "metric": data["metric"], "cycle": data["cycle"],
        "policy_version": data["policy_version"], "calendar": data["calendar"],
        "target_seconds": data["target_seconds"],
        "deadline": _optional_seconds(data.get("deadline")),
        "elapsed_business_seconds": data["elapsed_business_seconds"],
        **{name: _text(data.get(name))
           for name in ("team", "priority", "customer_tier", "category",
                        "calendar_fingerprint")},
    }


def sla_event_row(event: Event, position: Position, ingested_at: int) -> Row:
    """sla_events: the archive of every sla.* event."""
    return SLA_EVENTS.row(
        **_sla_common(event), event_id=event.event_id, event_type=event.event_type,
        occurred_at=_seconds(event.occurred_at), occurred_at_ms=event.occurred_at,
        threshold=event.data.get("threshold"), reason=_text(event.data.get("reason")),
        caused_by=_text(event.caused_by), kafka_partition=position.partition,
        kafka_offset=position.offset, ingested_at=ingested_at,
    )


def sla_outcome_row(event: Event) -> Row:
    """sla_outcomes: the clock (ticket × metric × cycle) as this sla.* event leaves it."""
    outcome = SLA_OUTCOMES[event.event_type]
    return SLA_OUTCOMES_TABLE.row(
        **_sla_common(event), outcome=outcome,
        stopped_at=_stop_seconds(event) if event.event_type in SLA_STOPS else None,
        updated_at=_seconds(event.occurred_at), updated_ms=event.occurred_at,
        last_event_id=event.event_id,
    )


def _stop_seconds(event: Event) -> int:
    # v2 events say when the metric stopped; v1 ones only when the stop was applied.
    return _seconds(event.data.get("stopped_at") or event.occurred_at)


def holiday_warning_row(event: Event, ingested_at: int) -> Row:
    """sla_holiday_warnings: a calendar-year of incomplete holiday data that clocks run on."""
    data = event.data
    return SLA_HOLIDAY_WARNINGS.row(
        event_id=event.event_id, ticket_id=event.ticket_id,
        occurred_at=_seconds(event.occurred_at), occurred_at_ms=event.occurred_at,
        **{name: data[name] for name in ("calendar", "calendar_fingerprint", "holiday_set",
                                         "year", "status", "policy_version")},
        caused_by=_text(event.caused_by), ingested_at=ingested_at,
    )


def calendar_row(raw: bytes) -> Row:
    """sla_calendars: one pinned calendar, its spec kept as the JSON it was published as."""
    record = json.loads(raw)
    return SLA_CALENDARS.row(
        fingerprint=record["fingerprint"], name=record["name"],
        policy_version=record["policy_version"],
        registered_at=_seconds(record["registered_at"]),
        registered_ms=record["registered_at"],
        spec=json.dumps(record["spec"], ensure_ascii=False, sort_keys=True),
    )


def dead_letter_row(letter: DeadLetter) -> Row:
    """dead_letters: a letter from complaints.dlq, or one the projector wrote itself."""
    return DEAD_LETTERS.row(
        dlq_id=letter.dlq_id, stage=letter.stage, reason=letter.reason,
        field=_text(letter.field), event_id=_text(letter.event_id),
        event_type=_text(letter.event_type), ticket_id=_text(letter.ticket_id),
        occurred_at=_optional_seconds(letter.occurred_at),
        source_topic=_text(letter.source_topic), source_partition=letter.source_partition,
        source_offset=letter.source_offset, original=_text(letter.original),
        recorded_at=_seconds(letter.recorded_at), recorded_ms=letter.recorded_at,
    )


def undecodable_letter(raw: bytes | None, position: Position, reason: str,
                       recorded_at_ms: int) -> DeadLetter:
    """The projector's own dead letter for a message it cannot project.

    Its dlq_id is prefixed so it never collapses with the letter the ticket processor may
    have written for the same bytes (which uses topic:partition:offset).
    """
    letter = DeadLetter.for_bytes(raw or b"", PROJECTOR_STAGE, reason, recorded_at_ms,
                                  position.topic, position.partition, position.offset)
    return replace(letter, dlq_id=f"{PROJECTOR_STAGE}:{letter.dlq_id}")


def _decode_event(raw: bytes, accepts: str, wanted: Callable[[str], bool]) -> Event:
    event = serde.decode(raw)
    if not wanted(event.event_type):
        raise UnprojectableMessage(f"{event.event_type} on a topic that carries {accepts}")
    return event


def rows_for_message(raw: bytes | None, position: Position,
                     ingested_at: int) -> list[tuple[Table, Row]]:
    """Every row one message becomes, by the topic it came from.

    Raises UnprojectableMessage when the bytes do not decode or the event does not belong on
    that topic; the caller dead-letters it with undecodable_letter().
    """
    if raw is None:
        raise UnprojectableMessage("empty message (tombstone)")
    try:
        if position.topic == topics.EVENTS.name:
            event = _decode_event(raw, "input events", INPUT_EVENT_TYPES.__contains__)
            return [(COMPLAINT_EVENTS, archive_row(event, position, ingested_at))]
        if position.topic == topics.TICKET_STATE.name:
            event = _decode_event(raw, STATE_CHANGED, STATE_CHANGED.__eq__)
            return [(TICKETS, ticket_row(event))]
        if position.topic == topics.SLA.name:
            event = _decode_event(raw, "sla.* events", SLA_TOPIC_EVENTS.__contains__)
            if event.event_type == HOLIDAY_DATA_WARNING:
                return [(SLA_HOLIDAY_WARNINGS, holiday_warning_row(event, ingested_at))]
            return [(SLA_EVENTS, sla_event_row(event, position, ingested_at)),
                    (SLA_OUTCOMES_TABLE, sla_outcome_row(event))]
        if position.topic == topics.SLA_CALENDARS.name:
            return [(SLA_CALENDARS, calendar_row(raw))]
        if position.topic == topics.DLQ.name:
            return [(DEAD_LETTERS, dead_letter_row(DeadLetter.from_json(raw)))]
    except (serde.DecodeError, ValueError, TypeError, KeyError) as exc:
        # ValueError covers bad JSON/UTF-8; TypeError and KeyError a letter or state with
        # missing or unknown fields.
        raise UnprojectableMessage(f"{type(exc).__name__}: {exc}") from exc
    raise UnprojectableMessage(f"the projector does not read topic {position.topic}")
