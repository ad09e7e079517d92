"""HTTP intake: `POST /v1/events` takes one JSON event or an array, all or nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from schemas.event import Event
from schemas.validation import FieldError, InvalidEvents, parse_events
from streams.intake.publisher import KafkaPublisher

ACCEPTED = Counter("complaintflow_intake_accepted_total", "Events accepted by the intake")
REFUSED = Counter("complaintflow_intake_refused_requests_total", "Requests refused", ["status"])


class Publisher(Protocol):
    async def publish(self, events: list[Event]) -> None: ...


def create_api(publisher: Publisher, token: str | None = None,
               clock: Callable[[], float] = time.time) -> web.Application:
    async def post_events(request: web.Request) -> web.Response:
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            REFUSED.labels("401").inc()
            return web.json_response({"error": "missing or wrong bearer token"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _bad_request([FieldError(0, "", f"malformed JSON: {exc}")])
        items = body if isinstance(body, list) else [body]
        if not items:
            return _bad_request([FieldError(0, "", "empty array: no events to accept")])
        try:
            events = parse_events(items, now_ms=int(clock() * 1000))
        except InvalidEvents as exc:
            return _bad_request(exc.errors)
        await publisher.publish(events)
        ACCEPTED.inc(len(events))
        return web.json_response({"accepted": [e.event_id for e in events]}, status=202)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.add_routes([web.post("/v1/events", post_events), web.get("/healthz", health),
                    web.get("/metrics", metrics)])
    return app


def _bad_request(errors: list[FieldError]) -> web.Response:
    REFUSED.labels("400").inc()
    return web.json_response({"errors": [e.as_dict() for e in errors]}, status=400)


def run_api(bootstrap: str, host: str, port: int, token: str | None) -> None:
    publisher = KafkaPublisher(bootstrap)

    async def start(_app: web.Application) -> None:
        await publisher.start()

    async def stop(_app: web.Application) -> None:
        await publisher.stop()

    app = create_api(publisher, token)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    web.run_app(app, host=host, port=port, print=None)
