-- Intake per UTC day over the last 14 days with data, from the daily_volume aggregate.
SELECT day, uniqExactMerge(complaints) AS received
FROM daily_volume
GROUP BY day
ORDER BY day DESC
LIMIT 14
