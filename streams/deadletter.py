"""Dead letters: rejected input, kept with the reason on `complaints.dlq` (JSON, human-readable).

JSON rather than Avro because a dead letter may wrap bytes that were never a valid event.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any

from schemas.event import Event


@dataclass(frozen=True)
class DeadLetter:
    dlq_id: str  # event_id when known, else topic:partition:offset; repeats are one letter
    stage: str  # where it was refused: intake, decode, ticket_state, ...
    reason: str
    recorded_at: int  # epoch ms
    field: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    ticket_id: str | None = None
    occurred_at: int | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    original: str | None = None  # base64 of the refused bytes, or the refused JSON text

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> DeadLetter:
        return cls(**json.loads(payload))

    @classmethod
    def for_event(cls, event: Event, stage: str, reason: str, recorded_at: int,
                  field: str | None = None, **origin: Any) -> DeadLetter:
        return cls(dlq_id=event.event_id, stage=stage, reason=reason, recorded_at=recorded_at,
                   field=field, event_id=event.event_id, event_type=event.event_type,
                   ticket_id=event.ticket_id, occurred_at=event.occurred_at,
                   original=json.dumps(event.to_record(), ensure_ascii=False), **origin)

    @classmethod
    def for_bytes(cls, raw: bytes, stage: str, reason: str, recorded_at: int, topic: str,
                  partition: int, offset: int) -> DeadLetter:
        return cls(dlq_id=f"{topic}:{partition}:{offset}", stage=stage, reason=reason,
                   recorded_at=recorded_at, source_topic=topic, source_partition=partition,
                   source_offset=offset, original=base64.b64encode(raw).decode())
