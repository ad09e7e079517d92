"""Small builders for events used across tests."""

from __future__ import annotations

import itertools
from typing import Any

from schemas.catalogue import CURRENT
from schemas.event import Event

_ids = itertools.count(1)

RECEIVED = {"channel": "wechat", "category": "logistics", "priority": "normal",
            "customer_id": "C1", "customer_tier": "regular", "region": "shanghai",
            "summary": None, "kind": "complaint"}
T0 = 1_763_856_000_000  # 2025-11-23T00:00:00Z


def event(event_type: str, ticket_id: str = "T1", at: int = T0, event_id: str | None = None,
          **data: Any) -> Event:
    if event_type == "complaint.received":
        data = {**RECEIVED, **data}
    return Event(event_id=event_id or f"e{next(_ids)}", event_type=event_type,
                 ticket_id=ticket_id, occurred_at=at,
                 schema_version=CURRENT[event_type].version, data=data)
