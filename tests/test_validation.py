"""JSON input validation: every problem named by index and field."""

from __future__ import annotations

import pytest

from schemas.validation import InvalidEvents, parse_events

NOW = 1_795_400_000_000  # 2026-11-23T02:13:20Z
GOOD = {"event_type": "complaint.received", "event_id": "e1", "ticket_id": "T1",
        "occurred_at": "2026-11-23T01:00:00+08:00", "channel": "app", "category": "price",
        "priority": "low", "customer_id": "C9", "customer_tier": "new", "region": "chengdu"}


def test_valid_event_is_parsed_with_defaults_and_epoch_ms():
    [event] = parse_events([GOOD], NOW)
    assert event.occurred_at == 1_795_366_800_000  # 2026-11-22T17:00:00Z
    assert event.schema_version == 2
    assert event.data["kind"] == "complaint" and event.data["summary"] is None


def test_missing_event_id_is_generated():
    [event] = parse_events([{k: v for k, v in GOOD.items() if k != "event_id"}], NOW)
    assert len(event.event_id) == 36


def test_epoch_milliseconds_are_accepted():
    [event] = parse_events([{**GOOD, "occurred_at": 1_795_366_800_000}], NOW)
    assert event.occurred_at == 1_795_366_800_000


def test_released_version_can_still_be_sent():
    [event] = parse_events([{**GOOD, "schema_version": 1}], NOW)
    assert event.schema_version == 1 and "kind" not in event.data


BAD = [
    ({**GOOD, "event_type": "ticket.exploded"}, "event_type", "unknown input event type"),
    ({**GOOD, "event_type": "sla.breached"}, "event_type", "unknown input event type"),
    ({k: v for k, v in GOOD.items() if k != "event_type"}, "event_type", "is required"),
    ({**GOOD, "schema_version": 9}, "schema_version", "no schema version 9"),
    ({**GOOD, "ticket_id": ""}, "ticket_id", "non-empty string"),
    ({**GOOD, "ticket_id": 42}, "ticket_id", "non-empty string"),
    ({k: v for k, v in GOOD.items() if k != "occurred_at"}, "occurred_at", "is required"),
    ({**GOOD, "occurred_at": "yesterday"}, "occurred_at", "not an ISO-8601"),
    ({**GOOD, "occurred_at": "2026-11-23T01:00:00"}, "occurred_at", "no time zone"),
    ({**GOOD, "occurred_at": 1_795_366_800}, "occurred_at", "seconds instead of milliseconds"),
    ({**GOOD, "occurred_at": "2027-01-01T00:00:00Z"}, "occurred_at", "in the future"),
    ({**GOOD, "occurred_at": True}, "occurred_at", "boolean"),
    ({k: v for k, v in GOOD.items() if k != "channel"}, "channel", "is required"),
    ({**GOOD, "channel": "fax"}, "channel", "'fax' is not one of"),
    ({**GOOD, "priority": 1}, "priority", "must be a string, got number"),
    ({**GOOD, "colour": "red"}, "colour", "unknown field"),
    ({"event_type": "survey.responded", "ticket_id": "T1", "occurred_at": NOW,
      "csat": 6}, "csat", "outside 1..5"),
    ({"event_type": "survey.responded", "ticket_id": "T1", "occurred_at": NOW,
      "nps": "ten"}, "nps", "must be an integer"),
    ({"event_type": "ticket.compensation_issued", "ticket_id": "T1", "occurred_at": NOW,
      "amount": -5, "currency": "CNY"}, "amount", "must not be negative"),
    ({"event_type": "ticket.status_changed", "ticket_id": "T1", "occurred_at": NOW,
      "status": "closed"}, "status", "is not one of"),
    ("just a string", "", "expected a JSON object"),
]


@pytest.mark.parametrize(("item", "field", "message"), BAD)
def test_bad_event_names_the_field(item, field: str, message: str):
    with pytest.raises(InvalidEvents) as caught:
        parse_events([item], NOW)
    assert [(e.index, e.field) for e in caught.value.errors] == [(0, field)]
    assert message in caught.value.errors[0].message


def test_batch_is_all_or_nothing_and_lists_every_problem():
    batch = [GOOD, {**GOOD, "channel": "fax"}, GOOD, {**GOOD, "region": None, "priority": 3}]
    with pytest.raises(InvalidEvents) as caught:
        parse_events(batch, NOW)
    assert [(e.index, e.field) for e in caught.value.errors] == \
        [(1, "channel"), (3, "priority"), (3, "region")]
