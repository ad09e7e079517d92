"""The Faust application: one app, every topic declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from streams import topics

# The local broker (Tansu) joins consumer groups slowly with Faust's defaults
# (docs/local-stack.md): rebalance and session timeouts short enough that a fresh group joins
# in ~5 s rather than ~30 s; a poll interval long enough that a worker busy with a large
# backlog on the shared 2-core machine is not evicted (at 60 s one was, in the benchmark's
# one-record-per-batch run, and Tansu did not take it back). The worker keeps no Faust
# table, so unlike before no producer setting is needed to keep changelogs recoverable there.
_LOCAL_BROKER_SETTINGS: dict[str, Any] = {
    "broker_max_poll_interval": 300.0,
    "broker_rebalance_timeout": 5.0,
    "broker_session_timeout": 6.0,
    "broker_heartbeat_interval": 1.0,
}


def create_app(bootstrap: str, profile: str, data_dir: Path,
               app_id: str = "complaintflow") -> faust.App:
    """``profile`` "local" (the Tansu broker of `complaintflow stack`) or "kafka"."""
    local = profile == "local"
    # tansu:// is Faust's Kafka transport with a shorter fetch wait (streams/local_broker.py).
    scheme = "tansu" if local else "kafka"
    data_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        broker=f"{scheme}://{bootstrap}",
        store="memory://",
        datadir=str(data_dir),
        topic_replication_factor=1,
        topic_partitions=topics.PARTITIONS,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        **(_LOCAL_BROKER_SETTINGS if local else {}),
    )


def raw_topic(app: faust.App, spec: topics.TopicSpec) -> faust.TopicT:
    """Topics carry framed Avro or JSON bytes; the domain modules do the decoding."""
    return app.topic(spec.name, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=spec.partitions)
