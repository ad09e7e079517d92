"""Breach notifications: sla.* events → Alertmanager alerts (grouping, inhibition, receivers).

`alerts` maps events to alerts (pure), `bridge` consumes `complaints.sla` and posts them to
Alertmanager's API, `alertmanager` installs and starts a local Alertmanager for the local stack
and the tests. Routing and receivers live in `deploy/alertmanager/alertmanager.yml`.
"""
