"""A local Alertmanager (Debian's prometheus-alertmanager 0.25) beside the local stack.

It runs as the stack service "alertmanager" (recorded in state.json, so `stack down` stops it
by PID), on a free loopback port, without clustering, with its notification log and silences
under state_dir/alertmanager/.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from complaintflow import stack
from complaintflow.processes import free_loopback_ports, log_tail

ALERTMANAGER_BIN = Path("/usr/bin/prometheus-alertmanager")
ALERTMANAGER_PACKAGE = "prometheus-alertmanager"  # ships amtool too
SERVICE = "alertmanager"
DEPLOY_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "alertmanager" / \
    "alertmanager.yml"
READY_TIMEOUT_S = 30.0


def ensure_installed() -> None:
    stack.install_debian_packages(ALERTMANAGER_BIN, [ALERTMANAGER_PACKAGE])


def start(state_dir: Path, config_path: Path = DEPLOY_CONFIG, port: int | None = None,
          timeout_s: float = READY_TIMEOUT_S) -> str:
    """Start Alertmanager with config_path on port (default: a free one), wait until it is
    ready, and return its URL. A restart in the same state_dir keeps the notification log
    and silences, so it does not notify again about what it already did."""
    ensure_installed()
    state_dir = Path(state_dir).resolve()
    storage = state_dir / SERVICE
    storage.mkdir(parents=True, exist_ok=True)
    port = port or free_loopback_ports(1)[0]
    url = f"http://{stack.LOOPBACK}:{port}"
    stack.spawn_service(state_dir, SERVICE, [
        str(ALERTMANAGER_BIN),
        f"--config.file={Path(config_path).resolve()}",
        f"--storage.path={storage}",
        f"--web.listen-address={stack.LOOPBACK}:{port}",
        "--cluster.listen-address=",  # empty: a single instance, no gossip port
    ])
    try:
        _wait_ready(state_dir, url, timeout_s)
    except BaseException:
        stop(state_dir)
        raise
    return url


def stop(state_dir: Path) -> None:
    """Stop the recorded Alertmanager by PID (nothing to do if none is recorded)."""
    if SERVICE in stack.status(state_dir)["processes"]:
        stack.stop_service(state_dir, SERVICE)


def _wait_ready(state_dir: Path, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        process = stack.status(state_dir)["processes"][SERVICE]
        if not process["alive"]:
            raise stack.StackError(f"Alertmanager exited while starting; see {process['log']}:"
                                   f"\n{log_tail(process)}")
        if _answers(f"{url}/-/ready"):
            return
        time.sleep(0.1)
    raise stack.StackError(f"Alertmanager at {url} was not ready within {timeout_s:.0f} s")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
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
