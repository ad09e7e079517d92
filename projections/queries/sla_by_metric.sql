-- Latest outcome of every SLA clock (ticket x metric x cycle). Compliance is decided over
-- clocks that have an outcome: met or breached.
SELECT
    metric,
    count() AS clocks,
    countIf(outcome = 'met') AS met,
    countIf(outcome = 'breached') AS breached,
    countIf(outcome NOT IN ('met', 'breached')) AS running
FROM sla_outcomes FINAL
GROUP BY metric
ORDER BY metric
