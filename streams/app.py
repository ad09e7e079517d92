"""The Faust application: one app, every topic and table declared once."""

from __future__ import annotations

from typing import Any

import faust

from complaintflow.config import Settings
from streams import topics

# Tansu reports a partition's end offset per batch, not per record (STACK.md), which breaks
# Faust's table recovery; one record per batch keeps changelogs restorable on the local broker.
_LOCAL_BROKER_SETTINGS: dict[str, Any] = {
    "producer_linger": 0.0,
    "producer_max_batch_size": 1,
    # Long enough that a worker starting on a backlog is not evicted (5 s was), short enough
    # that a fresh group joins in ~5 s rather than Faust's default ~30 s on Tansu.
    "broker_max_poll_interval": 60.0,
    "broker_rebalance_timeout": 5.0,
    "broker_session_timeout": 6.0,
    "broker_heartbeat_interval": 1.0,
}


def create_app(settings: Settings, app_id: str = "complaintflow") -> faust.App:
    local = settings.profile == "local"
    profile = _LOCAL_BROKER_SETTINGS if local else {}
    # tansu:// is Faust's Kafka transport with a shorter fetch wait (streams/local_broker.py).
    scheme = "tansu" if local else "kafka"
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        broker=f"{scheme}://{settings.kafka_bootstrap}",
        store="rocksdb://",
        datadir=str(settings.worker_data_dir),
        topic_replication_factor=1,
        topic_partitions=topics.PARTITIONS,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        **profile,
    )


def raw_topic(app: faust.App, spec: topics.TopicSpec) -> faust.TopicT:
    """Topics carry framed Avro or JSON bytes; the domain modules do the decoding."""
    return app.topic(spec.name, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=spec.partitions)
