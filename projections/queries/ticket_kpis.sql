-- Outcome and timeliness KPIs over the current state of every ticket.
-- open = neither resolved nor closed; resolved-unconfirmed = resolved, not yet confirmed by
-- the customer (closing the loop needs the confirmation). Reopen rate counts over tickets
-- that were ever resolved, the only ones that can reopen. Durations run from received_at to
-- the first response / the first resolution, in minutes.
-- Conditions on Nullable columns are wrapped in ifNull(…, 0): ClickHouse 18.16 gives
-- countIf over only-NULL conditions as NULL instead of 0.
SELECT
    count() AS tickets,
    countIf(status NOT IN ('resolved', 'closed')) AS open,
    countIf(status = 'resolved') AS resolved_unconfirmed,
    countIf(status IN ('resolved', 'closed')) AS resolved_or_closed,
    countIf(status = 'closed') AS closed,
    countIf(first_resolved_at IS NOT NULL) AS ever_resolved,
    countIf(reopen_count > 0) AS reopened,
    countIf(csat IS NOT NULL) AS csat_answered,
    countIf(ifNull(csat >= 4, 0)) AS csat_satisfied,
    countIf(nps IS NOT NULL) AS nps_answered,
    countIf(ifNull(nps >= 9, 0)) AS nps_promoters,
    countIf(ifNull(nps <= 6, 0)) AS nps_detractors,
    quantiles(0.5, 0.9)(dateDiff('second', received_at, first_response_at) / 60)
        AS first_response_minutes,
    quantiles(0.5, 0.9)(dateDiff('second', received_at, first_resolved_at) / 60)
        AS resolution_minutes
FROM tickets FINAL
