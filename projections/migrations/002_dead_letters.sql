-- Rejected input from complaints.dlq, plus messages the projector itself could not decode
-- (stage = 'projector'). dlq_id is the event_id when known, so a repeated refusal of the
-- same event is one letter.
CREATE TABLE IF NOT EXISTS dead_letters
(
    dlq_id String,
    stage String,
    reason String,
    field String,
    event_id String,
    event_type String,
    ticket_id String,
    occurred_at Nullable(DateTime('UTC')),
    source_topic String,
    source_partition Nullable(UInt32),
    source_offset Nullable(UInt64),
    original String,
    recorded_at DateTime('UTC'),
    recorded_ms UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY dlq_id
;
