"""The holiday data itself: the packaged `cn` set, holiday files, and `complaintflow calendar
check` / `seed`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import MappingProxyType

import pytest
from chinese_calendar import constants as chinese_calendar_data

from complaintflow.cli import main
from streams.sla.calendar import business_calendar, opening_hours_on
from streams.sla.holiday_sources import packaged_cn_set, packaged_cn_yaml, statutory_days
from streams.sla.holidays import (
    BUILTIN_DIR,
    HolidayDataError,
    HolidayYear,
    load_holiday_set,
    read_holiday_file,
)

WORKDAY = ["09:00-12:00", "13:30-18:00"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

# --- the packaged cn set -------------------------------------------------------------------


def test_shipped_cn_file_is_what_seed_generates_from_chinese_calendar():
    shipped = (BUILTIN_DIR / "cn.yaml").read_text(encoding="utf-8")
    assert shipped == packaged_cn_yaml((2027, 2028)), "run `complaintflow calendar seed`"
    assert load_holiday_set("cn").to_dict() == packaged_cn_set((2027, 2028)).to_dict()


def test_provisional_2027_holds_exactly_the_thirteen_statutory_days():
    year = load_holiday_set("cn").years[2027]
    assert year.status == "provisional"
    assert not year.workdays  # no make-up days until the State Council's notice
    assert dict(year.holidays) == {
        date(2027, 1, 1): "元旦",
        date(2027, 2, 5): "春节",  # 除夕
        date(2027, 2, 6): "春节",
        date(2027, 2, 7): "春节",
        date(2027, 2, 8): "春节",
        date(2027, 4, 5): "清明节",
        date(2027, 5, 1): "劳动节",
        date(2027, 5, 2): "劳动节",
        date(2027, 6, 9): "端午节",
        date(2027, 9, 15): "中秋节",
        date(2027, 10, 1): "国庆节",
        date(2027, 10, 2): "国庆节",
        date(2027, 10, 3): "国庆节",
    }


@pytest.mark.parametrize("year", [2025, 2026])
def test_law_computed_days_are_closed_in_the_official_schedules(year: int):
    days = statutory_days(year)
    assert len(days) == 13
    assert [d for d in days if d not in chinese_calendar_data.holidays] == []


def test_seed_writes_the_shipped_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    output = tmp_path / "cn.yaml"
    assert main(["calendar", "seed", "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == (BUILTIN_DIR / "cn.yaml").read_text("utf-8")
    assert "完整 2004–2026，暂定 2027–2028" in capsys.readouterr().out


# --- holiday files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nyears:\n  2027: {status: final}\n",
         r"years\.2027\.status: expected complete or provisional, got 'final'"),
        ("name: x\nyears:\n  2027:\n    status: complete\n    holidays: {2028-01-01: 元旦}\n",
         r"years\.2027\.holidays\.2028-01-01: the date is not in 2027"),
        ("name: x\nyears:\n  2027:\n    status: complete\n    holidays: {2027-01-02: 元旦}\n"
         "    workdays: {2027-01-02: 补班}\n",
         r"years\.2027: 2027-01-02 is both a holiday and a workday"),
        ("name: x\ncolour: red\n", r"colour: unknown key"),
        ("name: x\nyears:\n  2027: {status: complete, notes: hi}\n",
         r"years\.2027\.notes: unknown key"),
    ],
)
def test_loader_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HolidayDataError, match=rf"^{path}: .*{message}"):
        load_holiday_set(str(path))


def test_an_extends_loop_is_an_error(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("name: a\nextends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("name: b\nextends: a.yaml\n", encoding="utf-8")
    with pytest.raises(HolidayDataError, match=r"a\.yaml: .*'extends' goes round in a circle"):
        load_holiday_set("a.yaml", tmp_path)


def test_an_own_complete_year_overrides_only_that_year_of_cn(tmp_path: Path):
    own = tmp_path / "cn-2027.yaml"
    own.write_text(
        "extends: cn\nyears:\n  2027:\n    status: complete\n"
        "    holidays: {2027-02-05: 春节, 2027-02-09: 春节, 2027-02-10: 春节}\n"
        "    workdays: {2027-02-20: 春节调休上班}\n",
        encoding="utf-8",
    )
    cn, merged = load_holiday_set("cn"), load_holiday_set(str(own))
    assert merged.name == "cn"
    assert merged.years.keys() == cn.years.keys()
    assert all(merged.years[y] == cn.years[y] for y in cn.years if y != 2027)
    assert merged.status(2027) == "complete" and merged.kind_of(date(2027, 2, 20)) == "workday"
    assert merged.kind_of(date(2027, 1, 1)) is None  # the own year replaces cn's 2027 whole
    read = read_holiday_file(own)
    assert (read.extends, read.own_years, list(read.own().years)) == ("cn", {2027}, [2027])
    cal = business_calendar("own", dict.fromkeys(WEEKDAYS, WORKDAY), holidays=merged)
    assert opening_hours_on(cal, date(2027, 2, 9)) == ()  # a Tuesday off
    assert [str(iv) for iv in opening_hours_on(cal, date(2027, 2, 20))] == WORKDAY  # Saturday


def test_fingerprint_changes_when_a_day_or_a_status_changes():
    cn = load_holiday_set("cn")
    year = cn.years[2027]
    moved = HolidayYear(2027, year.status,
                        MappingProxyType({**year.holidays, date(2027, 2, 9): "春节"}),
                        year.workdays, year.source)
    renamed = HolidayYear(2027, year.status,
                          MappingProxyType({**year.holidays, date(2027, 1, 1): "新年"}),
                          year.workdays, year.source)
    assert cn.with_years({2027: year}).fingerprint == cn.fingerprint
    assert cn.with_years({2027: moved}).fingerprint != cn.fingerprint
    # A name decides nothing a clock computes: renaming a day pins no clock anew.
    assert cn.with_years({2027: renamed}).fingerprint == cn.fingerprint
    completed = HolidayYear(2027, "complete", year.holidays, year.workdays, year.source)
    assert cn.with_years({2027: completed}).fingerprint != cn.fingerprint


# --- calendar check ------------------------------------------------------------------------

POLICY = """\
version: "check-test"
calendars:
  office:
    type: business
    holidays: {holidays}
    holiday_data_missing: error
    hours: {{mon: ["09:00-18:00"], tue: ["09:00-18:00"]}}
  24x7:
    type: always_open
targets:
  first_response: {{default: {{target: 30m, calendar: office}}}}
  next_response: {{default: {{target: 2h, calendar: 24x7}}}}
  resolution: {{default: {{target: 24h, calendar: 24x7}}}}
"""


def _policy_with_own_holidays(tmp_path: Path) -> Path:
    """A policy whose calendar uses a holiday file that has 2026 and nothing else."""
    (tmp_path / "holidays.yaml").write_text(
        "name: office\nyears:\n  2026:\n    status: complete\n    holidays: {2026-01-01: 元旦}\n",
        encoding="utf-8",
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(holidays="holidays.yaml"), encoding="utf-8")
    return policy


def test_check_passes_the_packaged_policy_while_next_year_is_provisional(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("CF_SLA_POLICY", raising=False)
    assert main(["calendar", "check", "--today", "2026-12-02"]) == 0
    out = capsys.readouterr().out
    assert "日历 cn_business：节假日数据 cn，有数据的年份 2004–2028" in out
    assert "  2026  完整（今年）\n" in out
    assert "  2027  暂定（明年）：只含法定节假日，调休上班日未公布\n" in out
    assert "  2028  暂定：只含法定节假日，调休上班日未公布\n" in out
    assert "  2025  完整\n" in out and "2029" not in out  # last year to two years ahead
    assert "日历 24x7：全天候（24×7），不用节假日数据" in out
    assert out.rstrip().endswith("正常：用节假日数据的日历都有今年和明年的数据")


def test_check_fails_when_next_year_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("CF_SLA_POLICY", raising=False)
    assert main(["calendar", "check", "--today", "2028-06-01", "--years", "2028-2029"]) == 1
    out = capsys.readouterr().out
    assert ("  2029  缺失（明年）：按每周工作时间计算（holiday_data_missing: weekly_hours）\n"
            in out)
    assert "需要处理：日历 cn_business 缺少 2029 年（明年）的节假日数据" in out


def test_check_reads_cf_sla_policy_and_its_holiday_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("CF_SLA_POLICY", str(_policy_with_own_holidays(tmp_path)))
    assert main(["calendar", "check", "--today", "2026-05-01"]) == 1
    out = capsys.readouterr().out
    assert "日历 office：节假日数据 office，有数据的年份 2026，" in out
    assert "  2026  完整（今年）\n" in out
    assert "  2027  缺失（明年）：时钟无法计算截止时间（holiday_data_missing: error）\n" in out
    assert "需要处理：日历 office 缺少 2027 年（明年）的节假日数据" in out
    # A missing current year fails the check as well.
    assert main(["calendar", "check", "--today", "2025-03-01", "--years", "2025-2026"]) == 1
    assert "日历 office 缺少 2025 年（今年）" in capsys.readouterr().out


def test_check_with_a_policy_option_and_no_holidays_passes_any_year(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    policy = tmp_path / "plain.yaml"
    policy.write_text(
        POLICY.format(holidays="x").replace("    holidays: x\n", ""), encoding="utf-8"
    )
    assert main(["calendar", "check", "--policy", str(policy), "--today", "2040-01-01"]) == 0
    out = capsys.readouterr().out
    assert "日历 office：不用节假日数据，只按每周工作时间和日期覆盖计算" in out
    assert "日历 24x7：全天候（24×7），不用节假日数据" in out


def test_check_reports_a_broken_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(holidays="nowhere.yaml"), encoding="utf-8")
    assert main(["calendar", "check", "--policy", str(policy)]) == 2
    assert "calendars.office.holidays" in capsys.readouterr().err


def test_calendar_alone_lists_its_actions(capsys: pytest.CaptureFixture[str]):
    assert main(["calendar"]) == 2
    assert "{check,import-ics,seed}" in capsys.readouterr().err
