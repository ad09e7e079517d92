-- SLA engine output from complaints.sla: every sla.* event, and the latest outcome of each
-- clock (ticket x metric x cycle). The version column is the event time, so a late
-- re-delivery of an older event never overwrites a newer outcome.
CREATE TABLE IF NOT EXISTS sla_events
(
    event_id String,
    event_type String,
    ticket_id String,
    occurred_at DateTime('UTC'),
    occurred_at_ms UInt64,
    metric String,
    cycle UInt32,
    policy_version String,
    calendar String,
    target_seconds Int64,
    deadline Nullable(DateTime('UTC')),
    elapsed_business_seconds Int64,
    threshold Nullable(Float64),
    reason String,
    team String,
    priority String,
    customer_tier String,
    category String,
    caused_by String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    ingested_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id
;

CREATE TABLE IF NOT EXISTS sla_outcomes
(
    ticket_id String,
    metric String,
    cycle UInt32,
    policy_version String,
    calendar String,
    target_seconds Int64,
    deadline Nullable(DateTime('UTC')),
    stopped_at Nullable(DateTime('UTC')),
    elapsed_business_seconds Int64,
    outcome String,
    updated_at DateTime('UTC'),
    updated_ms UInt64,
    team String,
    priority String,
    customer_tier String,
    category String,
    last_event_id String
)
ENGINE = ReplacingMergeTree(updated_ms)
ORDER BY (ticket_id, metric, cycle)
;
