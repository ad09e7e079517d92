"""Synchronous Python producer client and bulk import of JSON-lines files."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaProducer

from schemas import serde
from schemas.event import Event
from schemas.validation import parse_event
from streams import topics
from streams.deadletter import DeadLetter


class EventProducer:
    """Validated events in, framed Avro on `complaints.events` out (kafka-python)."""

    def __init__(self, bootstrap: str, profile: str = "local"):
        # On the local broker one record per batch keeps end offsets right (docs/local-stack.md).
        batching = {"linger_ms": 0, "batch_size": 1} if profile == "local" else {"linger_ms": 5}
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **batching)

    def send(self, event: Event) -> None:
        self._producer.send(topics.EVENTS.name, key=event.ticket_id.encode(),
                            value=serde.encode(event))

    def send_dead_letter(self, letter: DeadLetter) -> None:
        key = letter.ticket_id.encode() if letter.ticket_id else None
        self._producer.send(topics.DLQ.name, key=key, value=letter.to_json())

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.close()


@dataclass
class ImportSummary:
    sent: int = 0
    dead_lettered: int = 0
    problems: list[str] = field(default_factory=list)


def import_lines(lines: Iterable[str], producer: EventProducer, origin: str,
                 now_ms: int | None = None) -> ImportSummary:
    """Valid lines are sent; each invalid line goes to the dead-letter topic with its reason."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    summary = ImportSummary()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event, problems = _parse_line(line, now_ms)
        if event is not None:
            producer.send(event)
            summary.sent += 1
            continue
        reason = "; ".join(f"{f or '<event>'}: {m}" for f, m in problems)
        digest = hashlib.sha1(line.encode()).hexdigest()[:16]
        producer.send_dead_letter(DeadLetter(
            dlq_id=f"intake:{digest}", stage="intake", reason=reason, recorded_at=now_ms,
            field=problems[0][0] or None, original=line.rstrip("\n"),
            source_topic=origin, source_offset=number))
        summary.dead_lettered += 1
        summary.problems.append(f"{origin}:{number}: {reason}")
    producer.flush()
    return summary


def import_file(path: Path, producer: EventProducer) -> ImportSummary:
    with path.open(encoding="utf-8") as lines:
        return import_lines(lines, producer, origin=str(path))


def _parse_line(line: str, now_ms: int) -> tuple[Event | None, list[tuple[str, str]]]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, [("", f"malformed JSON: {exc}")]
    return parse_event(item, now_ms)
