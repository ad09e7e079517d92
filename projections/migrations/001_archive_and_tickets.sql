-- The raw archive of every input event that reached complaints.events, and the current
-- state of every ticket (from ticket.state_changed).
-- Times are DateTime('UTC') (whole seconds); *_ms columns keep milliseconds where the
-- order of events matters. Optional texts are '' rather than Nullable (cheaper to store
-- and to group by); only timestamps and survey scores are Nullable, where "absent" and
-- "zero" mean different things.

-- A re-delivered event has the same event_id and occurred_at (so the same partition):
-- merges keep one row, and counts use FINAL or uniqExact(event_id).
CREATE TABLE IF NOT EXISTS complaint_events
(
    event_id String,
    event_type String,
    ticket_id String,
    occurred_at DateTime('UTC'),
    occurred_at_ms UInt64,
    schema_version UInt16,
    source String,
    channel String,
    category String,
    priority String,
    customer_tier String,
    region String,
    customer_id String,
    payload String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    ingested_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id
;

-- One row per ticket after merge: the highest state version wins. Not partitioned,
-- because ReplacingMergeTree only collapses rows within one partition.
CREATE TABLE IF NOT EXISTS tickets
(
    ticket_id String,
    version UInt64,
    status String,
    kind String,
    channel String,
    category String,
    priority String,
    customer_id String,
    customer_tier String,
    region String,
    team String,
    agent String,
    received_at Nullable(DateTime('UTC')),
    first_response_at Nullable(DateTime('UTC')),
    first_resolved_at Nullable(DateTime('UTC')),
    resolved_at Nullable(DateTime('UTC')),
    closed_at Nullable(DateTime('UTC')),
    updated_at DateTime('UTC'),
    updated_ms UInt64,
    transfer_count UInt32,
    reopen_count UInt32,
    escalation_level UInt32,
    csat Nullable(UInt8),
    nps Nullable(UInt8),
    compensation_total Float64,
    last_event_type String,
    resolution_code String,
    caused_by String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY ticket_id
;
