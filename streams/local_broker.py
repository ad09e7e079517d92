"""Faust transport for the local Tansu broker, registered as the `tansu://` URL scheme.

Faust fixes the consumer's fetch wait at 1.5 s. Apache Kafka answers a waiting fetch as soon
as data arrives, but Tansu answers late, so every hop between agents cost 0.2–0.7 s and SLA
breaches fired up to 0.65 s after their deadline. A short wait brings a hop to ~30 ms.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 100


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer
