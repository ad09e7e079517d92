-- Every SLA clock (ticket x metric x cycle) as the engine announced it, from its sla.* events,
-- for `complaintflow sla recompute` (docs/sla.md, "What-if"). Not sla_outcomes: its latest
-- outcome by event time says "paused" or "running" for a clock that breached and was paused or
-- resumed afterwards.
--   verdict         'met' if an sla.met exists; 'breached' if an sla.stopped exists or an
--                   sla.breached stands (more sla.breached than sla.breach_retracted); else
--                   'open'
--   stopped         1 once the metric stopped (sla.met or sla.stopped)
--   breached_at_ms  when the standing breach was announced (0: none stands)
--   deadline_s      the deadline the clock's latest event carried, UTC epoch seconds (0: none,
--                   paused short of its target); "latest" by the clock's event counter, the
--                   last part of the event id, as events may be dated out of emission order
SELECT
    ticket_id,
    metric,
    cycle,
    multiIf(countIf(event_type = 'sla.met') > 0, 'met',
            countIf(event_type = 'sla.stopped') > 0
            OR countIf(event_type = 'sla.breached') > countIf(event_type = 'sla.breach_retracted'),
            'breached',
            'open') AS verdict,
    countIf(event_type IN ('sla.met', 'sla.stopped')) > 0 AS stopped,
    if(countIf(event_type = 'sla.breached') > countIf(event_type = 'sla.breach_retracted'),
       maxIf(occurred_at_ms, event_type = 'sla.breached'), 0) AS breached_at_ms,
    argMax(ifNull(toUInt64(deadline), 0),
           toUInt64OrZero(splitByChar(':', event_id)[-1])) AS deadline_s
FROM sla_events FINAL
GROUP BY ticket_id, metric, cycle
ORDER BY ticket_id, metric, cycle
