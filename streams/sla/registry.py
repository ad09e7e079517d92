"""Pinned calendars in the log: every calendar a clock was ever started on, by fingerprint.

A clock keeps the fingerprint of the calendar (hours, zone, overrides, holiday data) it started
on. So that a worker running a later policy, or newer holiday data, still measures that clock
as contracted, each calendar is published once to the compacted topic
``complaints.sla-calendars`` (key: the fingerprint; value: JSON with the calendar's full spec)
before any clock can be pinned to it; a worker reads the whole topic when it starts. The
projector archives the same records in ClickHouse (``sla_calendars``).

The record codec is pure; `read_pinned_calendars` and `publish_calendars` do the Kafka I/O.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from streams import topics
from streams.sla.calendar import BusinessCalendar, calendar_from_spec
from streams.sla.policy import SlaPolicy

READ_TIMEOUT_MS = 10_000
REGISTRY_PARTITION = 0  # the topic has one partition; never rely on the key's hash
_LOG = logging.getLogger(__name__)


class CalendarRecordError(ValueError):
    """A record of the calendar topic that does not describe the calendar its key names."""


def calendar_record(calendar: BusinessCalendar, policy_version: str, at_ms: int
                    ) -> tuple[bytes, bytes]:
    """(key, value) of one pinned calendar."""
    value = {
        "fingerprint": calendar.fingerprint,
        "name": calendar.name,
        "policy_version": policy_version,
        "registered_at": at_ms,
        "spec": calendar.to_spec(),
    }
    return calendar.fingerprint.encode(), json.dumps(value, ensure_ascii=False).encode()


def calendar_from_record(key: bytes, value: bytes) -> BusinessCalendar:
    """The calendar a record describes; its spec must hash to the record's key, so a clock is
    never measured on a calendar other than the one it was pinned to."""
    try:
        record: dict[str, Any] = json.loads(value)
        calendar = calendar_from_spec(record["name"], record["spec"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CalendarRecordError(f"not a calendar record: {type(exc).__name__}: {exc}") from exc
    if calendar.fingerprint.encode() != key:
        raise CalendarRecordError(
            f"calendar {record['name']!r}: its spec hashes to {calendar.fingerprint[:12]}, "
            f"not to its key {key[:12]!r}"
        )
    return calendar


def calendars_to_publish(policy: SlaPolicy, known: Mapping[str, BusinessCalendar]
                         ) -> list[BusinessCalendar]:
    """The policy's calendars the topic does not hold yet."""
    return [cal for cal in policy.calendars.values() if cal.fingerprint not in known]


# --- Kafka I/O -------------------------------------------------------------------------------


class RegistryUnavailable(RuntimeError):
    """The calendar topic is missing or could not be read to its end."""


def read_pinned_calendars(bootstrap: str) -> dict[str, BusinessCalendar]:
    """Every calendar on the topic, by fingerprint (the topic is small: one record a calendar
    version). A record that is not a valid calendar is logged and skipped: a clock that needs
    it is caught by the worker's check of its running clocks."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=READ_TIMEOUT_MS)
    name = topics.SLA_CALENDARS.name
    try:
        if not consumer.partitions_for_topic(name):
            raise RegistryUnavailable(f"topic {name} does not exist: create the topics first "
                                      "(`complaintflow setup`, or `stack up` locally)")
        partition = TopicPartition(name, REGISTRY_PARTITION)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        calendars: dict[str, BusinessCalendar] = {}
        position = 0
        for message in consumer if end > 0 else ():
            position = message.offset + 1
            try:
                calendar = calendar_from_record(message.key or b"", message.value or b"")
            except CalendarRecordError as exc:
                _LOG.warning("skipping record %d of %s: %s", message.offset, name, exc)
            else:
                calendars[calendar.fingerprint] = calendar
            if position >= end:
                break
        if position < end:
            raise RegistryUnavailable(f"read {name} only to offset {position} of {end} within "
                                      f"{READ_TIMEOUT_MS / 1000:.0f} s")
        return calendars
    finally:
        consumer.close()


def publish_calendars(bootstrap: str, calendars: Iterable[BusinessCalendar],
                      policy_version: str, at_ms: int, profile: str = "local") -> None:
    """Publish and wait for the acknowledgement: a clock may be pinned only to a calendar that
    is durably in the log."""
    from kafka import KafkaProducer

    batching = {"linger_ms": 0, "batch_size": 1} if profile == "local" else {}
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **batching)
    try:
        for calendar in calendars:
            key, value = calendar_record(calendar, policy_version, at_ms)
            producer.send(topics.SLA_CALENDARS.name, key=key, value=value,
                          partition=REGISTRY_PARTITION).get(timeout=30)
    finally:
        producer.close()


def pin_policy(bootstrap: str, policy: SlaPolicy, at_ms: int, profile: str = "local"
               ) -> SlaPolicy:
    """The policy, able to measure every clock pinned so far; its own calendars published."""
    known = read_pinned_calendars(bootstrap)
    publish_calendars(bootstrap, calendars_to_publish(policy, known), policy.version, at_ms,
                      profile)
    return policy.with_pinned(known)
