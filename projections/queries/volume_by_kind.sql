-- Complaints, suggestions and praise arrive through one intake; kind tells them apart.
SELECT kind AS key, count() AS tickets
FROM tickets FINAL
GROUP BY kind
ORDER BY tickets DESC, key
