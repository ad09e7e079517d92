"""Business calendars and business-time arithmetic, checked against hand-worked answers.

Unless a test says otherwise, times are written in Asia/Shanghai local time (UTC+8, no DST) on
the "cn_business" calendar: Mon-Fri 09:00-12:00 + 13:30-18:00 (7.5 h a day), Chinese statutory
holidays closed, make-up workdays (调休) open with Monday's hours.

Holiday facts used below (State Council notices; the first test checks chinese_calendar agrees):
- 2025 National Day + Mid-Autumn: Oct 1 (Wed) - Oct 8 (Wed) off; Sun Sep 28 and Sat Oct 11 work.
- 2026 Spring Festival: Feb 15 (Sun) - Feb 23 (Mon) off; Sat Feb 14 and Sat Feb 28 work.
- 2025-11-03 is an ordinary Monday; November 2025 has no holidays.
"""

from __future__ import annotations

import re
import time as timer
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sla.calendar import (
    BusinessCalendar,
    CalendarError,
    DayInterval,
    HolidayDataUnavailable,
    NoOpeningFound,
    add_business_ms,
    add_business_seconds,
    always_open,
    business_calendar,
    business_ms_between,
    business_seconds_between,
    is_open,
    next_business_instant,
    opening_hours_on,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKDAY = ["09:00-12:00", "13:30-18:00"]
CN = business_calendar(
    "cn_business",
    {day: WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")},
    chinese_holidays=True,
)
ALWAYS = always_open()
MINUTE, HOUR = 60, 3600


def sh(text: str) -> int:
    """'YYYY-MM-DD HH:MM[:SS[.fff]]' in Shanghai local time -> UTC epoch ms."""
    local = datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
    return round(local.timestamp() * 1000)


def utc(text: str) -> int:
    return round(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def local(ms: int) -> str:
    """UTC epoch ms -> 'YYYY-MM-DD HH:MM[:SS]' in Shanghai, for readable assertions."""
    moment = datetime.fromtimestamp(ms / 1000, SHANGHAI)
    return moment.strftime("%Y-%m-%d %H:%M" + (":%S" if moment.second else ""))


# --- the holiday data itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "is_workday"),
    [
        ("2025-09-27", False),  # Sat, ordinary weekend
        ("2025-09-28", True),  # Sun, 调休 for National Day
        ("2025-09-30", True),
        ("2025-10-01", False),
        ("2025-10-06", False),  # Mon inside the holiday
        ("2025-10-08", False),  # last day off (Mid-Autumn folded in)
        ("2025-10-09", True),
        ("2025-10-11", True),  # Sat, 调休
        ("2025-10-12", False),
        ("2026-02-13", True),
        ("2026-02-14", True),  # Sat, 调休 for Spring Festival
        ("2026-02-15", False),
        ("2026-02-23", False),  # Mon, last day off
        ("2026-02-24", True),
        ("2026-02-28", True),  # Sat, 调休
        ("2026-03-01", False),
    ],
)
def test_chinese_calendar_data_matches_the_state_council_notices(day: str, is_workday: bool):
    assert chinese_calendar.is_workday(date.fromisoformat(day)) is is_workday


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        ("2025-09-27", ()),  # ordinary Saturday: no weekly hours
        ("2025-09-28", tuple(WORKDAY)),  # 调休 Sunday: Monday's hours
        ("2025-09-30", tuple(WORKDAY)),
        ("2025-10-01", ()),  # statutory holiday on a Wednesday
        ("2025-10-11", tuple(WORKDAY)),  # 调休 Saturday
        ("2026-02-16", ()),  # Spring Festival Monday
        ("2026-02-28", tuple(WORKDAY)),
    ],
)
def test_opening_hours_follow_holidays_and_makeup_days(day: str, hours: tuple[str, ...]):
    assert tuple(str(iv) for iv in opening_hours_on(CN, date.fromisoformat(day))) == hours


def test_makeup_day_hours_can_be_set_instead_of_mondays():
    cal = business_calendar(
        "short_makeup",
        {"mon": WORKDAY},
        chinese_holidays=True,
        makeup_workday_hours=["10:00-16:00"],
    )
    assert [str(iv) for iv in opening_hours_on(cal, date(2025, 9, 28))] == ["10:00-16:00"]
    # 10:00-16:00 on the 调休 Sunday is 6 h.
    assert business_seconds_between(cal, sh("2025-09-28 00:00"), sh("2025-09-29 00:00")) == 6 * HOUR


def test_weekend_hours_survive_ordinary_saturdays_but_not_statutory_holidays():
    store = business_calendar(
        "store", {"mon": WORKDAY, "sat": ["10:00-14:00"]}, chinese_holidays=True
    )
    assert [str(iv) for iv in opening_hours_on(store, date(2025, 10, 18))] == ["10:00-14:00"]
    assert opening_hours_on(store, date(2025, 10, 4)) == ()  # Saturday inside National Day
    # A 调休 Saturday is a stand-in weekday, so it gets Monday's hours, not Saturday's.
    assert [str(iv) for iv in opening_hours_on(store, date(2025, 10, 11))] == WORKDAY


# --- business time between two instants ------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected_seconds"),
    [
        # Tue Sep 30 17:00-18:00 = 1 h; Oct 1-8 closed; Thu Oct 9 09:00-10:00 = 1 h.
        ("2025-09-30 17:00", "2025-10-09 10:00", 2 * HOUR),
        # Sat Sep 27 is an ordinary weekend (0); Sun Sep 28 is 调休: 09:00-10:00 = 1 h.
        ("2025-09-27 10:00", "2025-09-28 10:00", 1 * HOUR),
        # Fri Oct 10 17-18 = 1 h; Sat Oct 11 调休 = 7.5 h; Sun 0; Mon Oct 13 09:00-09:30 = 0.5 h.
        ("2025-10-10 17:00", "2025-10-13 09:30", 9 * HOUR),
        # Fri Feb 13 from noon: 13:30-18:00 = 4.5 h; Sat Feb 14 调休 = 7.5 h; Feb 15-23 closed.
        ("2026-02-13 12:00", "2026-02-24 09:00", 12 * HOUR),
        # Sat Feb 14 = 7.5 h; Feb 15-23 closed; Tue Feb 24 = 7.5 h.
        ("2026-02-14 00:00", "2026-02-25 00:00", 15 * HOUR),
        # Only Sat Feb 28 (调休, 7.5 h) lies between Fri 18:00 and Mon 09:00; Sun Mar 1 is off.
        ("2026-02-27 18:00", "2026-03-02 09:00", 7 * HOUR + 30 * MINUTE),
        # Lunch break: 11:00-12:00 = 1 h, 13:30-14:00 = 0.5 h.
        ("2025-11-04 11:00", "2025-11-04 14:00", 1 * HOUR + 30 * MINUTE),
        # Overnight: Tue 17:30-18:00 + Wed 09:00-09:30.
        ("2025-11-04 17:30", "2025-11-05 09:30", 1 * HOUR),
        # Both ends inside the lunch break, or both outside hours overnight: nothing.
        ("2025-11-04 12:10", "2025-11-04 13:20", 0),
        ("2025-11-04 19:00", "2025-11-05 08:59", 0),
        # Zero-length and reversed spans have no business time.
        ("2025-11-04 10:00", "2025-11-04 10:00", 0),
        ("2025-11-04 10:00", "2025-11-04 09:00", 0),
        # An ordinary week Mon 00:00 - Mon 00:00: 5 x 7.5 h.
        ("2025-11-03 00:00", "2025-11-10 00:00", 37 * HOUR + 30 * MINUTE),
        # Exact to the second.
        ("2025-11-04 09:59:59", "2025-11-04 10:00:01", 2),
        ("2025-11-04 08:59:59", "2025-11-04 09:00:01", 1),
    ],
)
def test_business_seconds_between(start: str, end: str, expected_seconds: int):
    assert business_seconds_between(CN, sh(start), sh(end)) == expected_seconds
    assert business_ms_between(CN, sh(start), sh(end)) == expected_seconds * 1000


def test_milliseconds_are_exact_and_seconds_floor():
    start, end = sh("2025-11-04 10:00:00.250"), sh("2025-11-04 10:00:01.000")
    assert business_ms_between(CN, start, end) == 750
    assert business_seconds_between(CN, start, end) == 0


# --- deadlines -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "seconds", "deadline"),
    [
        # 30 min from 17:30 ends exactly at closing time: the earliest instant, not next morning.
        ("2025-09-30 17:30", 30 * MINUTE, "2025-09-30 18:00"),
        # One more minute spills over the whole National Day break to Oct 9 09:01.
        ("2025-09-30 17:30", 31 * MINUTE, "2025-10-09 09:01"),
        # Received on a holiday: the clock starts at the next opening.
        ("2025-10-01 10:00", 0, "2025-10-09 09:00"),
        # Saturday evening: the 调休 Sunday opens at 09:00, + 30 min.
        ("2025-09-27 20:00", 30 * MINUTE, "2025-09-28 09:30"),
        # 10 min before lunch, the other 20 after it.
        ("2025-11-04 11:50", 30 * MINUTE, "2025-11-04 13:50"),
        # Fri Feb 13 17-18 uses 1 h; Sat Feb 14 (调休) 09-12 uses 3 h; 13:30 + 4 h = 17:30.
        ("2026-02-13 17:00", 8 * HOUR, "2026-02-14 17:30"),
        # Sat Feb 14 17-18 uses 1 h; Feb 15-23 closed; Tue Feb 24 09:00 + 1 h.
        ("2026-02-14 17:00", 2 * HOUR, "2026-02-24 10:00"),
        # Fri Oct 10 7.5 h, Sat Oct 11 (调休) 7.5 h, Sun 0, Mon 7.5 h -> 1.5 h left on Tue.
        ("2025-10-10 09:00", 24 * HOUR, "2025-10-14 10:30"),
        # Ordinary weekend: Fri 17-18 = 1 h, then Mon 09:00 + 1 h.
        ("2025-11-07 17:00", 2 * HOUR, "2025-11-10 10:00"),
        # Starting exactly at a closing time: that instant is closed, the clock starts at 13:30.
        ("2025-11-04 12:00", 0, "2025-11-04 13:30"),
        ("2025-11-04 12:00", 1, "2025-11-04 13:30:01"),
        ("2025-11-04 18:00", 0, "2025-11-05 09:00"),
        # Zero target while open: the deadline is the start itself.
        ("2025-11-04 10:00", 0, "2025-11-04 10:00"),
    ],
)
def test_add_business_seconds(start: str, seconds: int, deadline: str):
    assert local(add_business_seconds(CN, sh(start), seconds)) == deadline


def test_negative_business_time_is_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        add_business_ms(CN, sh("2025-11-04 10:00"), -1)


@pytest.mark.parametrize(
    ("at", "open_", "next_instant"),
    [
        ("2025-11-04 08:59:59.999", False, "2025-11-04 09:00"),
        ("2025-11-04 09:00", True, "2025-11-04 09:00"),
        ("2025-11-04 11:59:59.999", True, "2025-11-04 11:59:59"),
        ("2025-11-04 12:00", False, "2025-11-04 13:30"),  # intervals are half-open
        ("2025-11-04 18:00", False, "2025-11-05 09:00"),
        ("2025-10-03 10:00", False, "2025-10-09 09:00"),  # Friday inside National Day
        ("2025-09-28 10:00", True, "2025-09-28 10:00"),  # 调休 Sunday
        ("2026-02-20 10:00", False, "2026-02-24 09:00"),  # Spring Festival Friday
        ("2026-02-28 10:00", True, "2026-02-28 10:00"),  # 调休 Saturday
        ("2026-03-01 10:00", False, "2026-03-02 09:00"),
    ],
)
def test_is_open_and_next_business_instant(at: str, open_: bool, next_instant: str):
    assert is_open(CN, sh(at)) is open_
    assert local(next_business_instant(CN, sh(at))) == next_instant


def test_always_open_is_wall_time():
    start = sh("2025-10-01 03:17")  # a holiday in the small hours: irrelevant to 24x7
    assert ALWAYS.is_always_open
    assert business_seconds_between(ALWAYS, start, start + 90_000) == 90
    assert add_business_seconds(ALWAYS, start, 2 * MINUTE) == start + 120_000
    assert next_business_instant(ALWAYS, start) == start
    assert is_open(ALWAYS, start)
    assert not CN.is_always_open


# --- overrides -------------------------------------------------------------------------------

OVERRIDDEN = business_calendar(
    "with_overrides",
    {day: WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")},
    chinese_holidays=True,
    closed_dates=[date(2025, 11, 5)],  # a Wednesday: company off-site
    open_dates={
        date(2025, 11, 8): ["10:00-12:00"],  # a Saturday: catch-up shift
        date(2025, 10, 2): ["10:00-11:00"],  # duty hour inside National Day
    },
)


def test_overrides_win_over_weekly_hours_and_holidays():
    assert opening_hours_on(OVERRIDDEN, date(2025, 11, 5)) == ()
    assert [str(iv) for iv in opening_hours_on(OVERRIDDEN, date(2025, 11, 8))] == ["10:00-12:00"]
    assert [str(iv) for iv in opening_hours_on(OVERRIDDEN, date(2025, 10, 2))] == ["10:00-11:00"]
    # Tue 17-18 = 1 h; Wed closed; Thu + Fri = 15 h; Sat 10-12 = 2 h; Sun 0.
    between = business_seconds_between(OVERRIDDEN, sh("2025-11-04 17:00"), sh("2025-11-10 09:00"))
    assert between == 18 * HOUR
    # From a National Day evening the next opening is the duty hour on Oct 2.
    assert local(add_business_seconds(OVERRIDDEN, sh("2025-10-01 20:00"), 30 * MINUTE)) == (
        "2025-10-02 10:30"
    )


# --- years the holiday set does not list ----------------------------------------------------


def test_years_without_holiday_data_raise_a_clear_error():
    with pytest.raises(HolidayDataUnavailable, match=r"cn_business.*'cn'.*2029.*calendar check"):
        opening_hours_on(CN, date(2029, 1, 4))
    # A deadline that runs past New Year 2029 (Fri Dec 29 2028, 17-18 = 1 h) needs 2029's data.
    with pytest.raises(HolidayDataUnavailable):
        add_business_seconds(CN, sh("2028-12-29 17:00"), 2 * HOUR)


def test_a_provisional_year_closes_its_statutory_days():
    # 2027: only the days the law fixes are known (no 调休 yet): New Year's Day and 除夕..初三.
    assert CN.year_status(2027) == "provisional"
    assert opening_hours_on(CN, date(2027, 1, 1)) == ()
    assert [opening_hours_on(CN, date(2027, 2, d)) for d in (5, 8)] == [(), ()]
    assert opening_hours_on(CN, date(2027, 2, 9)) == CN.weekly_hours[1]  # Tue after 初三


def test_years_without_holiday_data_can_fall_back_to_weekly_hours_and_overrides():
    lenient = business_calendar(
        "lenient",
        {day: WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")},
        chinese_holidays=True,
        holiday_data_missing="weekly_hours",
        closed_dates=[date(2029, 1, 1)],  # New Year's Day 2029 (a Monday), entered by hand
    )
    # Fri Dec 29 2028 17-18 = 1 h; Mon Jan 1 closed by override; Tue Jan 2 09:00 + 1 h.
    assert local(add_business_seconds(lenient, sh("2028-12-29 17:00"), 2 * HOUR)) == (
        "2029-01-02 10:00"
    )


def test_a_calendar_that_never_opens_again_fails_instead_of_looping():
    once = business_calendar("once", {}, open_dates={date(2025, 1, 1): ["09:00-10:00"]})
    assert business_seconds_between(once, sh("2024-12-31 00:00"), sh("2025-06-01 00:00")) == HOUR
    with pytest.raises(NoOpeningFound):
        add_business_seconds(once, sh("2025-06-01 00:00"), 1)


# --- the last day of the holiday data ---------------------------------------------------------


def _calendar_with_holiday_data_until_2026() -> BusinessCalendar:
    """cn_business on holiday data that ends with 2026 (as chinese-calendar 1.11.0's did) and
    fails loudly for later years. The one place that says where that data comes from."""
    from streams.sla.holidays import HolidaySet, load_holiday_set

    cn = load_holiday_set("cn")
    until_2026 = HolidaySet(cn.name, {y: v for y, v in cn.years.items() if y <= 2026})
    return business_calendar(
        "cn_business",
        {day: WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")},
        holidays=until_2026,
        holiday_data_missing="error",
    )


def test_questions_about_the_last_day_of_holiday_data_do_not_need_the_next_year():
    cal = _calendar_with_holiday_data_until_2026()
    with pytest.raises(HolidayDataUnavailable):
        opening_hours_on(cal, date(2027, 1, 1))  # the calendar really knows nothing of 2027
    # Thu Dec 31 2026 is an ordinary working day: 7.5 h, however the day is bounded.
    assert business_seconds_between(cal, sh("2026-12-31 09:00"), sh("2026-12-31 18:00")) == (
        7 * HOUR + 30 * MINUTE
    )
    assert business_seconds_between(cal, sh("2026-12-31 00:00"), sh("2027-01-01 00:00")) == (
        7 * HOUR + 30 * MINUTE
    )
    assert business_seconds_between(cal, sh("2026-12-30 17:00"), sh("2026-12-31 10:00")) == 2 * HOUR
    assert is_open(cal, sh("2026-12-31 17:59:59.999"))
    assert not is_open(cal, sh("2026-12-31 19:00"))
    assert not is_open(cal, sh("2026-12-31 23:59:59.999"))
    assert local(next_business_instant(cal, sh("2026-12-31 12:30"))) == "2026-12-31 13:30"
    # A target that runs out at the closing time ends there, without looking at the next day.
    assert local(add_business_seconds(cal, sh("2026-12-31 17:00"), HOUR)) == "2026-12-31 18:00"


@pytest.mark.parametrize(
    "question",
    [
        lambda cal: add_business_seconds(cal, sh("2026-12-31 17:00"), HOUR + 1),
        lambda cal: next_business_instant(cal, sh("2026-12-31 18:00")),
        lambda cal: is_open(cal, sh("2027-01-01 00:00")),
        lambda cal: business_ms_between(cal, sh("2026-12-31 17:00"), sh("2027-01-01 00:00") + 1),
    ],
)
def test_questions_that_reach_into_the_next_year_still_need_its_data(question):
    with pytest.raises(HolidayDataUnavailable, match="2027"):
        question(_calendar_with_holiday_data_until_2026())


# --- construction errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DayInterval.parse("9-12"), "expected an interval like '09:00-12:00'"),
        (lambda: DayInterval.parse("18:00-09:00"), "start < end"),
        (lambda: DayInterval.parse("09:00-24:30"), "no such time of day"),
        (lambda: business_calendar("x", {"mon": ["09:00-12:00", "11:00-13:00"]}), "overlap"),
        (lambda: business_calendar("x", {"funday": WORKDAY}), "unknown weekday"),
        (lambda: business_calendar("x", {"mon": WORKDAY}, timezone="Mars/Olympus"), "time zone"),
        (
            lambda: business_calendar(
                "x",
                {"mon": WORKDAY},
                closed_dates=[date(2025, 1, 6)],
                open_dates={date(2025, 1, 6): WORKDAY},
            ),
            "both closed and open",
        ),
        (lambda: BusinessCalendar("x", ((),) * 6), "7 days"),
    ],
)
def test_malformed_calendars_are_rejected(build, message: str):
    with pytest.raises(CalendarError, match=re.escape(message)):
        build()


def test_intervals_from_times_treat_midnight_end_as_24_00():
    assert DayInterval.of(time(22), time(0)) == DayInterval.parse("22:00-24:00")
    assert DayInterval.parse("22:00-24:00").seconds == 2 * HOUR


# --- time zones with DST ---------------------------------------------------------------------

# Open 01:00-04:00 local every day in New York. On 2025-03-09 clocks jump 02:00 EST -> 03:00
# EDT, so 01:00 EST = 06:00Z and 04:00 EDT = 08:00Z: 2 real hours. On 2025-11-02 they fall back
# 02:00 EDT -> 01:00 EST; 01:00 is read with the earlier offset (EDT, 05:00Z) and 04:00 EST is
# 09:00Z: 4 real hours. An ordinary day has 3.
NY_NIGHT = business_calendar(
    "ny_night", {day: ["01:00-04:00"] for day in range(7)}, timezone="America/New_York"
)
# Open all day, every day, except one closed date: not "always open", so the per-day path runs,
# and a whole local day is 23 h on the spring-forward day.
NY_ALL_DAY = business_calendar(
    "ny_all_day",
    {day: ["00:00-24:00"] for day in range(7)},
    timezone="America/New_York",
    closed_dates=[date(2025, 12, 25)],
)


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected_seconds"),
    [
        (NY_NIGHT, "2025-03-09 00:00", "2025-03-09 12:00", 2 * HOUR),
        (NY_NIGHT, "2025-11-02 00:00", "2025-11-02 12:00", 4 * HOUR),
        (NY_NIGHT, "2025-03-10 00:00", "2025-03-10 12:00", 3 * HOUR),
        # Local midnight Mar 9 (05:00Z, EST) to local midnight Mar 10 (04:00Z, EDT).
        (NY_ALL_DAY, "2025-03-09 05:00", "2025-03-10 04:00", 23 * HOUR),
        # Local midnight Nov 2 (04:00Z, EDT) to local midnight Nov 3 (05:00Z, EST).
        (NY_ALL_DAY, "2025-11-02 04:00", "2025-11-03 05:00", 25 * HOUR),
        # Christmas is closed: local Dec 24 00:00 (05:00Z) to Dec 26 00:00 (05:00Z) is one day.
        (NY_ALL_DAY, "2025-12-24 05:00", "2025-12-26 05:00", 24 * HOUR),
    ],
)
def test_dst_days_count_real_elapsed_time(
    calendar: BusinessCalendar, start: str, end: str, expected_seconds: int
):
    assert business_seconds_between(calendar, utc(start), utc(end)) == expected_seconds


def test_hours_that_overlap_after_a_dst_jump_are_counted_once():
    # Sunday 01:00-02:30 and 03:00-04:00 in New York. On 2025-03-09 local 02:30 does not exist
    # and reads as the jump (02:00 EST = 03:00 EDT = 07:00Z), where 03:00-04:00 EDT starts. So
    # 01:00 EST (06:00Z) to 04:00 EDT (08:00Z) is 2 real hours, not 1.5 h + 1 h.
    sunday = business_calendar(
        "ny_sunday", {"sun": ["01:00-02:30", "03:00-04:00"]}, timezone="America/New_York"
    )
    day_start, day_end = utc("2025-03-09 00:00"), utc("2025-03-09 12:00")
    assert business_seconds_between(sunday, day_start, day_end) == 2 * HOUR
    assert add_business_seconds(sunday, day_start, 2 * HOUR) == utc("2025-03-09 08:00")


def test_dst_deadline_lands_on_the_real_instant():
    # Spring forward: the 01:00-04:00 window is 06:00Z-08:00Z; 90 min after opening = 07:30Z.
    deadline = add_business_seconds(NY_NIGHT, utc("2025-03-09 00:00"), 90 * MINUTE)
    assert deadline == utc("2025-03-09 07:30")
    assert is_open(NY_NIGHT, utc("2025-03-09 07:59:59"))
    assert not is_open(NY_NIGHT, utc("2025-03-09 08:00"))


# Europe/Berlin: on Sun 2024-03-31 clocks jump 02:00 CET -> 03:00 CEST at 01:00Z, so local
# 02:00-03:00 does not exist; on Sun 2024-10-27 they fall back 03:00 CEST -> 02:00 CET at
# 01:00Z, so 02:00-03:00 happens twice (first CEST, 00:00Z-01:00Z; then CET, 01:00Z-02:00Z).
# A skipped time reads as the jump (01:00Z); a repeated one with the earlier offset (CEST).
BERLIN_GAP = business_calendar(
    "berlin_gap", {"sun": ["02:30-02:45", "03:00-03:20"]}, timezone="Europe/Berlin"
)


def test_hours_inside_a_spring_forward_gap_are_empty_and_the_hours_after_it_count():
    # 02:30-02:45 lies wholly in the gap: empty. 03:00-03:20 CEST is 01:00Z-01:20Z: 20 min.
    day_start, day_end = utc("2024-03-30 23:00"), utc("2024-03-31 22:00")  # local midnights
    assert business_seconds_between(BERLIN_GAP, day_start, day_end) == 20 * MINUTE
    assert is_open(BERLIN_GAP, utc("2024-03-31 01:10"))  # 03:10 CEST
    assert not is_open(BERLIN_GAP, utc("2024-03-31 01:30"))  # 03:30 CEST
    assert not is_open(BERLIN_GAP, utc("2024-03-31 00:59:59.999"))  # 01:59:59 CET
    start = utc("2024-03-31 01:00")  # 03:00 CEST
    assert add_business_seconds(BERLIN_GAP, start, 10 * MINUTE) == utc("2024-03-31 01:10")
    assert next_business_instant(BERLIN_GAP, day_start) == start
    # An ordinary Sunday has both intervals: 15 + 20 min.
    assert business_seconds_between(
        BERLIN_GAP, utc("2024-04-06 22:00"), utc("2024-04-07 22:00")
    ) == 35 * MINUTE


def test_an_interval_ending_in_the_gap_ends_at_the_jump_and_one_starting_in_it_starts_there():
    # 01:30 CET (00:30Z) to "02:30" (the jump, 01:00Z), then "02:45" (01:00Z) to 03:30 CEST
    # (01:30Z): 30 + 30 min, touching at the jump.
    cal = business_calendar(
        "berlin_across", {"sun": ["01:30-02:30", "02:45-03:30"]}, timezone="Europe/Berlin"
    )
    day_start = utc("2024-03-30 23:00")
    assert business_seconds_between(cal, day_start, utc("2024-03-31 22:00")) == HOUR
    assert business_seconds_between(cal, day_start, utc("2024-03-31 01:00")) == 30 * MINUTE
    assert is_open(cal, utc("2024-03-31 00:59:59.999")) and is_open(cal, utc("2024-03-31 01:00"))
    assert not is_open(cal, utc("2024-03-31 01:30"))
    assert add_business_seconds(cal, day_start, 45 * MINUTE) == utc("2024-03-31 01:15")


def test_repeated_fall_back_times_read_with_the_earlier_offset():
    # 02:00-02:30 is read as CEST: 00:00Z-00:30Z. 02:45 is CEST (00:45Z) and 03:15 exists once,
    # in CET (02:15Z): 90 min, taking in the whole repeated CET hour. Total 2 h.
    cal = business_calendar(
        "berlin_fold", {"sun": ["02:00-02:30", "02:45-03:15"]}, timezone="Europe/Berlin"
    )
    day_start, day_end = utc("2024-10-26 22:00"), utc("2024-10-27 23:00")  # a 25 h local day
    assert business_seconds_between(cal, day_start, day_end) == 2 * HOUR
    assert not is_open(cal, utc("2024-10-27 00:35"))  # 02:35 CEST
    assert is_open(cal, utc("2024-10-27 01:35"))  # 02:35 CET, the second time round
    assert not is_open(cal, utc("2024-10-27 02:15"))  # 03:15 CET
    assert add_business_seconds(cal, day_start, 45 * MINUTE) == utc("2024-10-27 01:00")


# --- speed -----------------------------------------------------------------------------------


def test_month_long_targets_are_cheap():
    start = sh("2025-03-03 10:00")
    add_business_seconds(CN, start, 30 * 27_000)  # warm the holiday-lookup cache
    began = timer.perf_counter()
    for _ in range(100):
        add_business_seconds(CN, start, 30 * 27_000)  # 30 working days, ~6 weeks of dates
        business_seconds_between(CN, start, start + 31 * 86_400_000)
    per_pair_ms = (timer.perf_counter() - began) * 1000 / 100
    assert per_pair_ms < 20  # typically ~0.5 ms; the bound only catches per-minute loops


# --- properties ------------------------------------------------------------------------------

# A Shanghai-style calendar, a DST zone with weekend hours and touching intervals, and 24x7.
NY_SPLIT = business_calendar(
    "ny_split",
    {
        "mon": ["08:00-12:00", "12:00-12:30", "13:00-17:00"],
        "wed": ["00:00-02:30", "22:00-24:00"],
        "thu": ["00:00-06:00"],
        "sat": ["01:30-03:30"],
        "sun": ["01:00-02:30", "03:00-04:00"],  # 02:30 is skipped on spring-forward day
    },
    timezone="America/New_York",
)
# Europe/Berlin changes at 02:00/03:00 local on the last Sundays of March and October:
# intervals end in, lie in, start in and straddle the skipped or repeated hour.
BERLIN_NIGHTS = business_calendar(
    "berlin_nights",
    {
        "sat": ["01:00-02:15", "02:15-02:40", "22:00-24:00"],
        "sun": ["00:00-01:55", "01:58-02:10", "02:30-02:45", "02:50-03:10", "03:20-04:00"],
        "mon": ["02:00-03:00", "09:00-17:00"],
    },
    timezone="Europe/Berlin",
)
CALENDARS = st.sampled_from([CN, NY_SPLIT, BERLIN_NIGHTS, ALWAYS])
# chinese_calendar 1.11.0 knows 2004-2026: keep starts in 2025 - mid 2026 and amounts to a few
# weeks so every computation stays inside the known years.
INSTANTS = st.integers(min_value=utc("2025-01-01 00:00"), max_value=utc("2026-06-30 00:00"))
AMOUNTS_MS = st.integers(min_value=0, max_value=200 * HOUR * 1000)
FAST = settings(deadline=None, max_examples=150)


@FAST
@given(CALENDARS, INSTANTS, INSTANTS, INSTANTS)
def test_business_time_is_additive(cal: BusinessCalendar, x: int, y: int, z: int):
    a, b, c = sorted((x, y, z))
    assert business_ms_between(cal, a, b) + business_ms_between(cal, b, c) == (
        business_ms_between(cal, a, c)
    )


@FAST
@given(CALENDARS, INSTANTS, INSTANTS, INSTANTS)
def test_business_time_is_monotonic_in_end_and_bounded_by_wall_time(
    cal: BusinessCalendar, a: int, y: int, z: int
):
    b, c = sorted((y, z))
    assert business_ms_between(cal, a, b) <= business_ms_between(cal, a, c)
    assert 0 <= business_ms_between(cal, a, c) <= max(0, c - a)


@FAST
@given(CALENDARS, INSTANTS, AMOUNTS_MS)
def test_deadline_is_the_earliest_instant_with_that_much_business_time(
    cal: BusinessCalendar, start: int, amount: int
):
    deadline = add_business_ms(cal, start, amount)
    assert business_ms_between(cal, start, deadline) == amount
    if amount > 0:  # one ms earlier is not enough: the deadline is the earliest such instant
        assert business_ms_between(cal, start, deadline - 1) == amount - 1


@FAST
@given(CALENDARS, INSTANTS, st.integers(min_value=0, max_value=200 * HOUR))
def test_seconds_round_trip(cal: BusinessCalendar, start: int, seconds: int):
    deadline = add_business_seconds(cal, start, seconds)
    assert business_seconds_between(cal, start, deadline) == seconds


@FAST
@given(CALENDARS, INSTANTS, AMOUNTS_MS)
def test_deadlines_lie_in_business_hours_or_on_a_closing_edge(
    cal: BusinessCalendar, start: int, amount: int
):
    deadline = add_business_ms(cal, start, amount)
    assert is_open(cal, deadline) or is_open(cal, deadline - 1)


@FAST
@given(CALENDARS, INSTANTS)
def test_next_business_instant_is_the_first_open_instant(cal: BusinessCalendar, at: int):
    opening = next_business_instant(cal, at)
    assert opening >= at
    assert is_open(cal, opening)
    assert business_ms_between(cal, at, opening) == 0
    assert (opening == at) is is_open(cal, at)


@FAST
@given(INSTANTS, INSTANTS, AMOUNTS_MS)
def test_always_open_equals_wall_time(a: int, b: int, amount: int):
    assert business_ms_between(ALWAYS, a, b) == max(0, b - a)
    assert add_business_ms(ALWAYS, a, amount) == a + amount
    assert is_open(ALWAYS, a)


# Instants within two days of a DST change, on calendars open around it.
DST_CHANGES = [
    utc("2025-03-30 01:00"),  # Berlin, spring forward
    utc("2025-10-26 01:00"),  # Berlin, fall back
    utc("2025-03-09 07:00"),  # New York, spring forward
    utc("2025-11-02 06:00"),  # New York, fall back
]
DST_CALENDARS = st.sampled_from([BERLIN_NIGHTS, NY_SPLIT, BERLIN_GAP])


@st.composite
def near_a_dst_change(draw: st.DrawFn) -> int:
    change = draw(st.sampled_from(DST_CHANGES))
    # Mostly whole minutes, so that interval edges and the jump itself are hit.
    step = draw(st.sampled_from([1, 1000, 60_000]))
    return change + step * draw(st.integers(-48 * HOUR * 1000 // step, 48 * HOUR * 1000 // step))


DST_AMOUNTS_MS = st.integers(min_value=0, max_value=6 * HOUR * 1000)


@FAST
@given(DST_CALENDARS, near_a_dst_change(), near_a_dst_change(), near_a_dst_change())
def test_business_time_is_additive_around_dst_changes(
    cal: BusinessCalendar, x: int, y: int, z: int
):
    a, b, c = sorted((x, y, z))
    assert business_ms_between(cal, a, b) + business_ms_between(cal, b, c) == (
        business_ms_between(cal, a, c)
    )
    assert business_ms_between(cal, a, a + 1) == (1 if is_open(cal, a) else 0)


@FAST
@given(DST_CALENDARS, near_a_dst_change(), DST_AMOUNTS_MS)
def test_deadlines_round_trip_around_dst_changes(cal: BusinessCalendar, start: int, amount: int):
    deadline = add_business_ms(cal, start, amount)
    assert business_ms_between(cal, start, deadline) == amount
    if amount > 0:
        assert business_ms_between(cal, start, deadline - 1) == amount - 1
        assert is_open(cal, deadline - 1)
    opening = next_business_instant(cal, start)
    assert is_open(cal, opening) and business_ms_between(cal, start, opening) == 0


# --- the docs ----------------------------------------------------------------------------------


def test_python_examples_in_docs_run():
    docs = Path(__file__).resolve().parents[1] / "docs" / "sla.md"
    blocks = re.findall(r"```python\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    assert blocks, "docs/sla.md should show at least one runnable example"
    for block in blocks:
        exec(compile(block, str(docs), "exec"), {})  # the examples assert their own results
