"""The project's Faust worker (`complaintflow worker`), with optional Faust settings on top.

The settings come as a JSON object in BENCH_FAUST_SETTINGS (from `--worker-setting`), so a
tuning idea can be measured without editing streams/app.py. Without it this runs exactly
what `complaintflow worker` runs.
"""

from __future__ import annotations

import json
import os
import sys

import faust

from bench.harness import WORKER_SETTINGS_ENV
from complaintflow.config import load_settings
from streams.tickets.model import DAY_MS
from streams.worker import build_app


def main() -> None:
    settings = load_settings()
    app = build_app(settings.kafka_bootstrap, settings.profile, settings.worker_data_dir,
                    settings.sla_policy, round(settings.ticket_retention_days * DAY_MS))
    for name, value in json.loads(os.environ.get(WORKER_SETTINGS_ENV) or "{}").items():
        setattr(app.conf, name, value)
    sys.argv = [sys.argv[0], "worker", "-l", "info"]  # Faust's Worker reads its own argv
    faust.Worker(app, loglevel="info").execute_from_commandline()


if __name__ == "__main__":
    main()
