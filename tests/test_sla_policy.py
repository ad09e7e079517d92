"""SLA policy files: the packaged default, fallback resolution, and clear errors for bad files."""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from itertools import product
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from schemas.vocabulary import PRIORITIES, SLA_METRICS, TIERS
from streams.sla.calendar import add_business_seconds, opening_hours_on
from streams.sla.policy import (
    DEFAULT_POLICY_PATH,
    PolicyError,
    PolicyErrors,
    SlaPolicy,
    check_policy_file,
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
    assert cn.holidays is not None and cn.holidays.name == "cn" and cn.timezone == SHANGHAI
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


# --- every problem at once -------------------------------------------------------------------


def test_every_problem_is_reported_with_its_key_path():
    doc = changed(CN + ("hours", "mon"), ["9-12"])
    doc["pause_on"] = ["in_progress"]
    doc["targets"]["first_response"]["urgent"] = leaf("soon", "nope")
    doc["targets"]["resolution"]["extra"] = leaf("1h")
    with pytest.raises(PolicyErrors) as err:
        policy_from_mapping(doc)
    paths = [error.key_path for error in err.value.errors]
    assert paths == [
        "calendars.cn_business.hours.mon[0]",
        "pause_on[0]",
        "targets.first_response.urgent.target",
        "targets.first_response.urgent.calendar",
        "targets.resolution.extra",
    ]
    lines = str(err.value).splitlines()
    assert [line.split(": ")[0] for line in lines] == paths
    # Still one PolicyError for callers that read only the first problem.
    assert isinstance(err.value, PolicyError) and err.value.key_path == paths[0]


def test_a_broken_calendar_is_reported_once_not_at_every_target():
    doc = changed(CN + ("timezone",), "Mars/Olympus")
    doc["calendars"]["cn_business"]["hours"]["sat"] = ["18:00-09:00"]
    with pytest.raises(PolicyErrors) as err:
        policy_from_mapping(doc)
    assert [error.key_path for error in err.value.errors] == [
        "calendars.cn_business.hours.sat[0]",
        "calendars.cn_business.timezone",
    ]


def test_a_broken_target_entry_does_not_also_leave_gaps():
    doc = changed(("targets", "resolution"), {"urgent": "8h", "default": {"vip": leaf("4h")}})
    with pytest.raises(PolicyErrors) as err:
        policy_from_mapping(doc)
    # urgent is reported; the tiers it was meant to cover are not. regular and new of the
    # other priorities are real gaps.
    paths = [error.key_path for error in err.value.errors]
    assert paths[0] == "targets.resolution.urgent"
    assert "targets.resolution.urgent.regular" not in paths
    assert "targets.resolution.high.regular" in paths


def test_errors_of_a_file_name_the_file_on_every_line(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    doc = changed(("version",), DELETE)
    doc["warning_thresholds"] = [0.9, 0.5]
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(PolicyErrors) as err:
        load_policy(path)
    assert str(err.value).splitlines() == [
        f"{path}: version: missing",
        f"{path}: warning_thresholds[1]: thresholds must ascend, got 0.5 after 0.9",
    ]


def test_check_policy_file_returns_the_problems_instead_of_raising(tmp_path: Path):
    assert check_policy_file(DEFAULT_POLICY_PATH)[1] == []
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(changed(FR + ("urgent",), leaf("0m", "nope"))))
    policy, errors = check_policy_file(path)
    assert policy is None
    assert [(e.key_path, e.source) for e in errors] == [
        ("targets.first_response.urgent.target", str(path)),
        ("targets.first_response.urgent.calendar", str(path)),
    ]
    assert check_policy_file(tmp_path / "nope.yaml")[0] is None


# --- holidays --------------------------------------------------------------------------------


def without_shorthand(holidays: Any) -> dict[str, Any]:
    doc = changed(CN + ("chinese_holidays",), DELETE)
    doc["calendars"]["cn_business"]["holidays"] = holidays
    return doc


def test_holidays_names_a_packaged_set():
    cn = policy_from_mapping(without_shorthand("cn")).calendars["cn_business"]
    shorthand = policy_from_mapping(BASE).calendars["cn_business"]
    assert cn.holidays is not None and cn.holidays.name == "cn"
    assert cn.fingerprint == shorthand.fingerprint  # chinese_holidays: true is the same thing
    assert opening_hours_on(cn, date(2025, 10, 1)) == ()


def test_holidays_and_chinese_holidays_together_are_refused():
    doc = changed(CN + ("holidays",), "cn")
    with pytest.raises(PolicyErrors, match=r"^calendars\.cn_business\.holidays: .*not both"):
        policy_from_mapping(doc)


@pytest.mark.parametrize(
    ("holidays", "problem"),
    [
        ("./nope.yaml", "no holiday set './nope.yaml'"),
        ("", "expected a packaged holiday set like 'cn' or a file path"),
        (["cn"], "expected a packaged holiday set like 'cn' or a file path"),
    ],
)
def test_a_bad_holiday_reference_is_reported_at_its_key(tmp_path: Path, holidays, problem):
    with pytest.raises(PolicyErrors) as err:
        policy_from_mapping(without_shorthand(holidays), base_dir=tmp_path)
    [error] = err.value.errors  # and no "unknown calendar" for the targets on cn_business
    assert error.key_path == "calendars.cn_business.holidays"
    assert problem in error.problem


def test_an_invalid_holiday_file_is_reported_at_the_holidays_key(tmp_path: Path):
    (tmp_path / "ours.yaml").write_text("name: ours\nyears: {2027: {status: maybe}}\n")
    with pytest.raises(PolicyErrors) as err:
        policy_from_mapping(without_shorthand("ours.yaml"), base_dir=tmp_path)
    assert err.value.key_path == "calendars.cn_business.holidays"
    assert "years.2027.status" in err.value.problem


OUR_HOLIDAYS = """
extends: cn
years:
  2027:
    status: complete
    holidays: {2027-03-08: 公司休息日}
"""


def test_a_holiday_file_is_found_from_the_policy_files_folder(tmp_path: Path, monkeypatch):
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "our-holidays.yaml").write_text(OUR_HOLIDAYS)
    policy_file = folder / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(without_shorthand("./our-holidays.yaml")))
    monkeypatch.chdir(tmp_path)  # not the policy's folder
    cal = load_policy(policy_file).calendars["cn_business"]
    assert opening_hours_on(cal, date(2027, 3, 8)) == ()  # Monday, closed by our file
    assert opening_hours_on(cal, date(2025, 10, 1)) == ()  # National Day, from cn
    assert cal.year_status(2027) == "complete"
    # Text has no folder of its own: base_dir, else the current directory.
    text = policy_file.read_text()
    assert parse_policy(text, base_dir=folder).calendars["cn_business"].fingerprint == (
        cal.fingerprint
    )
    with pytest.raises(PolicyErrors, match="no holiday set './our-holidays.yaml'"):
        parse_policy(text)
    monkeypatch.chdir(folder)
    assert parse_policy(text).calendars["cn_business"].fingerprint == cal.fingerprint


# --- the docs ----------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "sla.md"


def test_the_documented_policy_example_loads_as_written():
    section = DOCS.read_text().split("## The policy file", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example is not None
    policy = parse_policy(example.group(1))
    assert set(policy.calendars) == {"cn_business", "24x7"}
    cn = policy.calendars["cn_business"]
    assert cn.holidays is not None and cn.holidays.name == "cn"
    assert policy.target_for("first_response", "normal", "vip").seconds == 15 * 60
    assert policy.target_for("resolution", "low", "regular").seconds == 15 * 3600
