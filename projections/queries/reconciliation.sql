-- Every archived input event is either applied to its ticket (tickets.version counts the
-- events applied) or dead-lettered by the ticket processor. Distinct counts and FINAL, so a
-- re-delivered message changes nothing.
SELECT
    (SELECT uniqExact(event_id) FROM complaint_events) AS archived,
    (SELECT sum(version) FROM tickets FINAL) AS applied,
    (SELECT count() FROM dead_letters FINAL WHERE stage = 'ticket_state') AS dead_lettered
