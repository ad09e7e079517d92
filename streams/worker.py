"""`complaintflow worker`: runs every stream processor in one Faust worker."""

from __future__ import annotations

import sys
import time

import faust

from complaintflow.config import Settings
from streams.app import create_app
from streams.sla import agent as sla_agent
from streams.sla.policy import load_default_policy, load_policy
from streams.sla.registry import pin_policy
from streams.tickets import agent as ticket_agent

EXIT_FATAL = 3


class _Fatal:
    """The reason the worker had to stop, if any: Faust's worker exits 0 after a crash."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.reason: BaseException | None = None

    async def __call__(self, reason: BaseException) -> None:
        self.reason = reason
        await self.app.crash(reason)


def build_app(settings: Settings) -> tuple[faust.App, _Fatal]:
    policy = load_policy(settings.sla_policy) if settings.sla_policy else load_default_policy()
    # Clocks keep the calendars they were pinned to, even after the policy changed.
    policy = pin_policy(settings.kafka_bootstrap, policy, int(time.time() * 1000),
                        settings.profile)
    app = create_app(settings)
    fatal = _Fatal(app)
    ticket_agent.register(app)
    sla_agent.register(app, policy, fatal)
    return app, fatal


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    app, fatal = build_app(settings)
    try:
        faust.Worker(app, loglevel=loglevel).execute_from_commandline()
    except SystemExit:
        if fatal.reason is None:
            raise
    print(f"worker stopped: {fatal.reason}", file=sys.stderr)
    raise SystemExit(EXIT_FATAL)
