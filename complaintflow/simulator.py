"""Seeded, realistic complaint traffic: a pure plan of events, then a paced sender.

The plan lives in simulated time; the sender replays it compressed (factor F: one wall second
is F simulated seconds), so a few minutes can represent days. Simulated time ends at the
moment the sender starts, so every occurred_at is already in the past when it is posted.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.vocabulary import CATEGORIES, CHANNELS, PRIORITIES, TIERS

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

CHANNEL_MIX = dict(zip(CHANNELS, (25, 25, 10, 15, 10, 8, 7), strict=True))
CATEGORY_MIX = dict(zip(CATEGORIES, (22, 18, 20, 8, 14, 10, 8), strict=True))
PRIORITY_MIX = dict(zip(PRIORITIES, (5, 20, 60, 15), strict=True))
TIER_MIX = dict(zip(TIERS, (10, 70, 20), strict=True))
KIND_MIX = {"complaint": 85, "suggestion": 10, "praise": 5}
REGIONS = ("shanghai", "beijing", "guangzhou", "shenzhen", "chengdu", "hangzhou")
# Dispatch rule: the category decides the responsible team.
TEAM_FOR = {"product_quality": "quality", "service_attitude": "service",
            "logistics": "logistics", "price": "sales", "after_sales": "after_sales",
            "billing": "billing", "other": "service"}
FIRST_RESPONSE_MINUTES = {"urgent": (1, 6), "high": (3, 30), "normal": (5, 45), "low": (10, 90)}
RESOLUTION_HOURS = {"urgent": 2, "high": 8, "normal": 20, "low": 36}


@dataclass(frozen=True)
class SimulationConfig:
    tickets: int = 2000
    span_ms: int = 3 * DAY
    seed: int = 7
    duplicate_rate: float = 0.01  # share of events delivered twice (same event_id)
    invalid_rate: float = 0.005  # share of tickets given an invalid transition


@dataclass
class Plan:
    events: list[dict[str, Any]]  # JSON intake payloads, in occurred_at order
    sends: list[dict[str, Any]]  # what is posted: events plus re-deliveries
    invalid_event_ids: set[str]

    @property
    def unique_events(self) -> int:
        return len(self.events)


def plan(config: SimulationConfig, end_ms: int) -> Plan:
    rng = random.Random(config.seed)
    start_ms = end_ms - config.span_ms
    customers = [f"C{n:05d}" for n in range(max(10, config.tickets // 3))]
    events: list[dict[str, Any]] = []
    invalid: set[str] = set()
    for number in range(config.tickets):
        ticket_id = f"T{config.seed}-{number:06d}"
        # Arrivals cover the first 90% of the span so most lifecycles can progress.
        received = start_ms + int(rng.random() * config.span_ms * 0.9)
        customer = customers[min(int(rng.paretovariate(1.2)) - 1, len(customers) - 1)
                             if rng.random() < 0.3 else rng.randrange(len(customers))]
        lifecycle = _lifecycle(rng, ticket_id, received, customer)
        if rng.random() < config.invalid_rate:
            bad = _invalid_transition(lifecycle)
            invalid.add(bad["event_id"])
            lifecycle.insert(2, bad)
        events.extend(e for e in lifecycle if e["occurred_at"] <= end_ms)
    orphan = _event("ticket.resolved", f"T{config.seed}-unknown", start_ms + DAY // 2, 0,
                    resolution_code="refund")
    events.append(orphan)
    invalid.add(orphan["event_id"])
    events.sort(key=lambda e: e["occurred_at"])
    sends = list(events)
    for event in rng.sample(events, int(len(events) * config.duplicate_rate)):
        sends.append(event)
    sends.sort(key=lambda e: e["occurred_at"])  # stable: a re-delivery follows its original
    return Plan(events=events, sends=sends, invalid_event_ids=invalid)


def _pick(rng: random.Random, mix: dict[str, int]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def _event(event_type: str, ticket_id: str, at: int, seq: int, **data: Any) -> dict[str, Any]:
    return {"event_type": event_type, "event_id": f"{ticket_id}-{seq:02d}-{event_type}",
            "ticket_id": ticket_id, "occurred_at": at, "source": "simulator", **data}


def _lifecycle(rng: random.Random, ticket_id: str, t: int, customer: str) -> list[dict]:
    priority, category, kind = _pick(rng, PRIORITY_MIX), _pick(rng, CATEGORY_MIX), \
        _pick(rng, KIND_MIX)
    team = TEAM_FOR[category]
    out: list[dict[str, Any]] = []

    def add(event_type: str, delay_ms: float, **data: Any) -> None:
        nonlocal t
        t += max(1000, int(delay_ms))
        out.append(_event(event_type, ticket_id, t, len(out), **data))

    out.append(_event("complaint.received", ticket_id, t, 0, channel=_pick(rng, CHANNEL_MIX),
                      category=category, priority=priority, customer_id=customer,
                      customer_tier=_pick(rng, TIER_MIX), region=rng.choice(REGIONS),
                      kind=kind))
    add("ticket.assigned", rng.uniform(0.5, 3 if priority == "urgent" else 20) * MINUTE,
        team=team, agent=f"{team}-agent-{rng.randrange(8)}")
    if rng.random() < 0.15:
        other = rng.choice([x for x in set(TEAM_FOR.values()) if x != team])
        add("ticket.transferred", rng.uniform(2, 40) * MINUTE, from_team=team, to_team=other)
        if rng.random() < 0.2:  # ping-pong: bounced back
            add("ticket.transferred", rng.uniform(5, 60) * MINUTE, from_team=other, to_team=team)
    low, high = FIRST_RESPONSE_MINUTES[priority]
    add("ticket.first_response_sent", rng.uniform(low, high) * MINUTE)
    if rng.random() < 0.3:
        add("ticket.status_changed", rng.uniform(5, 60) * MINUTE, status="pending_customer")
        add("ticket.customer_replied", rng.expovariate(1 / (3 * HOUR)))
    if priority in ("urgent", "high") and rng.random() < 0.1:
        add("ticket.escalated", rng.uniform(10, 90) * MINUTE, reason="customer unhappy")
    for cycle in range(2):
        add("ticket.resolved", rng.lognormvariate(0, 0.8) * RESOLUTION_HOURS[priority] * HOUR,
            resolution_code=rng.choice(("refund", "replacement", "explanation", "repair")))
        if rng.random() < 0.1:
            add("ticket.compensation_issued", rng.uniform(1, 30) * MINUTE,
                amount=round(rng.uniform(10, 500), 2), currency="CNY")
        if cycle == 0 and rng.random() < 0.08:
            add("ticket.reopened", rng.uniform(1, 24) * HOUR, reason="problem came back")
            continue
        if rng.random() < 0.8:
            add("ticket.customer_confirmed", rng.uniform(10, 600) * MINUTE)
        break
    if rng.random() < 0.6:
        add("survey.responded", rng.uniform(10, 240) * MINUTE,
            csat=rng.choices((1, 2, 3, 4, 5), weights=(5, 5, 10, 35, 45))[0],
            nps=rng.choices(range(11), weights=(2, 1, 1, 2, 2, 4, 6, 10, 20, 24, 28))[0])
    return out


def _invalid_transition(lifecycle: list[dict[str, Any]]) -> dict[str, Any]:
    """A customer confirmation right after assignment: nothing was resolved yet."""
    assigned = lifecycle[1]
    return _event("ticket.customer_confirmed", assigned["ticket_id"],
                  assigned["occurred_at"] + 500, 99)


@dataclass
class SendResult:
    posted: int = 0
    accepted_ids: set[str] = field(default_factory=set)
    by_type: Counter = field(default_factory=Counter)
    wall_seconds: float = 0.0


def send(sim_plan: Plan, api_url: str, compression: float, token: str | None = None,
         progress: Callable[[SendResult, float], None] | None = None,
         batch_limit: int = 500) -> SendResult:
    """Post the plan's sends in order, paced by the compressed simulated clock."""
    result = SendResult()
    sends = sim_plan.sends
    if not sends:
        return result
    first_ms, last_ms = sends[0]["occurred_at"], sends[-1]["occurred_at"]
    wall_start = time.monotonic()
    cursor = 0
    while cursor < len(sends):
        sim_now = first_ms + (time.monotonic() - wall_start) * compression * 1000
        due = cursor
        while due < len(sends) and sends[due]["occurred_at"] <= sim_now and \
                due - cursor < batch_limit:
            due += 1
        if due == cursor:
            time.sleep(0.02)
            continue
        batch = sends[cursor:due]
        result.accepted_ids.update(_post(api_url, batch, token))
        result.posted += len(batch)
        result.by_type.update(e["event_type"] for e in batch)
        cursor = due
        if progress:
            progress(result, (sends[cursor - 1]["occurred_at"] - first_ms) /
                     max(1, last_ms - first_ms))
    result.wall_seconds = time.monotonic() - wall_start
    return result


def _post(api_url: str, batch: list[dict[str, Any]], token: str | None) -> list[str]:
    body = json.dumps([{**e, "occurred_at": _iso(e["occurred_at"])} for e in batch]).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{api_url}/v1/events", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["accepted"]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
