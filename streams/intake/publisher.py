"""Publishing validated events to `complaints.events`, keyed by ticket_id."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from schemas import serde
from schemas.event import Event
from streams import topics


class KafkaPublisher:
    """Async publisher used by the HTTP API; waits for every acknowledgement."""

    def __init__(self, bootstrap: str):
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                          enable_idempotence=True, linger_ms=0)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, events: list[Event]) -> None:
        sends = [await self._producer.send(topics.EVENTS.name, key=e.ticket_id.encode(),
                                           value=serde.encode(e)) for e in events]
        await asyncio.gather(*sends)
