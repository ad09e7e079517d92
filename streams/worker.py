"""`complaintflow worker`: runs every stream processor in one Faust worker."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import NoReturn

import faust

from complaintflow.config import Settings
from streams.app import create_app
from streams.sla import agent as sla_agent
from streams.sla.policy import SlaPolicy, load_default_policy, load_policy
from streams.sla.registry import pin_policy
from streams.tickets import agent as ticket_agent

EXIT_FATAL = 3


def stop_now(reason: str) -> NoReturn:
    """End the process at once: no further record is processed, acknowledged or committed
    (a graceful Faust shutdown would first drain what it has buffered)."""
    logging.getLogger(__name__).critical("worker stopped: %s", reason)
    print(f"worker stopped: {reason}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(EXIT_FATAL)


def build_app(settings: Settings) -> faust.App:
    policy = load_policy(settings.sla_policy) if settings.sla_policy else load_default_policy()

    def pinned_policy() -> SlaPolicy:
        # Clocks keep the calendars they were pinned to, even after the policy changed.
        return pin_policy(settings.kafka_bootstrap, policy, int(time.time() * 1000),
                          settings.profile)

    app = create_app(settings)
    ticket_agent.register(app)
    sla_agent.register(app, pinned_policy, stop_now)
    return app


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    faust.Worker(build_app(settings), loglevel=loglevel).execute_from_commandline()
