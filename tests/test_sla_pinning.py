"""Pinned calendars: a clock keeps the calendar and holiday data it started on.

The same ticket history is measured under the policy it ran on and after the policy, or the
holiday data, changed; outcomes must not move unless the calendars are lost, and then the
clocks needing them are named.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from streams.sla.calendar import business_calendar
from streams.sla.clock import SlaState, outcomes
from streams.sla.holiday_gaps import HolidayNotices, holiday_gaps
from streams.sla.holidays import load_holiday_set
from streams.sla.policy import (
    DEFAULT_POLICY_PATH,
    SlaPolicy,
    UnknownCalendar,
    policy_from_mapping,
)
from streams.sla.registry import (
    CalendarRecordError,
    calendar_from_record,
    calendar_record,
    calendars_to_publish,
)
from tests.test_sla_clock import POLICY, Ticket, local

WORKDAY = ["09:00-12:00", "13:30-18:00"]


def renamed_policy() -> SlaPolicy:
    """A valid new policy: other calendar names, other hours (10-17), other version."""
    raw = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    raw["version"] = "2027-1"
    raw["calendars"] = {
        "office": {**raw["calendars"]["cn_business"],
                   "hours": {d: ["10:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}},
        "always": {"type": "always_open"},
    }
    text = yaml.safe_dump(raw).replace("cn_business", "office").replace("24x7", "always")
    return policy_from_mapping(yaml.safe_load(text))


def running(state: SlaState) -> list[tuple[str, str | None]]:
    """The (calendar, fingerprint) of each running clock, as the worker's store keeps them."""
    return [(c.calendar_name, c.calendar_fingerprint) for c in state.clocks if not c.stopped]


def served_by(t: Ticket, policy: SlaPolicy) -> Ticket:
    """The same ticket, from now on handled by a worker running ``policy``."""
    moved = Ticket(policy, t.ticket_id)
    moved.sla, moved.ticket, moved.changes = t.sla, t.ticket, list(t.changes)
    return moved


def history(policy: SlaPolicy) -> Ticket:
    """A normal/regular ticket: first response 30 min on the business calendar."""
    t = Ticket(policy)
    t.do("complaint.received", "2025-11-04 17:50")  # 10 min that day, 20 min the next
    return t


def test_a_running_clock_keeps_its_calendar_after_the_policy_changed():
    old = history(POLICY)
    assert old.deadline("first_response") == "2025-11-05 09:20"
    new_policy = renamed_policy().with_pinned(POLICY.pinned)
    moved = served_by(old, new_policy)
    assert moved.deadline("first_response") == "2025-11-05 09:20"  # not 10:20 (10-17 hours)
    moved.do("ticket.first_response_sent", "2025-11-05 09:25")
    old.do("ticket.first_response_sent", "2025-11-05 09:25")
    assert outcomes(moved.sla, new_policy) == outcomes(old.sla, POLICY)
    assert moved.outcome("first_response")["outcome"] == "breached"
    # A ticket received after the change runs on the new calendar.
    fresh = history(new_policy)
    assert fresh.clock("first_response").calendar_name == "office"
    assert fresh.deadline("first_response") == "2025-11-05 10:30"  # opens at 10:00


def test_a_policy_without_the_pinned_calendars_names_what_running_clocks_need():
    old = history(POLICY)
    new_policy = renamed_policy()  # nothing pinned from the old policy
    fingerprint = POLICY.calendars["cn_business"].fingerprint
    with pytest.raises(UnknownCalendar, match=fingerprint[:12]):
        new_policy.pinned_calendar("cn_business", fingerprint)
    assert new_policy.unservable(running(old.sla)) == {
        f"cn_business ({fingerprint[:12]})": 2}  # first response and resolution
    assert new_policy.with_pinned(POLICY.pinned).unservable(running(old.sla)) == {}
    # Stopped clocks need nothing: their verdict is final.
    old.do("ticket.first_response_sent", "2025-11-05 09:00")
    assert new_policy.unservable(running(old.sla)) == {f"cn_business ({fingerprint[:12]})": 1}


def test_clocks_started_before_pinning_are_served_by_calendar_name_or_named_as_missing():
    old = history(POLICY)
    unpinned = replace(old.sla, clocks=tuple(replace(c, calendar_fingerprint=None)
                                             for c in old.sla.clocks))
    assert POLICY.unservable(running(unpinned)) == {}
    assert renamed_policy().unservable(running(unpinned)) == {"cn_business (unpinned)": 2}


def test_new_holiday_data_does_not_move_a_clock_pinned_to_the_old_data(tmp_path: Path):
    # Thu 2026-12-31 17:50 + 30 business minutes runs into 2027, provisional in the data.
    t = Ticket(POLICY)
    t.do("complaint.received", "2026-12-31 17:50")
    assert t.deadline("first_response") == "2027-01-04 09:20"  # 1 Jan closed, then weekend
    # The notice comes out; say it makes Mon 4 Jan 2027 a bridging holiday.
    cn_2027 = load_holiday_set("cn").years[2027]
    (tmp_path / "holidays.yaml").write_text(yaml.safe_dump({"extends": "cn", "years": {2027: {
        "status": "complete",
        "holidays": {**{d.isoformat(): n for d, n in cn_2027.holidays.items()},
                     "2027-01-04": "元旦"}}}}, allow_unicode=True), encoding="utf-8")
    raw = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    raw["calendars"]["cn_business"]["holidays"] = "holidays.yaml"
    updated = policy_from_mapping(raw, base_dir=tmp_path)
    assert updated.calendars["cn_business"].year_status(2027) == "complete"
    assert updated.calendars["cn_business"].fingerprint != POLICY.calendars["cn_business"
                                                                            ].fingerprint
    moved = served_by(t, updated.with_pinned(POLICY.pinned))
    assert moved.deadline("first_response") == "2027-01-04 09:20"  # as contracted
    fresh = Ticket(updated)
    fresh.do("complaint.received", "2026-12-31 17:50")
    assert fresh.deadline("first_response") == "2027-01-05 09:20"  # the new data


def test_a_calendar_record_round_trips_and_a_tampered_one_is_refused():
    calendar = POLICY.calendars["cn_business"]
    key, value = calendar_record(calendar, POLICY.version, at_ms=1)
    assert key == calendar.fingerprint.encode()
    restored = calendar_from_record(key, value)
    assert (restored.fingerprint, restored.name) == (calendar.fingerprint, "cn_business")
    assert restored.holidays is not None and restored.holidays.status(2027) == "provisional"
    tampered = value.replace(b'"13:30-18:00"', b'"13:30-19:00"', 1)
    with pytest.raises(CalendarRecordError, match="hashes to"):
        calendar_from_record(key, tampered)
    with pytest.raises(CalendarRecordError, match="not to its key"):
        calendar_from_record(b"0" * 64, value)
    assert calendars_to_publish(POLICY, {calendar.fingerprint: calendar}) == [
        POLICY.calendars["24x7"]]


def test_the_fingerprint_follows_content_not_the_name():
    a = business_calendar("a", {"mon": WORKDAY}, chinese_holidays=True)
    b = business_calendar("b", {"mon": WORKDAY}, chinese_holidays=True)
    c = business_calendar("a", {"mon": ["09:00-12:00"]}, chinese_holidays=True)
    d = business_calendar("a", {"mon": WORKDAY})
    assert a.fingerprint == b.fingerprint
    assert len({a.fingerprint, c.fingerprint, d.fingerprint}) == 3


def test_clocks_on_provisional_holiday_data_are_announced_once_per_calendar_and_year():
    t = Ticket(POLICY)
    started = t.do("complaint.received", "2026-12-31 17:50")
    fingerprint = POLICY.calendars["cn_business"].fingerprint
    gaps = [gap for event in started for gap in holiday_gaps(event, POLICY)]
    assert {(g.calendar, g.year, g.status) for g in gaps} == {("cn_business", 2027,
                                                               "provisional")}
    notices = HolidayNotices()
    first = [n for e in started for n in notices.announce(holiday_gaps(e, POLICY), e)]
    assert [(n.event_id, n.event_type, n.data["year"], n.data["status"]) for n in first] == [
        (f"holiday-data:{fingerprint[:16]}:2027:provisional", "sla.holiday_data_warning",
         2027, "provisional")]
    other = Ticket(POLICY, ticket_id="T2")
    again = other.do("complaint.received", "2027-01-04 10:00")
    assert [n for e in again for n in notices.announce(holiday_gaps(e, POLICY), e)] == []
    # A fresh process (or a replay) names the notice alike.
    assert HolidayNotices().announce(gaps[:1], started[0])[0].event_id == first[0].event_id


def test_complete_years_and_24x7_clocks_raise_no_holiday_notice():
    t = Ticket(POLICY)
    events = t.do("complaint.received", "2026-11-04 10:00")
    urgent = Ticket(POLICY, ticket_id="T2")
    events += urgent.do("complaint.received", "2026-12-31 23:59", priority="urgent")
    assert [gap for e in events for gap in holiday_gaps(e, POLICY)] == []
    assert local(t.clock("first_response").started_at) == "2026-11-04 10:00"
