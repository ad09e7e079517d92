"""Every schema round-trips; the current reader decodes data written with released versions."""

from __future__ import annotations

import io
import struct
from typing import Any

import fastavro
import pytest

from schemas import serde
from schemas.catalogue import BY_ID, CATALOGUE, CURRENT, ENVELOPE_FIELDS, SCHEMA_IDS
from schemas.event import Event

CATALOGUE_NAMES = {
    "complaint.received", "complaint.classified", "ticket.assigned", "ticket.transferred",
    "ticket.first_response_sent", "ticket.customer_replied", "ticket.agent_replied",
    "ticket.status_changed", "ticket.escalated", "ticket.resolved", "ticket.customer_confirmed",
    "ticket.reopened", "survey.responded", "ticket.compensation_issued",
    "ticket.state_changed", "sla.warning", "sla.breached", "sla.met", "sla.paused",
    "sla.resumed", "sla.breach_retracted", "repeat.detected", "transfer.pingpong_detected",
    "volume.spike_detected", "satisfaction.low_score", "sla.started", "sla.stopped",
    "sla.holiday_data_warning",
}
_SAMPLES = {"string": "x", "int": 3, "long": 1_763_856_000_123, "double": 2.5}


def _sample(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        return _sample(next(t for t in avro_type if t != "null"))
    if isinstance(avro_type, dict):
        return ["a", "b"] if avro_type["type"] == "array" else _sample(avro_type["type"])
    return _SAMPLES[avro_type]


def _sample_event(event_type: str, version: int) -> Event:
    fields = CATALOGUE[(event_type, version)].schema["fields"][len(ENVELOPE_FIELDS):]
    return Event(event_id="e-1", event_type=event_type, ticket_id="T-1",
                 occurred_at=1_763_856_000_123, schema_version=version,
                 data={f["name"]: _sample(f["type"]) for f in fields}, source="test",
                 caused_by="cause-1")


def test_catalogue_has_every_event_of_the_domain_contract():
    assert set(CURRENT) == CATALOGUE_NAMES


@pytest.mark.parametrize("event_type", sorted(CATALOGUE_NAMES))
def test_every_current_schema_round_trips(event_type: str):
    original = _sample_event(event_type, CURRENT[event_type].version)
    framed = serde.encode(original)
    assert framed[0] == 0 and struct.unpack(">I", framed[1:5])[0] == CURRENT[event_type].schema_id
    assert serde.decode(framed) == original


def test_schemas_are_valid_avro_and_ids_are_unique_and_append_only():
    for entry in CATALOGUE.values():
        fastavro.parse_schema(entry.schema)
    assert len(BY_ID) == len(CATALOGUE)
    # Released ids never move: downstream consumers may have cached them.
    assert SCHEMA_IDS[("complaint.received", 1)] == 1
    assert SCHEMA_IDS[("complaint.received", 2)] == 2


def test_current_reader_decodes_data_written_with_released_v1():
    v1 = _sample_event("complaint.received", 1)
    decoded = serde.decode(serde.encode(v1))
    assert decoded.schema_version == 2
    assert decoded.data["kind"] == "complaint"  # the v2 default fills the new field
    assert {k: decoded.data[k] for k in v1.data} == v1.data


def test_every_newer_version_can_read_every_older_one():
    for (event_type, version), entry in CATALOGUE.items():
        newest = CURRENT[event_type]
        if version == newest.version:
            continue
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, entry.schema, _sample_event(event_type, version)
                                   .to_record())
        buffer.seek(0)
        fastavro.schemaless_reader(buffer, entry.schema, newest.schema)


@pytest.mark.parametrize(("payload", "message"), [
    (b"", "shorter than the wire header"),
    (b"\x01\x00\x00\x00\x01abc", "magic byte"),
    (b"\x00\x00\x00\x99\x99abc", "unknown schema id"),
    (b"\x00\x00\x00\x00\x01\xff\xff\xff", "corrupt Avro body"),
])
def test_bad_bytes_raise_a_decode_error(payload: bytes, message: str):
    with pytest.raises(serde.DecodeError, match=message):
        serde.decode(payload)
