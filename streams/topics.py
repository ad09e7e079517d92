"""Every Kafka topic of the system, declared once: name, partitions, what it carries.

All topics are keyed by ticket_id so one ticket's events stay in order on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

PARTITIONS = 4


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    carries: str
    compacted: bool = False  # only the latest record per key matters


EVENTS = TopicSpec("complaints.events", PARTITIONS, "input complaint actions (Avro, framed)")
TICKET_STATE = TopicSpec("complaints.ticket-state", PARTITIONS, "ticket.state_changed")
SLA = TopicSpec("complaints.sla", PARTITIONS, "sla.* outcomes")
DETECTIONS = TopicSpec("complaints.detections", PARTITIONS, "repeat / ping-pong / spike events")
DLQ = TopicSpec("complaints.dlq", PARTITIONS, "rejected input with the reason (JSON)")
# Wall-clock ticks, one per partition, so deadline checks (and the end of a batch the input
# left half full) happen inside the worker's one stream, in order with the input.
SLA_TICKS = TopicSpec("complaints.sla-ticks", PARTITIONS, "internal: SLA timer ticks")

# Every calendar an SLA clock was pinned to, keyed by fingerprint (streams/sla/registry.py).
SLA_CALENDARS = TopicSpec("complaints.sla-calendars", 1, "pinned SLA calendars (JSON)",
                          compacted=True)

# The worker's per-ticket state (ticket and SLA clocks), one record per changed ticket per
# batch; it recovers a partition's state from here (streams/pipeline/store.py).
WORKER_STATE = TopicSpec("complaints.worker-state", PARTITIONS,
                         "internal: the worker's per-ticket state (JSON)", compacted=True)

ALL_TOPICS: tuple[TopicSpec, ...] = (EVENTS, TICKET_STATE, SLA, DETECTIONS, DLQ, SLA_TICKS,
                                     SLA_CALENDARS, WORKER_STATE)
