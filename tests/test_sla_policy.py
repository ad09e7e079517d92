"""SLA policy files: the packaged default, fallback resolution, and clear errors for bad files."""

from __future__ import annotations

import copy
from datetime import date, datetime
from itertools import product
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.vocabulary import PRIORITIES, SLA_METRICS, TIERS
from streams.sla.calendar import add_business_seconds, opening_hours_on
from streams.sla.policy import (
    DEFAULT_POLICY_PATH,
    PolicyError,
    SlaPolicy,
    load_default_policy,
    load_policy,
    parse_duration,
    parse_policy,
    policy_from_mapping,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKDAY = ["09:00-12:00", "13:30-18:00"]


def sh(text: str) -> int:
    return round(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp() * 1000)


def leaf(target: str, calendar: str = "cn_business") -> dict[str, str]:
    return {"target": target, "calendar": calendar}


# A small valid policy; each bad-config case below changes one thing in it.
BASE: dict[str, Any] = {
    "version": "test-1",
    "calendars": {
        "cn_business": {
            "type": "business",
            "timezone": "Asia/Shanghai",
            "chinese_holidays": True,
            "hours": {day: WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")},
        },
        "24x7": {"type": "always_open"},
    },
    "targets": {
        "first_response": {
            "urgent": leaf("2m", "24x7"),
            "default": {"vip": leaf("15m"), "default": leaf("30m")},
        },
        "next_response": {"default": leaf("4h")},
        "resolution": {"urgent": leaf("8h", "24x7"), "default": {"default": leaf("15h")}},
    },
}
DELETE = object()


def changed(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """BASE with the value at ``path`` replaced (or removed, for DELETE)."""
    doc = copy.deepcopy(BASE)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


# --- the packaged default ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def default() -> SlaPolicy:
    return load_default_policy()


def test_default_policy_loads(default: SlaPolicy):
    assert default.version == "2026-11-1"
    assert default.warning_thresholds == (0.5, 0.8)
    assert default.pause_on == frozenset({"pending_customer"})
    assert set(default.calendars) == {"cn_business", "24x7"}
    assert default.calendars["24x7"].is_always_open
    cn = default.calendars["cn_business"]
    assert cn.chinese_holidays and cn.timezone == SHANGHAI
    assert [str(iv) for iv in opening_hours_on(cn, date(2025, 11, 4))] == WORKDAY
    assert opening_hours_on(cn, date(2025, 11, 8)) == ()  # Saturday


def test_default_policy_answers_every_combination(default: SlaPolicy):
    for metric, priority, tier in product(SLA_METRICS, PRIORITIES, TIERS):
        target = default.target_for(metric, priority, tier)
        assert target.metric == metric
        assert target.seconds > 0
        assert target.calendar is default.calendars[target.calendar_name]


@pytest.mark.parametrize(
    ("metric", "priority", "tier", "seconds", "calendar"),
    [
        ("first_response", "urgent", "vip", 2 * 60, "24x7"),  # 紧急问题2分钟内分派人工
        ("first_response", "urgent", "new", 2 * 60, "24x7"),
        ("first_response", "high", "vip", 10 * 60, "cn_business"),
        ("first_response", "high", "regular", 20 * 60, "cn_business"),
        ("first_response", "normal", "regular", 30 * 60, "cn_business"),  # KPI <= 30 min
        ("first_response", "normal", "new", 30 * 60, "cn_business"),
        ("first_response", "normal", "vip", 15 * 60, "cn_business"),
        ("first_response", "low", "regular", 2 * 3600, "cn_business"),
        ("next_response", "urgent", "vip", 15 * 60, "24x7"),
        ("next_response", "low", "vip", 7 * 3600 + 1800, "cn_business"),
        ("resolution", "urgent", "vip", 4 * 3600, "24x7"),
        ("resolution", "high", "regular", 24 * 3600, "24x7"),
        ("resolution", "normal", "vip", 7 * 3600 + 1800, "cn_business"),  # one working day
        ("resolution", "normal", "regular", 15 * 3600, "cn_business"),  # two working days
        ("resolution", "low", "new", 37 * 3600 + 1800, "cn_business"),  # five working days
    ],
)
def test_default_policy_targets(
    default: SlaPolicy, metric: str, priority: str, tier: str, seconds: int, calendar: str
):
    target = default.target_for(metric, priority, tier)
    assert (target.seconds, target.calendar_name) == (seconds, calendar)


def test_vip_is_never_looser_than_regular_in_the_default(default: SlaPolicy):
    for metric, priority in product(SLA_METRICS, PRIORITIES):
        vip = default.target_for(metric, priority, "vip")
        regular = default.target_for(metric, priority, "regular")
        assert vip.calendar_name == regular.calendar_name
        assert vip.seconds <= regular.seconds


def test_default_policy_deadline_over_national_day(default: SlaPolicy):
    # A normal complaint at 17:45 on Tue Sep 30 2025: 15 min today, the other 15 after the
    # Oct 1-8 holiday, from 09:00 on Thu Oct 9.
    target = default.target_for("first_response", "normal", "regular")
    deadline = add_business_seconds(target.calendar, sh("2025-09-30 17:45"), target.seconds)
    assert deadline == sh("2025-10-09 09:15")


def test_unknown_lookup_values_are_rejected(default: SlaPolicy):
    with pytest.raises(ValueError, match="unknown priority 'critical'"):
        default.target_for("first_response", "critical", "vip")
    with pytest.raises(ValueError, match="unknown customer tier 'gold'"):
        default.target_for("first_response", "urgent", "gold")
    with pytest.raises(ValueError, match="unknown metric 'closure'"):
        default.target_for("closure", "urgent", "vip")


# --- fallbacks and optional sections -----------------------------------------------------------


def test_priority_outranks_tier_when_falling_back():
    policy = policy_from_mapping(BASE)
    # first_response: urgent -> 2m for every tier, even though default.vip says 15m.
    assert policy.target_for("first_response", "urgent", "vip").seconds == 120
    assert policy.target_for("first_response", "normal", "vip").seconds == 15 * 60
    assert policy.target_for("first_response", "low", "new").seconds == 30 * 60
    assert policy.target_for("resolution", "high", "vip").calendar_name == "cn_business"
    assert policy.target_for("resolution", "urgent", "vip").calendar_name == "24x7"


def test_optional_sections_take_their_defaults():
    policy = policy_from_mapping(BASE)
    assert policy.warning_thresholds == (0.5, 0.8)
    assert policy.pause_on == frozenset({"pending_customer"})
    policy = policy_from_mapping(
        {
            **BASE,
            "warning_thresholds": [0.25, 0.75, 0.9],
            "pause_on": ["pending_customer", "on_hold"],
        }
    )
    assert policy.warning_thresholds == (0.25, 0.75, 0.9)
    assert policy.pause_on == frozenset({"pending_customer", "on_hold"})
    assert policy_from_mapping({**BASE, "warning_thresholds": []}).warning_thresholds == ()


def test_calendar_overrides_and_makeup_hours_from_yaml():
    policy = parse_policy(
        """
        version: "v"
        calendars:
          shop:
            type: business
            chinese_holidays: true
            hours: {mon: ["09:00-18:00"], sat: ["10:00-14:00"], sun:}
            makeup_workday: ["09:00-17:00"]
            closed: [2025-11-05, "2025-11-06"]
            open: {2025-10-02: ["10:00-11:00"], "2025-11-09": ["12:00-13:00"]}
        targets:
          first_response: {default: {target: 1h30m, calendar: shop}}
          next_response: {default: {target: 90s, calendar: shop}}
          resolution: {default: {target: 2d, calendar: shop}}
        """
    )
    shop = policy.calendars["shop"]
    assert shop.timezone == SHANGHAI  # the default zone
    assert opening_hours_on(shop, date(2025, 11, 5)) == ()
    assert opening_hours_on(shop, date(2025, 11, 6)) == ()
    assert [str(iv) for iv in opening_hours_on(shop, date(2025, 10, 2))] == ["10:00-11:00"]
    assert [str(iv) for iv in opening_hours_on(shop, date(2025, 11, 9))] == ["12:00-13:00"]
    assert [str(iv) for iv in opening_hours_on(shop, date(2025, 9, 28))] == ["09:00-17:00"]
    assert policy.target_for("first_response", "low", "new").seconds == 5400
    assert policy.target_for("next_response", "low", "new").seconds == 90
    assert policy.target_for("resolution", "low", "new").seconds == 2 * 86_400


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("24h", 86_400),
        ("2d", 172_800),
        ("7h30m", 27_000),
        ("1d2h3m4s", 93_784),
    ],
)
def test_durations(text: str, seconds: int):
    assert parse_duration(text) == seconds


# --- files -----------------------------------------------------------------------------------


def test_load_policy_reads_a_file(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT_POLICY_PATH.read_text())
    assert load_policy(path).version == "2026-11-1"


def test_file_problems_name_the_file(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError, match="nope.yaml: cannot read policy file"):
        load_policy(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [unclosed\n")
    with pytest.raises(PolicyError, match="broken.yaml: not valid YAML"):
        load_policy(broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("version: '1'\ncalendars: {}\ntargets: {}\n")
    with pytest.raises(PolicyError, match="wrong.yaml: calendars: define at least one") as err:
        load_policy(wrong)
    assert err.value.key_path == "calendars"


@pytest.mark.parametrize(
    ("version_line", "accepted"),
    [
        ('version: "2026-11-1"', True),
        ("version: 2026-11-1", True),  # not a YAML date (one-digit day), so it stays text
        ("version: 2026-11-01", False),  # a YAML date: str() would not give back what was typed
        ("version: 1.2", False),  # a float: 1.20 would silently become "1.2"
    ],
)
def test_version_must_be_text_as_written(version_line: str, accepted: bool):
    body = DEFAULT_POLICY_PATH.read_text().splitlines()
    text = "\n".join(version_line if line.startswith("version:") else line for line in body)
    if accepted:
        assert parse_policy(text).version == "2026-11-1"
    else:
        with pytest.raises(PolicyError, match=r"^version: expected a string like '2026-11-1'"):
            parse_policy(text)


# --- bad configs -----------------------------------------------------------------------------

FR = ("targets", "first_response")
CN = ("calendars", "cn_business")


@pytest.mark.parametrize(
    ("path", "value", "key_path", "problem"),
    [
        (
            FR + ("urgent",),
            {"vip": leaf("soon", "24x7")},
            "targets.first_response.urgent.vip.target",
            "expected a duration like '30m', got 'soon'",
        ),
        (FR + ("urgent",), leaf("0m"), "targets.first_response.urgent.target", "longer than zero"),
        (
            FR + ("urgent",),
            leaf(30),
            "targets.first_response.urgent.target",  # type: ignore[arg-type]
            "expected a duration like '30m', got 30",
        ),
        (
            FR + ("urgent",),
            leaf("2m", "nope"),
            "targets.first_response.urgent.calendar",
            "unknown calendar 'nope'; defined: cn_business, 24x7",
        ),
        (FR + ("urgent",), {"target": "2m"}, "targets.first_response.urgent.calendar", "missing"),
        (
            FR + ("urgent",),
            {"gold": leaf("2m")},
            "targets.first_response.urgent.gold",
            "unknown key; expected one of vip, regular, new, default",
        ),
        (FR + ("urgent",), ["2m"], "targets.first_response.urgent", "expected a mapping"),
        (
            FR + ("urgent",),
            {**leaf("2m"), "note": "x"},
            "targets.first_response.urgent.note",
            "unknown key",
        ),
        (("targets", "next_response"), DELETE, "targets.next_response", "missing"),
        (
            ("targets", "resolution", "critical"),
            leaf("1h"),
            "targets.resolution.critical",
            "unknown key; expected one of urgent, high, normal, low, default",
        ),
        (("targets", "closure"), {"default": leaf("1h")}, "targets.closure", "unknown key"),
        (
            ("targets", "resolution"),
            {"urgent": {"vip": leaf("1h")}},
            "targets.resolution.urgent.regular",
            "no target for priority 'urgent' and tier 'regular'",
        ),
        (("version",), date(2026, 11, 1), "version", "expected a string"),
        (("version",), DELETE, "version", "missing"),
        (("warnings",), [0.5], "warnings", "unknown key"),
        (("warning_thresholds",), [0.8, 0.5], "warning_thresholds[1]", "thresholds must ascend"),
        (("warning_thresholds",), [0.5, 1.0], "warning_thresholds[1]", "between 0 and 1"),
        (("warning_thresholds",), [True], "warning_thresholds[0]", "between 0 and 1"),
        (("warning_thresholds",), "0.5", "warning_thresholds", "expected a list"),
        (
            ("pause_on",),
            ["in_progress"],
            "pause_on[0]",
            "expected one of pending_customer, on_hold, got 'in_progress'",
        ),
        (("calendars",), {}, "calendars", "define at least one calendar"),
        (CN, "business", "calendars.cn_business", "expected a mapping"),
        (
            CN + ("type",),
            "weekly",
            "calendars.cn_business.type",
            "expected 'business' or 'always_open', got 'weekly'",
        ),
        (
            CN + ("timezone",),
            "Mars/Olympus",
            "calendars.cn_business.timezone",
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            CN + ("hours", "mon"),
            ["09:00-12:00", "11:00-13:00"],
            "calendars.cn_business.hours.mon",
            "must not overlap",
        ),
        (
            CN + ("hours", "tue"),
            ["9-12"],
            "calendars.cn_business.hours.tue[0]",
            "expected an interval like '09:00-12:00'",
        ),
        (
            CN + ("hours", "wed"),
            ["18:00-09:00"],
            "calendars.cn_business.hours.wed[0]",
            "start < end",
        ),
        (
            CN + ("hours", "thu"),
            "09:00-12:00",
            "calendars.cn_business.hours.thu",
            "expected a list",
        ),
        (CN + ("hours", "funday"), WORKDAY, "calendars.cn_business.hours.funday", "unknown key"),
        (CN + ("hours",), {}, "calendars.cn_business.hours", "needs opening hours"),
        (CN + ("hours",), DELETE, "calendars.cn_business.hours", "missing"),
        (
            CN + ("chinese_holidays",),
            "yes",
            "calendars.cn_business.chinese_holidays",
            "expected true or false",
        ),
        (CN + ("closed",), ["2026-13-01"], "calendars.cn_business.closed[0]", "expected a date"),
        (
            CN + ("open",),
            {"2026-10-01": ["10:00-25:00"]},
            "calendars.cn_business.open.2026-10-01[0]",
            "no such time of day",
        ),
        (
            CN + ("holiday_data_missing",),
            "ignore",
            "calendars.cn_business.holiday_data_missing",
            "expected 'error' or 'weekly_hours'",
        ),
        (
            CN + ("makeup_workday",),
            ["13:00-12:00"],
            "calendars.cn_business.makeup_workday[0]",
            "start < end",
        ),
        (("calendars", "24x7", "hours"), {"mon": WORKDAY}, "calendars.24x7.hours", "unknown key"),
    ],
)
def test_bad_configs_name_the_key_path(path, value, key_path: str, problem: str):
    with pytest.raises(PolicyError) as err:
        policy_from_mapping(changed(path, value))
    assert err.value.key_path == key_path
    assert str(err.value).startswith(f"{key_path}: ")
    assert problem in str(err.value)
    assert isinstance(err.value, ValueError)


def test_a_date_both_open_and_closed_is_refused():
    doc = changed(CN + ("closed",), ["2026-10-01"])
    doc["calendars"]["cn_business"]["open"] = {"2026-10-01": ["10:00-12:00"]}
    with pytest.raises(PolicyError, match=r"^calendars\.cn_business\.open\.2026-10-01: .*closed"):
        policy_from_mapping(doc)


def test_a_document_that_is_not_a_mapping_is_refused():
    with pytest.raises(PolicyError, match="expected a mapping, got nothing"):
        parse_policy("")
