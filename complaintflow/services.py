"""Starting the project's own processes (api, worker, projector) beside the local stack."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from clickhouse_driver import Client

from complaintflow import stack
from complaintflow.config import Settings, settings_env
from complaintflow.processes import wait_until
from projections.migrate import migrate

SERVICES = ("api", "worker", "project")


def clickhouse_client(settings: Settings) -> Client:
    return Client(host=settings.clickhouse_host, port=settings.clickhouse_port,
                  connect_timeout=5, send_receive_timeout=60)


def migrate_clickhouse(settings: Settings) -> list:
    return migrate(clickhouse_client(settings))


def start_services(settings: Settings, names: tuple[str, ...] = SERVICES) -> None:
    """Spawn each service as `python -m complaintflow.cli NAME`, recorded for `stack down`."""
    env = settings_env(settings)
    for name in names:
        stack.spawn_service(settings.state_dir, name,
                            [sys.executable, "-m", "complaintflow.cli", name], env=env)
    if "api" in names:
        wait_for_api(settings)
    if "worker" in names:
        # Faust logs this once its partitions are assigned and its tables recovered.
        stack.wait_for_log(settings.state_dir, "worker", "[^Worker]: Ready", timeout=90)


def wait_for_api(settings: Settings, timeout: float = 30.0) -> None:
    log = settings.state_dir / "logs" / "api.log"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{settings.api_url}/healthz", timeout=2):
                return True
        except (urllib.error.URLError, ConnectionError):
            if not stack.status(settings.state_dir)["processes"]["api"]["alive"]:
                raise RuntimeError(f"the API process exited; see {log}") from None
            return False

    wait_until(answers, timeout, f"the API at {settings.api_url} (see {log})")
