-- Resolved but not confirmed by the customer, oldest first: the loop is still open.
SELECT ticket_id, team, agent, resolved_at
FROM tickets FINAL
WHERE status = 'resolved'
ORDER BY resolved_at, ticket_id
LIMIT 20
