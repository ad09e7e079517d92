-- Pinned calendars (docs/sla.md, "Pinned calendars"): every sla.* event names the fingerprint
-- of the calendar and holiday data its clock runs on; the calendars themselves are archived
-- from complaints.sla-calendars; clocks that run on provisional or missing holiday data are
-- announced once per calendar and year.
ALTER TABLE sla_events ADD COLUMN calendar_fingerprint String DEFAULT ''
;

ALTER TABLE sla_outcomes ADD COLUMN calendar_fingerprint String DEFAULT ''
;

CREATE TABLE IF NOT EXISTS sla_calendars
(
    fingerprint String,
    name String,
    policy_version String,
    registered_at DateTime('UTC'),
    registered_ms UInt64,
    spec String
)
ENGINE = ReplacingMergeTree(registered_ms)
ORDER BY fingerprint
;

CREATE TABLE IF NOT EXISTS sla_holiday_warnings
(
    event_id String,
    ticket_id String,
    occurred_at DateTime('UTC'),
    occurred_at_ms UInt64,
    calendar String,
    calendar_fingerprint String,
    holiday_set String,
    year UInt16,
    status String,
    policy_version String,
    caused_by String,
    ingested_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY event_id
;
