-- Every SLA clock's latest outcome as the engine decided it (on its pinned calendar), for
-- `complaintflow sla recompute`.
SELECT ticket_id, metric, cycle, outcome
FROM sla_outcomes FINAL
ORDER BY ticket_id, metric, cycle
