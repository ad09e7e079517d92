"""Avro serialization in the Confluent wire format: magic byte 0, 4-byte schema id, Avro body.

Downstream Kafka tooling (Kafka Connect, ksqlDB, kcat -s avro, Flink/Spark Avro formats) reads
this framing. The schema ids come from the catalogue, which is what a schema registry would
have handed out; so the local stack needs no registry server, and production can register
the same schemas under the same ids.
"""

from __future__ import annotations

import io
import struct
from datetime import datetime
from functools import cache
from typing import Any

import fastavro

from schemas.catalogue import BY_ID, CATALOGUE, CURRENT, SchemaEntry
from schemas.event import Event

MAGIC = 0
_HEADER = struct.Struct(">bI")


class DecodeError(ValueError):
    """Bytes that are not a framed event of the catalogue."""


@cache
def _parsed(event_type: str, version: int) -> Any:
    return fastavro.parse_schema(CATALOGUE[(event_type, version)].schema)


def encode(event: Event) -> bytes:
    entry = CATALOGUE.get((event.event_type, event.schema_version))
    if entry is None:
        raise ValueError(f"no schema for {event.event_type} v{event.schema_version}")
    buffer = io.BytesIO()
    buffer.write(_HEADER.pack(MAGIC, entry.schema_id))
    fastavro.schemaless_writer(buffer, _parsed(entry.event_type, entry.version), event.to_record())
    return buffer.getvalue()


def writer_entry(payload: bytes) -> SchemaEntry:
    if len(payload) < _HEADER.size:
        raise DecodeError(f"message of {len(payload)} bytes is shorter than the wire header")
    magic, schema_id = _HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise DecodeError(f"magic byte is {magic}, expected {MAGIC}")
    entry = BY_ID.get(schema_id)
    if entry is None:
        raise DecodeError(f"unknown schema id {schema_id}")
    return entry


def decode(payload: bytes) -> Event:
    """Decode with the writer's schema, resolved to the current reader schema of its type."""
    entry = writer_entry(payload)
    reader = CURRENT[entry.event_type]
    try:
        record = fastavro.schemaless_reader(
            io.BytesIO(payload[_HEADER.size:]),
            _parsed(entry.event_type, entry.version),
            _parsed(reader.event_type, reader.version),
        )
    except Exception as exc:  # fastavro raises several unrelated types for a corrupt body
        raise DecodeError(f"corrupt Avro body for schema id {entry.schema_id}: {exc}") from exc
    record = {k: _epoch_ms(v) for k, v in record.items()}
    record["schema_version"] = reader.version
    return Event.from_record(record)


def _epoch_ms(value: Any) -> Any:
    # fastavro turns timestamp-millis into datetimes; the domain keeps epoch milliseconds.
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    return value
