-- The input archive, one ticket after another, each in the order its partition delivered it
-- (how the ticket processor applied it). Repeats of an event_id collapse in FINAL.
SELECT ticket_id, event_id, event_type, occurred_at_ms, schema_version, source, payload
FROM complaint_events FINAL
ORDER BY ticket_id, kafka_partition, kafka_offset
