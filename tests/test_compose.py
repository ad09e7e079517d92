"""docker-compose.yml: valid against the Compose Specification and consistent with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from complaintflow.cli import build_parser
from complaintflow.config import ENV_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_file_matches_the_compose_specification():
    # Schema: the official Compose Specification (compose-spec repository, Apache-2.0).
    spec = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(spec).validate(COMPOSE)  # the spec names draft-07


def test_every_image_is_pinned_and_the_build_context_exists():
    for name, service in SERVICES.items():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", service["image"]), name
        assert not service["image"].endswith(":latest"), name
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).exists()


def test_host_ports_are_unique_and_named_volumes_declared():
    host_ports = [p.split(":")[0] for s in SERVICES.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports))
    sources = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])}
    bind_mounts = {source for source in sources if source.startswith("./")}
    assert sources - bind_mounts <= set(COMPOSE["volumes"])
    for source in bind_mounts:
        assert (ROOT / source).is_dir(), source


def test_services_run_real_subcommands_with_known_settings():
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    for name, service in SERVICES.items():
        if service.get("build"):
            assert service["command"][0] in commands, name
            assert set(service["environment"]) <= set(ENV_VARIABLES.values()), name


def test_prometheus_scrapes_the_ports_the_services_serve():
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]}
    for name, service in SERVICES.items():
        command = service.get("command", [])
        if "--metrics-port" in command:
            assert f"{name}:{command[command.index('--metrics-port') + 1]}" in targets, name


def test_dependencies_point_at_defined_services():
    for service in SERVICES.values():
        assert set(service.get("depends_on", {})) <= set(SERVICES)
