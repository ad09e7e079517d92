"""What the README shows is what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

from complaintflow.cli import build_parser
from schemas.validation import parse_events

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
LATER = 4_102_444_800_000  # 2100-01-01: the example's timestamp is never "in the future"


def test_intake_example_is_a_valid_event():
    body = re.search(r"-d '(\{.*?\})'", README, re.S).group(1)
    [event] = parse_events([json.loads(body)], now_ms=LATER)
    assert (event.event_id, event.ticket_id, event.data["channel"]) == ("e-1", "T-1", "wechat")


def test_every_command_in_the_table_exists():
    documented = set(re.findall(r"`complaintflow (\w+)", README))
    required_arguments = {"stack": ["status"], "send": ["events.jsonl"],
                          "policy": ["check", "policy.yaml"],
                          "sla": ["recompute", "--as-of-policy", "policy.yaml"]}
    assert {"stack", "demo", "send", "report"} <= documented
    for name in documented:
        args = build_parser().parse_args([name, *required_arguments.get(name, [])])
        assert args.command == name


def test_the_two_setup_commands_are_make_targets():
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", README, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), target
