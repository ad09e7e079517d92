"""`complaintflow worker`: the stream processor, one Faust agent over the input (see
streams/pipeline/agent.py). It takes plain parameters; the CLI composes them."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

import faust

from streams.app import create_app
from streams.pipeline import agent
from streams.sla.policy import SlaPolicy, load_default_policy, load_policy
from streams.sla.registry import pin_policy
from streams.tickets.model import DEFAULT_RETENTION_MS

EXIT_FATAL = 3


def stop_now(reason: str) -> NoReturn:
    """End the process at once: no further record is processed, acknowledged or committed
    (a graceful Faust shutdown would first drain what it has buffered)."""
    logging.getLogger(__name__).critical("worker stopped: %s", reason)
    print(f"worker stopped: {reason}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(EXIT_FATAL)


def build_app(bootstrap: str, profile: str, data_dir: Path, sla_policy: Path | None = None,
              retention_ms: int = DEFAULT_RETENTION_MS) -> faust.App:
    policy = load_policy(sla_policy) if sla_policy else load_default_policy()

    def pinned_policy() -> SlaPolicy:
        # Clocks keep the calendars they were pinned to, even after the policy changed.
        return pin_policy(bootstrap, policy, int(time.time() * 1000), profile)

    app = create_app(bootstrap, profile, data_dir)
    agent.register(app, data_dir, pinned_policy, stop_now, retention_ms)
    return app


def run_worker(bootstrap: str, profile: str, data_dir: Path, sla_policy: Path | None = None,
               retention_ms: int = DEFAULT_RETENTION_MS, loglevel: str = "info") -> None:
    app = build_app(bootstrap, profile, data_dir, sla_policy, retention_ms)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
