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
from collections.abc import Iterable, Mapping
from typing import Any

from streams import topics
from streams.sla.calendar import BusinessCalendar, calendar_from_spec
from streams.sla.policy import SlaPolicy

READ_TIMEOUT_MS = 10_000


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


def calendar_from_record(value: bytes) -> BusinessCalendar:
    """The calendar a record describes; its fingerprint must match what the record claims, so
    a clock is never measured on a calendar other than the one it was pinned to."""
    try:
        record: dict[str, Any] = json.loads(value)
        calendar = calendar_from_spec(record["name"], record["spec"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CalendarRecordError(f"not a calendar record: {type(exc).__name__}: {exc}") from exc
    if calendar.fingerprint != record["fingerprint"]:
        raise CalendarRecordError(
            f"calendar {record['name']!r}: its spec hashes to {calendar.fingerprint[:12]}, "
            f"not to the recorded {str(record['fingerprint'])[:12]}"
        )
    return calendar


def calendars_to_publish(policy: SlaPolicy, known: Mapping[str, BusinessCalendar]
                         ) -> list[BusinessCalendar]:
    """The policy's calendars the topic does not hold yet."""
    return [cal for cal in policy.calendars.values() if cal.fingerprint not in known]


# --- Kafka I/O -------------------------------------------------------------------------------


def read_pinned_calendars(bootstrap: str) -> dict[str, BusinessCalendar]:
    """Every calendar on the topic, by fingerprint (the topic is small: one record a calendar
    version)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=READ_TIMEOUT_MS)
    try:
        partitions = [TopicPartition(topics.SLA_CALENDARS.name, p)
                      for p in range(topics.SLA_CALENDARS.partitions)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        calendars = {}
        pending = {tp for tp in partitions if ends[tp] > 0}
        for message in consumer if pending else ():
            if message.value is not None:
                calendar = calendar_from_record(message.value)
                calendars[calendar.fingerprint] = calendar
            tp = TopicPartition(message.topic, message.partition)
            if message.offset + 1 >= ends[tp]:
                pending.discard(tp)
            if not pending:
                break
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
            producer.send(topics.SLA_CALENDARS.name, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


def pin_policy(bootstrap: str, policy: SlaPolicy, at_ms: int, profile: str = "local"
               ) -> SlaPolicy:
    """The policy, able to measure every clock pinned so far; its own calendars published."""
    known = read_pinned_calendars(bootstrap)
    publish_calendars(bootstrap, calendars_to_publish(policy, known), policy.version, at_ms,
                      profile)
    return policy.with_pinned(known)
