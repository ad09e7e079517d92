"""`complaintflow worker`: runs every stream processor in one Faust worker."""

from __future__ import annotations

import faust

from complaintflow.config import Settings
from streams.app import create_app
from streams.tickets import agent as ticket_agent


def build_app(settings: Settings) -> faust.App:
    app = create_app(settings)
    ticket_agent.register(app)
    return app


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    app = build_app(settings)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
