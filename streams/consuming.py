"""kafka-python consumers for sinks that commit offsets only after their write succeeded."""

from __future__ import annotations

from kafka import KafkaConsumer


def committing_consumer(bootstrap: str, topic_names: list[str], group_id: str) -> KafkaConsumer:
    return KafkaConsumer(
        *topic_names,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,  # the sink commits by hand, after its write
        auto_offset_reset="earliest",
        # Short group timings: with the defaults a group join hung on the local Tansu broker
        # (docs/local-stack.md); they are valid on Apache Kafka too, a write takes well under 5 s.
        max_poll_interval_ms=5_000,
        session_timeout_ms=6_000,
        heartbeat_interval_ms=1_000,
    )


def rewind_to_committed(consumer: KafkaConsumer) -> None:
    """Seek every assigned partition back to its committed offset (or its beginning), so a
    failed write is replayed."""
    for partition in consumer.assignment():
        committed = consumer.committed(partition)
        if committed is None:
            consumer.seek_to_beginning(partition)
        else:
            consumer.seek(partition, committed)
