"""Holidays from iCalendar feeds: parsing (streams/sla/ics.py) and `calendar import-ics`."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count
from pathlib import Path

import pytest
import yaml

from complaintflow.cli import main
from streams.sla.calendar import business_calendar, opening_hours_on
from streams.sla.holidays import load_holiday_set
from streams.sla.ics import IcsError, parse_feed

WORKDAY = ["09:00-12:00", "13:30-18:00"]
_UIDS = count()


def event(start: str, summary: str, end: str | None = None, *extra: str) -> str:
    """One all-day VEVENT; dates as YYYYMMDD, extra lines as written."""
    lines = ["BEGIN:VEVENT", f"UID:{next(_UIDS)}@test", "DTSTAMP:20260101T000000Z",
             f"DTSTART;VALUE=DATE:{start}"]
    lines += [f"DTEND;VALUE=DATE:{end}"] if end else []
    return "\r\n".join([*lines, f"SUMMARY:{summary}", *extra, "END:VEVENT"])


def feed(*events: str, name: str = "中国节假日") -> bytes:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//complaintflow//test//ZH",
            f"X-WR-CALNAME:{name}"]
    return "\r\n".join([*head, *events, "END:VCALENDAR", ""]).encode()


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# A Chinese feed for 2027 as the State Council might publish it (made up for the test).
CN_2027 = feed(
    event("20270101", "元旦", "20270104"),
    event("20270205", "春节", "20270212"),
    event("20270131", "春节补班"),
    event("20270220", "春节调休上班"),
)


# --- parsing -------------------------------------------------------------------------------


def test_a_chinese_feed_gives_holidays_and_makeup_workdays():
    parsed = parse_feed(CN_2027)
    assert parsed.name == "中国节假日" and parsed.skipped == ()
    assert list(parsed.years) == [2027]
    year = parsed.years[2027]
    assert list(year.holidays) == (
        days("2027-01-01", "2027-01-03") + days("2027-02-05", "2027-02-11")
    )
    assert year.holidays[date(2027, 2, 5)] == "春节"
    assert dict(year.workdays) == {date(2027, 1, 31): "春节补班", date(2027, 2, 20): "春节调休上班"}


def test_multi_day_events_end_before_dtend_and_may_cross_new_year():
    parsed = parse_feed(feed(event("20261231", "跨年", "20270102"), event("20270501", "劳动节")))
    assert dict(parsed.years[2026].holidays) == {date(2026, 12, 31): "跨年"}
    assert list(parsed.years[2027].holidays) == [date(2027, 1, 1), date(2027, 5, 1)]


def test_workday_markers_can_be_replaced():
    parsed = parse_feed(feed(event("20270131", "Working day (Spring Festival)")),
                        workday_markers=["Working day"])
    assert list(parsed.years[2027].workdays) == [date(2027, 1, 31)]


def test_yearly_rules_expand_over_the_years_asked():
    memorial = event("20260525", "Memorial Day", None, "RRULE:FREQ=YEARLY;BYMONTH=5;BYDAY=-1MO",
                     "EXDATE;VALUE=DATE:20280529")
    new_year = event("20200101", "New Year", None, "RRULE:FREQ=YEARLY;UNTIL=20281231T000000Z")
    parsed = parse_feed(feed(memorial, new_year), years=[2027, 2028, 2029])
    assert {y: sorted(parsed.years[y].holidays) for y in parsed.years} == {
        2027: [date(2027, 1, 1), date(2027, 5, 31)],
        2028: [date(2028, 1, 1)],  # Memorial Day 2028 is excluded (EXDATE)
        2029: [date(2029, 5, 28)],  # New Year's rule ended in 2028
    }


def test_without_years_rules_fill_the_years_of_single_events():
    parsed = parse_feed(feed(event("20270101", "元旦"),
                             event("20200501", "劳动节", None, "RRULE:FREQ=YEARLY")))
    assert list(parsed.years) == [2027]
    assert list(parsed.years[2027].holidays) == [date(2027, 1, 1), date(2027, 5, 1)]
    with pytest.raises(IcsError, match="--year"):
        parse_feed(feed(event("20200501", "劳动节", None, "RRULE:FREQ=YEARLY")))


def test_every_event_left_out_is_reported_with_its_reason():
    timed = "\r\n".join(["BEGIN:VEVENT", "UID:t@test", "DTSTART:20270301T090000Z",
                         "DTEND:20270301T100000Z", "SUMMARY:例会", "END:VEVENT"])
    cancelled = event("20270401", "取消的假日", None, "STATUS:CANCELLED")
    valentine = event("20270220", "情人节")  # an observance on a make-up workday
    parsed = parse_feed(feed(event("20270220", "春节补班"), valentine, timed, cancelled,
                             event("20260101", "元旦")), years=[2027])
    assert [str(s) for s in parsed.skipped] == [
        "跳过 2027-03-01T09:00:00+00:00 例会：不是全天事件（DTSTART 带时刻）",
        "跳过 2027-04-01 取消的假日：已取消（STATUS:CANCELLED）",
        "跳过 2026-01-01 元旦：不在所选年份（2027）内",
        "跳过 2027-02-20 情人节：订阅源把这天标为调休上班（春节补班）",
    ]
    assert dict(parsed.years[2027].holidays) == {}


def test_a_file_that_is_not_icalendar_is_an_error():
    with pytest.raises(IcsError, match="iCalendar"):
        parse_feed(b"no calendar here")


# --- regional events -----------------------------------------------------------------------

NATIONAL_DE = feed(
    event("20270101", "Neujahr", None, "CATEGORIES:Holiday"),
    event("20270527", "Fronleichnam", None, "CATEGORIES:Holiday,Bayern"),
    event("20270815", "Mariä Himmelfahrt", None, "LOCATION:Saarland, Bayern"),
    event("20271031", "Reformationstag", None, "DESCRIPTION:Regional holiday in Sachsen"),
    name="Feiertage Deutschland",
)


def test_regional_events_are_skipped_without_a_region():
    parsed = parse_feed(NATIONAL_DE)
    assert list(parsed.years[2027].holidays) == [date(2027, 1, 1)]
    assert [str(s) for s in parsed.skipped] == [
        "跳过 2027-05-27 Fronleichnam：地区性节日（Bayern），未用 --region 选这个地区",
        "跳过 2027-08-15 Mariä Himmelfahrt：地区性节日（Saarland、Bayern），"
        "未用 --region 选这个地区",
        "跳过 2027-10-31 Reformationstag：地区性节日（Regional holiday in Sachsen），"
        "未用 --region 选这个地区",
    ]


@pytest.mark.parametrize(
    ("regions", "kept"),
    [
        (["bayern"], ["2027-01-01", "2027-05-27", "2027-08-15"]),  # CATEGORIES and LOCATION
        (["Sachsen"], ["2027-01-01", "2027-10-31"]),  # named in DESCRIPTION
        (["Saarland", "Sachsen"], ["2027-01-01", "2027-08-15", "2027-10-31"]),
        (["BY"], ["2027-01-01"]),  # a code is not a prefix of "Bayern"
    ],
)
def test_regional_events_are_kept_for_the_regions_asked(regions: list[str], kept: list[str]):
    parsed = parse_feed(NATIONAL_DE, regions=regions)
    assert [d.isoformat() for d in parsed.years[2027].holidays] == kept
    assert len(parsed.skipped) == 4 - len(kept)
    assert all(f"不属于 --region {'、'.join(regions)}" in str(s) for s in parsed.skipped)


def test_a_chinese_regional_day_is_matched_inside_a_longer_name():
    sanyuesan = event("20270409", "壮族三月三", None, "DESCRIPTION:地区性假日：广西壮族自治区")
    assert list(parse_feed(feed(sanyuesan), regions=["广西"]).years[2027].holidays) == [
        date(2027, 4, 9)
    ]


# --- the command ---------------------------------------------------------------------------


def test_import_creates_a_file_that_extends_cn_with_its_own_year_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ics, target = tmp_path / "cn-2027.ics", tmp_path / "holidays.yaml"
    ics.write_bytes(CN_2027)
    assert main(["calendar", "import-ics", str(ics), "--into", str(target),
                 "--extends", "cn"]) == 0
    out = capsys.readouterr().out
    assert f"已写入 {target}（extends: cn）" in out
    assert "  2027  节假日 10 天，调休上班 2 天，完整" in out
    written = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert written["extends"] == "cn" and list(written["years"]) == [2027]  # no copy of cn
    assert written["years"][2027]["source"] == "iCalendar cn-2027.ics（中国节假日）"
    merged = load_holiday_set(str(target))
    assert merged.status(2026) == "complete" and merged.status(2027) == "complete"
    assert merged.years[2026] == load_holiday_set("cn").years[2026]
    # The imported days now decide a calendar's hours.
    cal = business_calendar("office", dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), WORKDAY),
                            holidays=merged)
    assert opening_hours_on(cal, date(2027, 2, 10)) == ()  # Wednesday of Spring Festival
    assert [str(iv) for iv in opening_hours_on(cal, date(2027, 1, 31))] == WORKDAY  # Sunday
    assert [str(iv) for iv in opening_hours_on(cal, date(2027, 2, 12))] == WORKDAY  # Friday


def test_import_replaces_whole_years_and_keeps_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    target = tmp_path / "office.yaml"
    target.write_text(
        "name: office\nyears:\n"
        "  2026:\n    status: complete\n    holidays: {2026-01-01: 元旦}\n"
        "  2027:\n    status: provisional\n    holidays: {2027-01-01: 元旦, 2027-06-09: 端午节}\n",
        encoding="utf-8",
    )
    ics = tmp_path / "national.ics"
    ics.write_bytes(NATIONAL_DE)
    assert main(["calendar", "import-ics", str(ics), "--into", str(target), "--region", "Bayern",
                 "--status", "provisional"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "跳过 2027-10-31 Reformationstag：地区性节日（Regional holiday in Sachsen），"
        "不属于 --region Bayern"
    ]
    assert "文件中其他年份不变：2026" in captured.out
    merged = load_holiday_set(str(target))
    assert list(merged.years) == [2026, 2027]
    assert dict(merged.years[2026].holidays) == {date(2026, 1, 1): "元旦"}
    assert merged.status(2027) == "provisional"
    assert list(merged.years[2027].holidays) == [date(2027, 1, 1), date(2027, 5, 27),
                                                 date(2027, 8, 15)]  # 端午节 replaced with it


def test_import_writes_nothing_for_a_year_the_feed_does_not_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ics, target = tmp_path / "cn.ics", tmp_path / "holidays.yaml"
    ics.write_bytes(CN_2027)
    assert main(["calendar", "import-ics", str(ics), "--into", str(target),
                 "--year", "2027", "--year", "2028"]) == 1
    assert "订阅源没有 2028 年的日子：未写入" in capsys.readouterr().err
    assert not target.exists()


def test_import_does_not_change_what_an_existing_file_extends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ics, target = tmp_path / "cn.ics", tmp_path / "holidays.yaml"
    ics.write_bytes(CN_2027)
    target.write_text("name: own\nyears: {}\n", encoding="utf-8")
    assert main(["calendar", "import-ics", str(ics), "--into", str(target),
                 "--extends", "cn"]) == 2
    assert "--extends only applies to a new file" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "name: own\nyears: {}\n"
    assert not list(tmp_path.glob(".*draft"))
