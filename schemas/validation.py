"""Turn untrusted JSON into Events, naming every problem: which field and why.

The intake accepts input events only; derived events are written by the processors.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.catalogue import CATALOGUE, CURRENT, ENVELOPE_FIELDS, INPUT_EVENT_TYPES
from schemas.event import Event
from schemas.vocabulary import VOCABULARY

MAX_FUTURE_SKEW_MS = 5 * 60 * 1000
EARLIEST_MS = 946_684_800_000  # 2000-01-01: older timestamps are unit mistakes (seconds, not ms)
_RANGES = {"csat": (1, 5), "nps": (0, 10)}
_ENVELOPE_NAMES = {f["name"] for f in ENVELOPE_FIELDS}


@dataclass(frozen=True)
class FieldError:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


class InvalidEvents(ValueError):
    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"[{e.index}] {e.field}: {e.message}" for e in errors))
        self.errors = errors


def parse_events(items: list[Any], now_ms: int) -> list[Event]:
    """All or nothing: every event valid, or InvalidEvents listing each problem."""
    events: list[Event] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        event, problems = parse_event(item, now_ms)
        errors.extend(FieldError(index, f, m) for f, m in problems)
        if event is not None:
            events.append(event)
    if errors:
        raise InvalidEvents(errors)
    return events


def parse_event(item: Any, now_ms: int) -> tuple[Event | None, list[tuple[str, str]]]:
    if not isinstance(item, dict):
        return None, [("", f"expected a JSON object, got {_json_type(item)}")]
    problems: list[tuple[str, str]] = []
    event_type = item.get("event_type")
    if event_type is None:
        return None, [("event_type", "is required")]
    if event_type not in INPUT_EVENT_TYPES:
        return None, [("event_type", f"unknown input event type {event_type!r}")]

    version = item.get("schema_version", CURRENT[event_type].version)
    if (event_type, version) not in CATALOGUE or isinstance(version, bool):
        return None, [("schema_version", f"{event_type} has no schema version {version!r}")]

    event_id = item.get("event_id", str(uuid.uuid4()))
    ticket_id = item.get("ticket_id")
    for name, value in (("event_id", event_id), ("ticket_id", ticket_id)):
        if not isinstance(value, str) or not value.strip():
            problems.append((name, "is required and must be a non-empty string"))
    occurred_at, problem = _parse_timestamp(item.get("occurred_at"), now_ms)
    if problem:
        problems.append(("occurred_at", problem))

    fields = CATALOGUE[(event_type, version)].schema["fields"]
    payload_fields = [f for f in fields if f["name"] not in _ENVELOPE_NAMES]
    known = _ENVELOPE_NAMES | {f["name"] for f in payload_fields}
    problems.extend((k, "unknown field") for k in item if k not in known)
    data: dict[str, Any] = {}
    for spec in payload_fields:
        name = spec["name"]
        if name not in item or item[name] is None:
            if "default" not in spec:
                problems.append((name, "is required"))
            else:
                data[name] = spec["default"]
            continue
        problem = _check_value(name, spec["type"], item[name])
        if problem:
            problems.append((name, problem))
        else:
            data[name] = item[name]
    if problems:
        return None, problems
    return Event(event_id=event_id, event_type=event_type, ticket_id=ticket_id,
                 occurred_at=occurred_at, schema_version=version, data=data,
                 source=str(item.get("source") or "intake")), []


def _parse_timestamp(value: Any, now_ms: int) -> tuple[int, str | None]:
    if value is None:
        return 0, "is required (ISO-8601 with time zone, or epoch milliseconds)"
    if isinstance(value, bool):
        return 0, "must be an ISO-8601 string or epoch milliseconds, got a boolean"
    if isinstance(value, int):
        millis = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0, f"{value!r} is not an ISO-8601 timestamp"
        if moment.tzinfo is None:
            return 0, f"{value!r} has no time zone (add Z or +08:00)"
        millis = round(moment.timestamp() * 1000)
    else:
        return 0, f"must be an ISO-8601 string or epoch milliseconds, got {_json_type(value)}"
    if millis < EARLIEST_MS:
        return 0, f"{value!r} is before 2000-01-01 (seconds instead of milliseconds?)"
    if millis > now_ms + MAX_FUTURE_SKEW_MS:
        return 0, f"{value!r} is more than 5 minutes in the future"
    return millis, None


def _check_value(name: str, avro_type: Any, value: Any) -> str | None:
    base = _non_null(avro_type)
    if base == "string":
        if not isinstance(value, str):
            return f"must be a string, got {_json_type(value)}"
        allowed = VOCABULARY.get(name)
        if allowed and value not in allowed:
            return f"{value!r} is not one of {', '.join(allowed)}"
        return None
    if base in ("int", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be an integer, got {_json_type(value)}"
        low, high = _RANGES.get(name, (None, None))
        if low is not None and not low <= value <= high:
            return f"{value} is outside {low}..{high}"
        return None
    if base == "double":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"must be a number, got {_json_type(value)}"
        return "must not be negative" if value < 0 else None
    if isinstance(base, dict) and base.get("type") == "array":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "must be an array of strings"
        return None
    raise TypeError(f"validation has no rule for Avro type {base!r} of field {name}")


def _non_null(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        return next(t for t in avro_type if t != "null")
    return avro_type


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string",
             list: "array", dict: "object", type(None): "null"}
    return names.get(type(value), type(value).__name__)
