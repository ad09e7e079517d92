SELECT channel AS key, count() AS tickets
FROM tickets FINAL
GROUP BY channel
ORDER BY tickets DESC, key
