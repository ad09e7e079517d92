-- Intake volume per UTC day x channel x category, kept up to date by a materialized view
-- on the archive. The count is a uniqExact state over event_id, not a countState, because
-- the view sees every inserted block: a re-delivered event (or an insert retried after a
-- failed view push, which ClickHouse does not roll back) must not count twice.
CREATE TABLE IF NOT EXISTS daily_volume
(
    day Date,
    channel String,
    category String,
    complaints AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, channel, category)
;

CREATE MATERIALIZED VIEW IF NOT EXISTS daily_volume_mv TO daily_volume
AS SELECT
    toDate(occurred_at) AS day,
    channel,
    category,
    uniqExactState(event_id) AS complaints
FROM complaint_events
WHERE event_type = 'complaint.received'
GROUP BY day, channel, category
;
