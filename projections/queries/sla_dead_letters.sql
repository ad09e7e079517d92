-- Ticket changes and deadline checks the SLA engine could not process: their tickets' clocks
-- are not tracked, so the SLA numbers above leave them out.
SELECT count() AS letters, uniqExact(ticket_id) AS tickets
FROM dead_letters FINAL
WHERE stage = 'sla'
