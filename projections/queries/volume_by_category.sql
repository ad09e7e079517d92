-- The current category: a reclassified ticket counts where it ended up.
SELECT category AS key, count() AS tickets
FROM tickets FINAL
GROUP BY category
ORDER BY tickets DESC, key
