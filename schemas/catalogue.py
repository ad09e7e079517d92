"""The event catalogue: one Avro record schema per event type and version.

Every schema starts with the shared envelope. Released versions are never edited: a change adds
a new version whose new fields have defaults, so the current reader still decodes old data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAMESPACE = "complaintflow.events"

_STR = "string"
_OPT_STR = ["null", "string"]
_OPT_INT = ["null", "int"]
_OPT_LONG_TS = ["null", {"type": "long", "logicalType": "timestamp-millis"}]

ENVELOPE_FIELDS: list[dict[str, Any]] = [
    {"name": "event_id", "type": _STR, "doc": "unique id; repeats are ignored (idempotency)"},
    {"name": "event_type", "type": _STR},
    {"name": "ticket_id", "type": _STR, "doc": "the Kafka key"},
    {"name": "occurred_at", "type": {"type": "long", "logicalType": "timestamp-millis"},
     "doc": "event time, UTC, milliseconds"},
    {"name": "schema_version", "type": "int"},
    {"name": "source", "type": _STR, "default": "intake", "doc": "producer of the event"},
    {"name": "caused_by", "type": _OPT_STR, "default": None,
     "doc": "event_id of the input event a derived event was computed from"},
]


def _opt(name: str, avro_type: Any = _OPT_STR) -> dict[str, Any]:
    return {"name": name, "type": avro_type, "default": None}


def _req(name: str, avro_type: Any = _STR) -> dict[str, Any]:
    return {"name": name, "type": avro_type}


_RECEIVED_V1 = [
    _req("channel"), _req("category"), _req("priority"), _req("customer_id"),
    _req("customer_tier"), _req("region"), _opt("summary"),
]
_SLA_FIELDS = [
    _req("metric"), _req("cycle", "int"), _req("policy_version"), _req("calendar"),
    _req("target_seconds", "long"), _opt("deadline", _OPT_LONG_TS),
    _req("elapsed_business_seconds", "long"), _opt("threshold", ["null", "double"]),
    _opt("reason"), _opt("team"), _opt("priority"), _opt("customer_tier"), _opt("category"),
]
# v2 of every sla.* event: the fingerprint of the calendar and holiday data the clock is pinned
# to (docs/sla.md, "Pinned calendars"), the clock's event sequence and its stop time.
_SLA_FIELDS_V2 = _SLA_FIELDS + [
    {"name": "calendar_fingerprint", "type": _OPT_STR, "default": None,
     "doc": "the calendar and holiday data the clock runs on, pinned when it started"},
    {"name": "sequence", "type": _OPT_INT, "default": None,
     "doc": "the clock's event counter: the order in which the engine decided its events"},
    {"name": "stopped_at", "type": _OPT_LONG_TS, "default": None,
     "doc": "when the metric stopped (first response, next reply, resolution), once it has"},
]
_TICKET_STATE = [
    _req("status"), _req("version", "long"), _opt("kind"), _opt("channel"), _opt("category"),
    _opt("priority"), _opt("customer_id"), _opt("customer_tier"), _opt("region"), _opt("team"),
    _opt("agent"), _opt("received_at", _OPT_LONG_TS), _opt("first_response_at", _OPT_LONG_TS),
    _opt("first_resolved_at", _OPT_LONG_TS), _opt("resolved_at", _OPT_LONG_TS),
    _opt("closed_at", _OPT_LONG_TS), _opt("updated_at", _OPT_LONG_TS),
    _req("transfer_count", "int"), _req("reopen_count", "int"), _req("escalation_level", "int"),
    _opt("csat", _OPT_INT), _opt("nps", _OPT_INT),
    _req("compensation_total", "double"), _opt("last_event_type"), _opt("resolution_code"),
]

# (event_type, version) -> payload fields after the envelope.
_PAYLOADS: dict[tuple[str, int], list[dict[str, Any]]] = {
    # input: complaint actions
    ("complaint.received", 1): _RECEIVED_V1,
    ("complaint.received", 2): _RECEIVED_V1 + [
        {"name": "kind", "type": _STR, "default": "complaint",
         "doc": "complaint, suggestion or praise: one intake for the voice of the customer"},
    ],
    ("complaint.classified", 1): [
        _opt("category"), _opt("priority"), _opt("customer_tier"), _opt("reason"),
    ],
    ("ticket.assigned", 1): [_req("team"), _opt("agent")],
    ("ticket.transferred", 1): [_opt("from_team"), _req("to_team"), _opt("agent"), _opt("reason")],
    ("ticket.first_response_sent", 1): [_opt("agent"), _opt("channel")],
    ("ticket.customer_replied", 1): [_opt("channel")],
    ("ticket.agent_replied", 1): [_opt("agent"), _opt("channel")],
    ("ticket.status_changed", 1): [_req("status"), _opt("reason")],
    ("ticket.escalated", 1): [_opt("to_team"), _opt("reason")],
    ("ticket.resolved", 1): [_opt("resolution_code"), _opt("agent")],
    ("ticket.customer_confirmed", 1): [_opt("channel")],
    ("ticket.reopened", 1): [_opt("reason")],
    ("survey.responded", 1): [_opt("csat", _OPT_INT), _opt("nps", _OPT_INT), _opt("comment")],
    ("ticket.compensation_issued", 1): [
        _req("amount", "double"), _req("currency"), _opt("compensation_kind"),
    ],
    # derived: outputs of the stream processors
    ("ticket.state_changed", 1): _TICKET_STATE,
    ("sla.warning", 1): _SLA_FIELDS,
    ("sla.breached", 1): _SLA_FIELDS,
    ("sla.met", 1): _SLA_FIELDS,
    ("sla.paused", 1): _SLA_FIELDS,
    ("sla.resumed", 1): _SLA_FIELDS,
    ("sla.breach_retracted", 1): _SLA_FIELDS,
    ("repeat.detected", 1): [
        _req("customer_id"), _opt("previous_ticket_id"), _req("window_seconds", "long"),
        _req("count", "int"), _opt("category"),
    ],
    ("transfer.pingpong_detected", 1): [
        {"name": "teams", "type": {"type": "array", "items": "string"}},
        _req("transfer_count", "int"),
    ],
    ("volume.spike_detected", 1): [
        _req("dimension"), _req("value"), _req("window_start", "long"),
        _req("count", "long"), _req("baseline", "double"),
    ],
    ("satisfaction.low_score", 1): [_opt("csat", _OPT_INT), _opt("nps", _OPT_INT), _opt("team")],
    ("sla.started", 1): _SLA_FIELDS,  # last, not with the sla.* above: schema ids never move
    **{(event_type, 2): _SLA_FIELDS_V2 for event_type in (
        "sla.started", "sla.warning", "sla.breached", "sla.met", "sla.paused", "sla.resumed",
        "sla.breach_retracted")},
    ("sla.stopped", 1): _SLA_FIELDS_V2 + [
        {"name": "outcome", "type": _STR, "doc": "the verdict at the stop: breached"},
    ],
    ("sla.holiday_data_warning", 1): [
        _req("calendar"), _req("calendar_fingerprint"), _req("holiday_set"), _req("year", "int"),
        {"name": "status", "type": _STR, "doc": "provisional or missing"},
        _req("policy_version"),
    ],
}

INPUT_EVENT_TYPES = frozenset(
    t for t, _ in _PAYLOADS if t.startswith(("complaint.", "ticket.", "survey."))
    and t != "ticket.state_changed"
)

# Schema ids as a registry would hand them out: append-only, never reused.
SCHEMA_IDS: dict[tuple[str, int], int] = {key: n for n, key in enumerate(_PAYLOADS, start=1)}


@dataclass(frozen=True)
class SchemaEntry:
    event_type: str
    version: int
    schema_id: int
    schema: dict[str, Any]


def _record_name(event_type: str) -> str:
    # The same name in every version: Avro schema resolution matches records by name.
    return "".join(part.capitalize() for part in event_type.replace(".", "_").split("_"))


def _build(event_type: str, version: int) -> SchemaEntry:
    schema = {
        "type": "record",
        "name": _record_name(event_type),
        "namespace": NAMESPACE,
        "doc": f"{event_type}, schema version {version}",
        "fields": ENVELOPE_FIELDS + _PAYLOADS[(event_type, version)],
    }
    return SchemaEntry(event_type, version, SCHEMA_IDS[(event_type, version)], schema)


CATALOGUE: dict[tuple[str, int], SchemaEntry] = {key: _build(*key) for key in _PAYLOADS}
CURRENT: dict[str, SchemaEntry] = {
    entry.event_type: entry for entry in sorted(CATALOGUE.values(), key=lambda e: e.version)
}
BY_ID: dict[int, SchemaEntry] = {e.schema_id: e for e in CATALOGUE.values()}
EVENT_TYPES = frozenset(CURRENT)


def current(event_type: str) -> SchemaEntry:
    return CURRENT[event_type]


def payload_field_names(event_type: str) -> list[str]:
    envelope = {f["name"] for f in ENVELOPE_FIELDS}
    return [f["name"] for f in CURRENT[event_type].schema["fields"] if f["name"] not in envelope]
