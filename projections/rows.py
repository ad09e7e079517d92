"""Kafka messages → ClickHouse rows: pure functions, one per table, with explicit columns.

Times arrive as epoch milliseconds; DateTime columns take whole epoch seconds (clickhouse-driver
sends ints as they are, with no time-zone conversion), *_ms columns keep the milliseconds.
Optional texts become '' (the columns are String, not Nullable).

The projector's hot path is decode + row building, run for every message of a replay, so it
avoids per-row work that changes nothing: Avro timestamps are read as the epoch milliseconds
they are on the wire (schemas.serde turns them into datetimes and back), the envelope is split
off the decoded record without copying the payload, and a row's columns are checked by one set
comparison (see Table.row).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple

import fastavro

from schemas import serde
from schemas.catalogue import BY_ID, CURRENT, INPUT_EVENT_TYPES
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
    # Derived from name and columns once: row() runs for every row the projector writes,
    # and the sink looks every row's table up in a dict.
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _in_order: Callable[[Mapping[str, Any]], Row] = field(init=False, repr=False,
                                                          compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", frozenset(self.columns))
        pick = itemgetter(*self.columns)
        object.__setattr__(self, "_in_order", pick if len(self.columns) > 1
                           else lambda values: (pick(values),))
        object.__setattr__(self, "_hash", hash((self.name, self.columns)))

    def __hash__(self) -> int:  # the generated one, computed once (the sink's dict key)
        return self._hash

    @property
    def insert_sql(self) -> str:
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES"

    def row(self, **values: Any) -> Row:
        """The values in column order; a missing or unknown column is an error, not a NULL."""
        if values.keys() != self._names:
            missing = self._names - values.keys()
            unknown = values.keys() - self._names
            raise ValueError(f"{self.name}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        return self._in_order(values)


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


# json.dumps with options builds a new encoder per call; this one is made once.
_to_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def archive_row(event: Event, position: Position, ingested_at: int) -> Row:
    """complaint_events: one accepted input event; ingested_at in epoch seconds."""
    data = event.data
    get = data.get
    return COMPLAINT_EVENTS.row(
        event_id=event.event_id, event_type=event.event_type, ticket_id=event.ticket_id,
        occurred_at=event.occurred_at // 1000, occurred_at_ms=event.occurred_at,
        schema_version=event.schema_version, source=event.source,
        channel=_text(get("channel")), category=_text(get("category")),
        priority=_text(get("priority")), customer_tier=_text(get("customer_tier")),
        region=_text(get("region")), customer_id=_text(get("customer_id")),
        payload=_to_json(data),
        kafka_partition=position.partition, kafka_offset=position.offset,
        ingested_at=ingested_at,
    )


def ticket_row(event: Event) -> Row:
    """tickets: the full state carried by a ticket.state_changed event."""
    state = event.data
    get = state.get
    updated_ms = get("updated_at") or event.occurred_at
    return TICKETS.row(
        ticket_id=event.ticket_id, version=state["version"], status=state["status"],
        kind=_text(get("kind")), channel=_text(get("channel")),
        category=_text(get("category")), priority=_text(get("priority")),
        customer_id=_text(get("customer_id")), customer_tier=_text(get("customer_tier")),
        region=_text(get("region")), team=_text(get("team")), agent=_text(get("agent")),
        last_event_type=_text(get("last_event_type")),
        resolution_code=_text(get("resolution_code")),
        received_at=_optional_seconds(get("received_at")),
        first_response_at=_optional_seconds(get("first_response_at")),
        first_resolved_at=_optional_seconds(get("first_resolved_at")),
        resolved_at=_optional_seconds(get("resolved_at")),
        closed_at=_optional_seconds(get("closed_at")),
        updated_at=updated_ms // 1000, updated_ms=updated_ms,
        transfer_count=state["transfer_count"], reopen_count=state["reopen_count"],
        escalation_level=state["escalation_level"], csat=get("csat"),
        nps=get("nps"), compensation_total=float(state["compensation_total"]),
        caused_by=_text(event.caused_by),
    )


def _sla_common(event: Event) -> dict[str, Any]:
    data = event.data
    get = data.get
    return {
        "ticket_id": event.ticket_id, "metric": data["metric"], "cycle": data["cycle"],
        "policy_version": data["policy_version"], "calendar": data["calendar"],
        "target_seconds": data["target_seconds"],
        "deadline": _optional_seconds(get("deadline")),
        "elapsed_business_seconds": data["elapsed_business_seconds"],
        "team": _text(get("team")), "priority": _text(get("priority")),
        "customer_tier": _text(get("customer_tier")), "category": _text(get("category")),
        "calendar_fingerprint": _text(get("calendar_fingerprint")),
    }


def sla_event_row(event: Event, position: Position, ingested_at: int,
                  common: dict[str, Any] | None = None) -> Row:
    """sla_events: the archive of every sla.* event (`common`: _sla_common(event), if made)."""
    return SLA_EVENTS.row(
        **(common or _sla_common(event)), event_id=event.event_id,
        event_type=event.event_type, occurred_at=event.occurred_at // 1000,
        occurred_at_ms=event.occurred_at, threshold=event.data.get("threshold"),
        reason=_text(event.data.get("reason")), caused_by=_text(event.caused_by),
        kafka_partition=position.partition, kafka_offset=position.offset,
        ingested_at=ingested_at,
    )


def sla_outcome_row(event: Event, common: dict[str, Any] | None = None) -> Row:
    """sla_outcomes: the clock (ticket × metric × cycle) as this sla.* event leaves it."""
    outcome = SLA_OUTCOMES[event.event_type]
    return SLA_OUTCOMES_TABLE.row(
        **(common or _sla_common(event)), outcome=outcome,
        stopped_at=_stop_seconds(event) if event.event_type in SLA_STOPS else None,
        updated_at=event.occurred_at // 1000, updated_ms=event.occurred_at,
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
        spec=_to_json(record["spec"]),
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


# ---------------------------------------------------------------- decoding

_TIMESTAMP_MILLIS = "timestamp-millis"
_WIRE_HEADER_BYTES = 5  # magic byte + 4-byte schema id, read by serde.writer_entry
# The instants a datetime holds (years 1 to 9999): schemas.serde refuses a timestamp outside
# them (the datetime cannot be made), so this decoder refuses them too.
_MIN_MS = -62_135_596_800_000
_MAX_MS = 253_402_300_799_999


class _Reader(NamedTuple):
    writer: Any  # parsed writer schema, timestamps as plain longs
    reader: Any  # parsed current schema of the type, or None when it is the writer's
    version: int  # the reader's schema version, as serde.decode reports it
    timestamps: tuple[str, ...]  # fields that are timestamp-millis in the reader schema


def _plain_longs(schema: Any) -> Any:
    """The schema with timestamp-millis read as the long it is encoded as (same bytes)."""
    if isinstance(schema, list):
        return [_plain_longs(branch) for branch in schema]
    if isinstance(schema, dict):
        if schema.get("logicalType") == _TIMESTAMP_MILLIS:
            return {k: v for k, v in schema.items() if k != "logicalType"}
        return {k: _plain_longs(v) if k in ("type", "fields", "items", "values") else v
                for k, v in schema.items()}
    return schema


def _is_timestamp(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        return any(_is_timestamp(branch) for branch in avro_type)
    return isinstance(avro_type, dict) and avro_type.get("logicalType") == _TIMESTAMP_MILLIS


@cache
def _plain_parsed(schema_id: int) -> Any:
    return fastavro.parse_schema(_plain_longs(BY_ID[schema_id].schema))


@cache
def _reader_for(schema_id: int) -> _Reader:
    writer = BY_ID[schema_id]
    reader = CURRENT[writer.event_type]
    return _Reader(_plain_parsed(schema_id),
                   None if reader is writer else _plain_parsed(reader.schema_id),
                   reader.version,
                   tuple(f["name"] for f in reader.schema["fields"] if _is_timestamp(f["type"])))


def decode_event(raw: bytes) -> Event:
    """The Event schemas.serde.decode returns for these bytes, made with less work.

    Same resolution to the current schema of the type, same DecodeErrors; the difference is
    that fastavro hands timestamp-millis over as the epoch milliseconds the Event keeps,
    instead of datetimes to convert back.
    """
    entry = serde.writer_entry(raw)  # the header: DecodeError if short, not framed, unknown
    plan = _reader_for(entry.schema_id)
    body = io.BytesIO(raw)
    body.seek(_WIRE_HEADER_BYTES)
    try:
        record = fastavro.schemaless_reader(body, plan.writer, plan.reader)
    except Exception as exc:  # fastavro raises several unrelated types for a corrupt body
        raise serde.DecodeError(f"corrupt Avro body for schema id {entry.schema_id}: "
                                f"{exc}") from exc
    for name in plan.timestamps:
        ms = record[name]
        if ms is not None and not _MIN_MS <= ms <= _MAX_MS:
            raise serde.DecodeError(f"corrupt Avro body for schema id {entry.schema_id}: "
                                    f"date value out of range ({name} {ms})")
    pop = record.pop
    # What Event.from_record does, without copying the payload: the envelope comes off the
    # record and what remains is the event's data.
    event_id, event_type, ticket_id = pop("event_id"), pop("event_type"), pop("ticket_id")
    occurred_at = pop("occurred_at")
    pop("schema_version", None)
    source, caused_by = pop("source", None) or "intake", pop("caused_by", None)
    return Event(event_id, event_type, ticket_id, occurred_at, plan.version, record, source,
                 caused_by)


def header_event_type(raw: bytes | None) -> str | None:
    """The event type the wire header names (the body is not read); None if no valid header."""
    try:
        return serde.writer_entry(raw).event_type if raw is not None else None
    except serde.DecodeError:
        return None


def _decode_event(raw: bytes, accepts: str, wanted: Callable[[str], bool]) -> Event:
    event = decode_event(raw)
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
    topic = position.topic
    try:
        if topic == _EVENTS_TOPIC:
            event = _decode_event(raw, "input events", INPUT_EVENT_TYPES.__contains__)
            return [(COMPLAINT_EVENTS, archive_row(event, position, ingested_at))]
        if topic == _TICKET_STATE_TOPIC:
            event = _decode_event(raw, STATE_CHANGED, STATE_CHANGED.__eq__)
            return [(TICKETS, ticket_row(event))]
        if topic == _SLA_TOPIC:
            event = _decode_event(raw, "sla.* events", SLA_TOPIC_EVENTS.__contains__)
            if event.event_type == HOLIDAY_DATA_WARNING:
                return [(SLA_HOLIDAY_WARNINGS, holiday_warning_row(event, ingested_at))]
            common = _sla_common(event)
            return [(SLA_EVENTS, sla_event_row(event, position, ingested_at, common)),
                    (SLA_OUTCOMES_TABLE, sla_outcome_row(event, common))]
        if topic == topics.SLA_CALENDARS.name:
            return [(SLA_CALENDARS, calendar_row(raw))]
        if topic == topics.DLQ.name:
            return [(DEAD_LETTERS, dead_letter_row(DeadLetter.from_json(raw)))]
    except (serde.DecodeError, ValueError, TypeError, KeyError) as exc:
        # ValueError covers bad JSON/UTF-8; TypeError and KeyError a letter or state with
        # missing or unknown fields.
        raise UnprojectableMessage(f"{type(exc).__name__}: {exc}") from exc
    raise UnprojectableMessage(f"the projector does not read topic {position.topic}")


_EVENTS_TOPIC, _TICKET_STATE_TOPIC, _SLA_TOPIC = (
    topics.EVENTS.name, topics.TICKET_STATE.name, topics.SLA.name)
