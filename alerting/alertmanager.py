"""Alertmanager (Debian's prometheus-alertmanager 0.25), whichever server runs it: its
command line, its readiness probe and the deploy config rendered for tests and experiments.

Nothing here knows the local stack. Installing Alertmanager and running it beside the stack
(recorded in state.json, so `stack down` stops it by PID) is `complaintflow.stack`'s part:
`stack.start_alertmanager` / `stack.stop_alertmanager`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ALERTMANAGER_BIN = Path("/usr/bin/prometheus-alertmanager")
ALERTMANAGER_PACKAGE = "prometheus-alertmanager"  # ships amtool too
DEPLOY_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "alertmanager" / \
    "alertmanager.yml"


def command(config_path: Path, storage: Path, host: str, port: int,
            binary: Path = ALERTMANAGER_BIN) -> list[str]:
    """The argv of a single Alertmanager (no clustering) listening on host:port, with its
    notification log and silences under storage."""
    return [
        str(binary),
        f"--config.file={Path(config_path).resolve()}",
        f"--storage.path={Path(storage).resolve()}",
        f"--web.listen-address={host}:{port}",
        "--cluster.listen-address=",  # empty: a single instance, no gossip port
    ]


def is_ready(url: str) -> bool:
    """True if the Alertmanager at url answers its readiness endpoint with 200."""
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def render_config(webhook_url: str, *, group_wait: str = "1s", group_interval: str = "1s",
                  source: Path = DEPLOY_CONFIG) -> str:
    """The deploy config with every webhook pointed at webhook_url and every route's timings
    shortened: for tests and local experiments, where nobody waits 30 s for a notification."""
    config = yaml.safe_load(Path(source).read_text())
    for route in _routes(config["route"]):
        route.update(group_wait=group_wait, group_interval=group_interval)
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = webhook_url
    return yaml.safe_dump(config, sort_keys=False)


def _routes(route: dict[str, Any]) -> list[dict[str, Any]]:
    return [route] + [r for child in route.get("routes", []) for r in _routes(child)]
