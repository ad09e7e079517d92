SELECT status AS key, count() AS tickets
FROM tickets FINAL
WHERE status NOT IN ('resolved', 'closed')
GROUP BY status
ORDER BY tickets DESC, key
