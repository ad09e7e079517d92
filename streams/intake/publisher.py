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
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # aiokafka binds to the running loop, so the producer is made here, not in __init__.
        # No idempotent producer: Tansu refuses aiokafka's InitProducerId; a retried send
        # is harmless anyway, as every consumer ignores a repeated event_id.
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all",
                                          linger_ms=0)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer:
            await self._producer.stop()

    async def publish(self, events: list[Event]) -> None:
        if self._producer is None:
            raise RuntimeError("publisher not started")
        sends = [await self._producer.send(topics.EVENTS.name, key=e.ticket_id.encode(),
                                           value=serde.encode(e)) for e in events]
        await asyncio.gather(*sends)
