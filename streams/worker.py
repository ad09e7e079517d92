"""`complaintflow worker`: runs every stream processor in one Faust worker."""

from __future__ import annotations

import faust

from complaintflow.config import Settings
from streams.app import create_app
from streams.sla import agent as sla_agent
from streams.sla.policy import load_default_policy, load_policy
from streams.tickets import agent as ticket_agent


def build_app(settings: Settings) -> faust.App:
    policy = load_policy(settings.sla_policy) if settings.sla_policy else load_default_policy()
    app = create_app(settings)
    ticket_agent.register(app)
    sla_agent.register(app, policy)
    return app


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    app = build_app(settings)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
