"""The HTTP contract of POST /v1/events (publisher recorded in memory; Kafka in integration)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from schemas.event import Event
from streams.intake.api import create_api
from tests.test_validation import GOOD, NOW


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, events: list[Event]) -> None:
        self.published.extend(events)


def call(scenario: Callable[[TestClient, RecordingPublisher], Awaitable[Any]],
         token: str | None = None) -> Any:
    async def run() -> Any:
        publisher = RecordingPublisher()
        app = create_api(publisher, token=token, clock=lambda: NOW / 1000)
        async with TestClient(TestServer(app)) as client:
            return await scenario(client, publisher)

    return asyncio.run(run())


def test_single_event_is_accepted_with_its_id():
    async def scenario(client: TestClient, publisher: RecordingPublisher):
        response = await client.post("/v1/events", json=GOOD)
        assert response.status == 202
        assert await response.json() == {"accepted": ["e1"]}
        assert [e.ticket_id for e in publisher.published] == ["T1"]

    call(scenario)


def test_array_is_accepted_in_order():
    async def scenario(client: TestClient, publisher: RecordingPublisher):
        assigned = {"event_id": "e2", "event_type": "ticket.assigned", "ticket_id": "T1",
                    "occurred_at": GOOD["occurred_at"], "team": "sales"}
        batch = [GOOD, assigned]
        response = await client.post("/v1/events", json=batch)
        assert response.status == 202, await response.text()
        assert [e.event_id for e in publisher.published] == ["e1", "e2"]

    call(scenario)


def test_bad_batch_is_refused_whole_with_one_entry_per_problem():
    async def scenario(client: TestClient, publisher: RecordingPublisher):
        response = await client.post("/v1/events", json=[GOOD, {**GOOD, "channel": "fax"}])
        assert response.status == 400
        body = await response.json()
        assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "channel")]
        assert publisher.published == []

    call(scenario)


def test_malformed_json_and_empty_array_are_400():
    async def scenario(client: TestClient, _publisher: RecordingPublisher):
        broken = await client.post("/v1/events", data=b"{not json",
                                   headers={"Content-Type": "application/json"})
        assert broken.status == 400
        assert "malformed JSON" in (await broken.json())["errors"][0]["message"]
        empty = await client.post("/v1/events", json=[])
        assert empty.status == 400

    call(scenario)


def test_bearer_token_is_required_when_configured():
    async def scenario(client: TestClient, publisher: RecordingPublisher):
        assert (await client.post("/v1/events", json=GOOD)).status == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.post("/v1/events", json=GOOD, headers=wrong)).status == 401
        right = {"Authorization": "Bearer s3cret"}
        assert (await client.post("/v1/events", json=GOOD, headers=right)).status == 202
        assert len(publisher.published) == 1

    call(scenario, token="s3cret")


def test_metrics_endpoint_exposes_intake_counters():
    async def scenario(client: TestClient, _publisher: RecordingPublisher):
        await client.post("/v1/events", data=json.dumps(GOOD))
        text = await (await client.get("/metrics")).text()
        assert "complaintflow_intake_accepted_total" in text

    call(scenario)
