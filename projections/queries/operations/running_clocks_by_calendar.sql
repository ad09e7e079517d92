-- SLA clocks still running (not stopped), by the calendar they are pinned to; an empty
-- fingerprint is a clock started before calendars were pinned.
SELECT calendar, calendar_fingerprint, count() AS clocks
FROM sla_outcomes FINAL
WHERE stopped_at IS NULL
GROUP BY calendar, calendar_fingerprint
ORDER BY calendar, calendar_fingerprint
