"""The event envelope as a plain value: what every module passes around."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENVELOPE_KEYS = ("event_id", "event_type", "ticket_id", "occurred_at", "schema_version",
                 "source", "caused_by")


@dataclass(frozen=True)
class Event:
    event_id: str
    event_type: str
    ticket_id: str
    occurred_at: int  # event time, UTC epoch milliseconds
    schema_version: int
    data: dict[str, Any] = field(default_factory=dict)  # payload fields of the schema
    source: str = "intake"
    caused_by: str | None = None

    def to_record(self) -> dict[str, Any]:
        """Flat dict in the layout of the Avro record."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "ticket_id": self.ticket_id,
            "occurred_at": self.occurred_at,
            "schema_version": self.schema_version,
            "source": self.source,
            "caused_by": self.caused_by,
            **self.data,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Event:
        data = {k: v for k, v in record.items() if k not in ENVELOPE_KEYS}
        return cls(
            event_id=record["event_id"],
            event_type=record["event_type"],
            ticket_id=record["ticket_id"],
            occurred_at=record["occurred_at"],
            schema_version=record["schema_version"],
            data=data,
            source=record.get("source") or "intake",
            caused_by=record.get("caused_by"),
        )
