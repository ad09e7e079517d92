-- Calendar-years with provisional or missing holiday data that SLA clocks run on: their
-- deadlines may be off around the holidays, and stay so: clocks are pinned to the data they
-- started on (docs/holidays.md).
SELECT calendar, holiday_set, year, status, min(occurred_at) AS first_seen
FROM sla_holiday_warnings FINAL
GROUP BY calendar, holiday_set, year, status
ORDER BY calendar, year, status
