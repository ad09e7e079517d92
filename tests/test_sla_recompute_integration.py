"""`complaintflow sla recompute` on the real stack: the archive replayed under another policy,
beside what the engine decided."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from complaintflow.cli import main
from complaintflow.config import Settings, settings_env
from tests.conftest import FAST_SLA_POLICY, eventually, post_events
from tests.test_sla_integration import first_response, received

pytestmark = pytest.mark.integration


def _recompute(settings: Settings, policy: Path, monkeypatch, capsys) -> dict:
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    assert main(["sla", "recompute", "--as-of-policy", str(policy), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_recompute_lists_the_clocks_a_stricter_policy_would_change(local_stack, clickhouse,
                                                                   tmp_path, monkeypatch,
                                                                   capsys):
    # Urgent, regular: 2 min on the fast policy. Replies after 30 s and after 90 s.
    quick, slow = (f"RC-{name}-{uuid.uuid4().hex[:6]}" for name in ("quick", "slow"))
    start = int(time.time() * 1000)
    for ticket, delay in ((quick, 30_000), (slow, 90_000)):
        assert post_events(local_stack, [received(ticket, start, customer_tier="regular"),
                                         first_response(ticket, start + delay)])[0] == 202

    def both_met() -> bool:
        rows = clickhouse.execute(
            "SELECT count() FROM sla_outcomes FINAL WHERE metric = 'first_response' "
            "AND outcome = 'met' AND ticket_id IN %(ids)s", {"ids": (quick, slow)})
        return rows[0][0] == 2
    eventually(both_met, timeout=60)

    strict = tmp_path / "strict.yaml"
    strict.write_text(FAST_SLA_POLICY.read_text(encoding="utf-8")
                      .replace('version: "test-fast-1"', 'version: "test-strict"')
                      .replace("default: {target: 2m, calendar: 24x7}",
                               "default: {target: 1m, calendar: 24x7}"), encoding="utf-8")
    result = _recompute(local_stack, strict, monkeypatch, capsys)
    ours = [c for c in result["changed"] if c["ticket_id"] in (quick, slow)]
    assert ours == [{"ticket_id": slow, "metric": "first_response", "cycle": 1,
                     "contracted": "met", "recomputed": "breached"}]
    assert result["policy_version"] == "test-strict"

    # Under the policy the engine ran, the replay of the archive agrees with what it decided.
    same = _recompute(local_stack, FAST_SLA_POLICY, monkeypatch, capsys)
    assert [c for c in same["changed"] if c["ticket_id"] in (quick, slow)] == []
    assert same["failed_tickets"] == 0 and same["failed"] == []


def test_a_breach_followed_by_a_pause_stays_breached_on_both_sides(local_stack, clickhouse,
                                                                    monkeypatch, capsys):
    # Urgent VIP: 2 s on the fast policy. The engine announces the breach live, then the
    # ticket waits on the customer: the clock's latest outcome in sla_outcomes is "paused".
    ticket = f"RC-paused-{uuid.uuid4().hex[:6]}"
    start = int(time.time() * 1000)
    assert post_events(local_stack, [received(ticket, start)])[0] == 202

    def outcome() -> str | None:
        rows = clickhouse.execute(
            "SELECT outcome FROM sla_outcomes FINAL WHERE metric = 'first_response' "
            "AND ticket_id = %(id)s", {"id": ticket})
        return rows[0][0] if rows else None
    eventually(lambda: outcome() == "breached", timeout=60)
    now = int(time.time() * 1000)
    assert post_events(local_stack, [
        {"event_type": "ticket.assigned", "event_id": f"{ticket}-as", "ticket_id": ticket,
         "occurred_at": now, "team": "billing"},
        {"event_type": "ticket.status_changed", "event_id": f"{ticket}-wait",
         "ticket_id": ticket, "occurred_at": now + 1, "status": "pending_customer"},
    ])[0] == 202
    eventually(lambda: outcome() == "paused", timeout=60)

    result = _recompute(local_stack, FAST_SLA_POLICY, monkeypatch, capsys)
    # Breached on both sides: read as "paused" (open), it would be listed as changed.
    assert [c for c in result["changed"] if c["ticket_id"] == ticket] == []
