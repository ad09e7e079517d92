"""What the ClickHouse archive gives back to a broker that lost its log (docs/replay.md).

Three tables are archives, not projections that the topics can rebuild on their own:

- ``complaint_events``: every input event that reached ``complaints.events``, with the
  partition and offset it had there. Re-encoded as the Avro event it was (the schema version
  the projector decoded it to), it goes back on ``complaints.events`` in log order.
- ``sla_calendars``: every calendar an SLA clock was pinned to; back on
  ``complaints.sla-calendars`` as the record `streams.sla.registry.calendar_record` makes.
- ``dead_letters``: the letters no processor derives again from the restored input (refused
  at intake, undecodable bytes) go back on ``complaints.dlq``. Those of the ticket and SLA
  processors are derived again by the worker, so they are not restored but deleted and
  rebuilt (their ids may contain the wall time of the refusal).

Pure conversions plus the queries that read them; the Kafka side is in complaintflow.replay.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from projections.migrate import Executor
from schemas.event import Event
from streams import topics
from streams.deadletter import DeadLetter

# Letters the worker writes again when it processes the restored input: the ticket processor's
# refusals (streams/tickets/handling.py STAGE) and the SLA engine's (streams/sla/handling.py).
DERIVED_STAGES = ("ticket_state", "sla")
PROJECTOR_STAGE = "projector"
# The projector's own letters about these topics concern bytes the archive does not hold (they
# were never decodable input), so they are restored; its letters about the worker's output
# topics are made again (or not) when the projector reads the rebuilt output.
_LOST_BYTES_TOPICS = (topics.EVENTS.name, topics.DLQ.name)

_POSITION_SHIFT = 1 << 40  # partition * 2^40 + offset: one sortable number per log position


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
                     for value in values)


RESTORED_LETTERS = (
    f"(stage NOT IN ({_sql_list((*DERIVED_STAGES, PROJECTOR_STAGE))}) OR "
    f"(stage = '{PROJECTOR_STAGE}' AND source_topic IN ({_sql_list(_LOST_BYTES_TOPICS)})))"
)
DERIVED_LETTERS = f"NOT {RESTORED_LETTERS}"
# Letters a replay from the topics cannot make again unless complaints.dlq still holds them.
ARCHIVAL_LETTERS = f"stage NOT IN ({_sql_list((*DERIVED_STAGES, PROJECTOR_STAGE))})"

# One row per event_id, at the first position it was archived at: a re-delivered event was
# ignored by the worker where it came again, so its first position is where it took effect.
# Rows of the same event from an earlier restore (new offsets) sort consistently too: the
# restored log is the old one without repeats, so every event's new offset is at most its
# old one, and the projector archives each partition in offset order.
ARCHIVE_IN_LOG_ORDER = f"""
SELECT event_id, argMin(event_type, position), argMin(ticket_id, position),
       argMin(occurred_at_ms, position), argMin(schema_version, position),
       argMin(source, position), argMin(payload, position), min(position) AS first_position
FROM (SELECT event_id, event_type, ticket_id, occurred_at_ms, schema_version, source, payload,
             toUInt64(kafka_partition) * {_POSITION_SHIFT} + kafka_offset AS position
      FROM complaint_events)
GROUP BY event_id
ORDER BY first_position, event_id
"""
ARCHIVE_COUNTS = "SELECT uniqExact(event_id), uniqExact(ticket_id) FROM complaint_events"
ARCHIVED_EVENT_IDS = "SELECT DISTINCT event_id FROM complaint_events"
CALENDARS = """
SELECT fingerprint, name, policy_version, registered_ms, spec
FROM sla_calendars FINAL
ORDER BY registered_ms, fingerprint
"""
LETTER_COLUMNS = ("dlq_id", "stage", "reason", "field", "event_id", "event_type", "ticket_id",
                  "occurred_at", "source_topic", "source_partition", "source_offset",
                  "original", "recorded_ms")
RESTORED_LETTER_ROWS = f"""
SELECT {", ".join(LETTER_COLUMNS)}
FROM dead_letters FINAL
WHERE {RESTORED_LETTERS}
ORDER BY recorded_ms, dlq_id
"""
ARCHIVAL_LETTER_IDS = f"SELECT DISTINCT dlq_id FROM dead_letters WHERE {ARCHIVAL_LETTERS}"


# ---------------------------------------------------------------- rows -> records


def event_from_archive(row: Sequence[Any]) -> Event:
    """An ARCHIVE_IN_LOG_ORDER row as the Event it was decoded to (payload: its data)."""
    event_id, event_type, ticket_id, occurred_at_ms, schema_version, source, payload = row[:7]
    return Event(event_id=event_id, event_type=event_type, ticket_id=ticket_id,
                 occurred_at=int(occurred_at_ms), schema_version=int(schema_version),
                 data=json.loads(payload), source=source or "intake")


def calendar_record_from_archive(row: Sequence[Any]) -> tuple[bytes, bytes]:
    """A CALENDARS row as the (key, value) streams.sla.registry.calendar_record published."""
    fingerprint, name, policy_version, registered_ms, spec = row
    value = {"fingerprint": fingerprint, "name": name, "policy_version": policy_version,
             "registered_at": int(registered_ms), "spec": json.loads(spec)}
    return fingerprint.encode(), json.dumps(value, ensure_ascii=False).encode()


def _optional(value: Any) -> Any:
    return None if value == "" else value


def _epoch_ms(value: datetime | None) -> int | None:
    # dead_letters.occurred_at keeps whole seconds; the restored letter projects to the same row
    return None if value is None else int(value.timestamp()) * 1000


def letter_from_archive(row: Sequence[Any]) -> DeadLetter:
    """A RESTORED_LETTER_ROWS row as the letter that was on complaints.dlq."""
    values = dict(zip(LETTER_COLUMNS, row, strict=True))
    return DeadLetter(
        dlq_id=values["dlq_id"], stage=values["stage"], reason=values["reason"],
        recorded_at=int(values["recorded_ms"]), field=_optional(values["field"]),
        event_id=_optional(values["event_id"]), event_type=_optional(values["event_type"]),
        ticket_id=_optional(values["ticket_id"]),
        occurred_at=_epoch_ms(values["occurred_at"]),
        source_topic=_optional(values["source_topic"]),
        source_partition=values["source_partition"], source_offset=values["source_offset"],
        original=_optional(values["original"]),
    )


# ---------------------------------------------------------------- reading


def archive_counts(client: Executor) -> tuple[int, int]:
    """(distinct archived input events, distinct tickets)."""
    events, tickets = client.execute(ARCHIVE_COUNTS)[0]
    return int(events), int(tickets)


def archived_events(client: Any, block_rows: int = 10_000) -> Iterator[Event]:
    """Every archived input event once, in log order (streamed, not loaded at once)."""
    rows = client.execute_iter(ARCHIVE_IN_LOG_ORDER, settings={"max_block_size": block_rows})
    for row in rows:
        yield event_from_archive(row)


def archived_calendars(client: Executor) -> list[tuple[bytes, bytes]]:
    return [calendar_record_from_archive(row) for row in client.execute(CALENDARS)]


def restored_letters(client: Executor) -> list[DeadLetter]:
    return [letter_from_archive(row) for row in client.execute(RESTORED_LETTER_ROWS)]
