"""Business calendars and exact business-time arithmetic over UTC epoch milliseconds.

A calendar says when the clock of an SLA runs: weekly opening hours in a time zone, Chinese
statutory holidays and make-up workdays (调休), and per-calendar date overrides. Everything here
is pure: instants come in as ints (UTC epoch ms) and nothing reads the wall clock.

Arithmetic works on the calendar's open spans, one local day at a time, each span converted to
UTC once; so cost grows with the number of days covered, never with the length of a target.
Intervals are half-open ``[start, end)``: a calendar open 09:00-12:00 is open at 09:00:00.000
and closed at 12:00:00.000.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

SECONDS_PER_DAY = 86_400
MS_PER_SECOND = 1_000
DEFAULT_TIMEZONE = "Asia/Shanghai"
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How many consecutive closed days a forward search tolerates before it calls the calendar
# hopeless; longer than any real closure (Spring Festival is 9 days) yet bounded.
MAX_CLOSED_STREAK_DAYS = 366

MS_PER_DAY = SECONDS_PER_DAY * MS_PER_SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.date().toordinal()
_ONE_MS = timedelta(milliseconds=1)
_ONE_DAY = timedelta(days=1)

HolidayDataMissing = Literal["error", "weekly_hours"]


class CalendarError(ValueError):
    """A calendar is malformed, or cannot answer for a date."""


class HolidayDataUnavailable(CalendarError):
    """chinese_calendar has no statutory-holiday data for the year asked about."""


class NoOpeningFound(CalendarError):
    """A forward search found no open time within MAX_CLOSED_STREAK_DAYS days."""


@dataclass(frozen=True, order=True)
class DayInterval:
    """Opening hours within one local day: ``[start_s, end_s)`` in seconds after midnight.

    ``end_s`` may be 86400 (24:00) so a calendar can stay open up to midnight; an interval never
    crosses midnight (open 22:00-06:00 is written as two intervals on consecutive days).
    """

    start_s: int
    end_s: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_s < self.end_s <= SECONDS_PER_DAY:
            raise CalendarError(
                f"interval {_clock(self.start_s)}-{_clock(self.end_s)} must have "
                "00:00 <= start < end <= 24:00"
            )

    @classmethod
    def of(cls, start: time, end: time) -> DayInterval:
        """From times of day; an ``end`` of 00:00 means midnight at the end of the day."""
        end_s = _time_to_seconds(end) or SECONDS_PER_DAY
        return cls(_time_to_seconds(start), end_s)

    @classmethod
    def parse(cls, text: str) -> DayInterval:
        """From ``"HH:MM-HH:MM"`` (or ``"HH:MM:SS"``); ``24:00`` is allowed as an end."""
        parts = text.split("-")
        if len(parts) != 2:
            raise CalendarError(f"expected an interval like '09:00-12:00', got {text!r}")
        return cls(_parse_clock(parts[0].strip(), text), _parse_clock(parts[1].strip(), text))

    @property
    def seconds(self) -> int:
        return self.end_s - self.start_s

    def __str__(self) -> str:
        return f"{_clock(self.start_s)}-{_clock(self.end_s)}"


DayHours = tuple[DayInterval, ...]
IntervalLike = DayInterval | str | tuple[time, time]

FULL_DAY: DayHours = (DayInterval(0, SECONDS_PER_DAY),)
CLOSED: DayHours = ()


@dataclass(frozen=True)
class BusinessCalendar:
    """When an SLA clock runs. Build one with `business_calendar` or `always_open`.

    Which hours apply on a local date, first match wins:
    1. ``open_dates`` override: exactly those intervals;
    2. ``closed_dates`` override: closed;
    3. with ``chinese_holidays``: a statutory holiday is closed, and a make-up workday (调休, a
       Saturday or Sunday that is a workday) uses ``makeup_workday_hours`` — Monday's hours
       unless set, since a make-up day stands in for an ordinary weekday;
    4. the weekly hours of that weekday.
    """

    name: str
    weekly_hours: tuple[DayHours, ...]  # seven entries, Monday first
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    chinese_holidays: bool = False
    makeup_workday_hours: DayHours | None = None
    closed_dates: frozenset[date] = frozenset()
    open_dates: tuple[tuple[date, DayHours], ...] = ()
    # What to do on a date whose year chinese_calendar has no data for: fail loudly (default),
    # or fall back to weekly hours plus overrides (for when the package lags the State Council).
    holiday_data_missing: HolidayDataMissing = "error"
    _open_by_date: dict[date, DayHours] = field(init=False, repr=False, compare=False)
    _continuous: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.timezone, str):
            object.__setattr__(self, "timezone", time_zone(self.timezone))
        if len(self.weekly_hours) != 7:
            raise CalendarError(f"calendar {self.name!r}: weekly_hours needs 7 days, Monday first")
        for day_name, hours in zip(WEEKDAY_NAMES, self.weekly_hours, strict=True):
            _check_day_hours(hours, f"calendar {self.name!r}, {day_name}")
        if self.makeup_workday_hours is not None:
            _check_day_hours(self.makeup_workday_hours, f"calendar {self.name!r}, make-up day")
        open_by_date = dict(self.open_dates)
        for day, hours in open_by_date.items():
            _check_day_hours(hours, f"calendar {self.name!r}, {day}")
        both = self.closed_dates & open_by_date.keys()
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise CalendarError(f"calendar {self.name!r}: dates both closed and open: {listed}")
        if self.holiday_data_missing not in ("error", "weekly_hours"):
            raise CalendarError(
                f"calendar {self.name!r}: holiday_data_missing must be 'error' or 'weekly_hours'"
            )
        object.__setattr__(self, "_open_by_date", open_by_date)
        object.__setattr__(self, "_continuous", self._is_continuous())

    def _is_continuous(self) -> bool:
        """True when every instant is open, so business time is wall time."""
        return (
            not self.chinese_holidays
            and not self.closed_dates
            and all(hours == FULL_DAY for hours in self.weekly_hours)
            and all(hours == FULL_DAY for _, hours in self.open_dates)
        )

    @property
    def is_always_open(self) -> bool:
        return self._continuous


def business_calendar(
    name: str,
    weekly_hours: Mapping[str | int, Iterable[IntervalLike]],
    *,
    timezone: str | ZoneInfo = DEFAULT_TIMEZONE,
    chinese_holidays: bool = False,
    makeup_workday_hours: Iterable[IntervalLike] | None = None,
    closed_dates: Iterable[date] = (),
    open_dates: Mapping[date, Iterable[IntervalLike]] | None = None,
    holiday_data_missing: HolidayDataMissing = "error",
) -> BusinessCalendar:
    """Build a calendar from friendly values: weekdays as ``"mon"`` or 0, intervals as
    ``"09:00-12:00"``, `DayInterval`, or ``(time, time)``; weekdays left out are closed."""
    by_index: list[DayHours] = [CLOSED] * 7
    for key, intervals in weekly_hours.items():
        by_index[_weekday_index(key)] = day_hours(intervals)
    open_pairs = tuple(sorted((d, day_hours(iv)) for d, iv in (open_dates or {}).items()))
    return BusinessCalendar(
        name=name,
        weekly_hours=tuple(by_index),
        timezone=time_zone(timezone) if isinstance(timezone, str) else timezone,
        chinese_holidays=chinese_holidays,
        makeup_workday_hours=None
        if makeup_workday_hours is None
        else day_hours(makeup_workday_hours),
        closed_dates=frozenset(closed_dates),
        open_dates=open_pairs,
        holiday_data_missing=holiday_data_missing,
    )


def always_open(name: str = "24x7", timezone: str | ZoneInfo = "UTC") -> BusinessCalendar:
    """A 24×7 calendar: business time equals wall time (the time zone does not matter)."""
    return business_calendar(name, {day: FULL_DAY for day in range(7)}, timezone=timezone)


def day_hours(intervals: Iterable[IntervalLike]) -> DayHours:
    """Normalise one day's intervals; they must be ascending and must not overlap."""
    hours = tuple(_interval(item) for item in intervals)
    problem = _day_hours_problem(hours)
    if problem:
        raise CalendarError(problem)
    return hours


# --- which hours apply on a date -----------------------------------------------------------


def opening_hours_on(cal: BusinessCalendar, day: date) -> DayHours:
    """The intervals (local time) during which ``cal`` is open on local date ``day``."""
    override = cal._open_by_date.get(day)
    if override is not None:
        return override
    if day in cal.closed_dates:
        return CLOSED
    weekly = cal.weekly_hours[day.weekday()]
    if not cal.chinese_holidays:
        return weekly
    detail = _holiday_detail(cal, day)
    if detail is None:  # no data for that year, and the calendar chose to carry on
        return weekly
    on_holiday, holiday_name = detail
    if on_holiday and holiday_name is not None:
        return CLOSED  # a statutory holiday, even on a weekday the calendar normally works
    if not on_holiday and day.weekday() >= 5:
        return _makeup_hours(cal)  # 调休: a weekend day that is a workday
    return weekly


def _holiday_detail(cal: BusinessCalendar, day: date) -> tuple[bool, str | None] | None:
    # get_holiday_detail (rather than is_workday) tells a named statutory holiday from an
    # ordinary weekend, so a calendar with Saturday hours keeps them on ordinary Saturdays.
    try:
        return _statutory_detail(day)
    except NotImplementedError as exc:
        if cal.holiday_data_missing == "weekly_hours":
            return None
        raise HolidayDataUnavailable(
            f"calendar {cal.name!r}: chinese_calendar has no statutory-holiday data for "
            f"{day.isoformat()} ({exc}); upgrade the chinese-calendar package, or set "
            "holiday_data_missing to 'weekly_hours' and list that year's holidays as overrides"
        ) from exc


@cache
def _statutory_detail(day: date) -> tuple[bool, str | None]:
    # Memoised: the package's data is fixed for the process, and each of its lookups scans all
    # its dates to find the supported years (~50 µs), which would dominate the arithmetic.
    return chinese_calendar.get_holiday_detail(day)


def _makeup_hours(cal: BusinessCalendar) -> DayHours:
    if cal.makeup_workday_hours is not None:
        return cal.makeup_workday_hours
    return cal.weekly_hours[0]


# --- arithmetic ----------------------------------------------------------------------------


def is_open(cal: BusinessCalendar, at_ms: int) -> bool:
    """Whether the clock runs at instant ``at_ms`` (open spans are half-open)."""
    if cal.is_always_open:
        return True
    day = _local_date(cal, at_ms)
    for span_start, span_end in _open_spans(cal, day - _ONE_DAY, day + _ONE_DAY):
        if span_start <= at_ms < span_end:
            return True
        if span_start > at_ms:
            return False
    return False


def next_business_instant(cal: BusinessCalendar, at_ms: int) -> int:
    """``at_ms`` if the calendar is open then, else the next opening."""
    if cal.is_always_open:
        return at_ms
    for span_start, span_end in _open_spans_from(cal, at_ms):
        if span_end > at_ms:
            return max(span_start, at_ms)
    raise AssertionError("unreachable: _open_spans_from is unbounded")  # pragma: no cover


def business_ms_between(cal: BusinessCalendar, start_ms: int, end_ms: int) -> int:
    """Exact open time in ``[start_ms, end_ms)``, in ms; 0 when ``end_ms <= start_ms``."""
    if end_ms <= start_ms:
        return 0
    if cal.is_always_open:
        return end_ms - start_ms
    first = _local_date(cal, start_ms) - _ONE_DAY
    last = _local_date(cal, end_ms) + _ONE_DAY
    total = 0
    for span_start, span_end in _open_spans(cal, first, last):
        if span_start >= end_ms:
            break
        overlap = min(span_end, end_ms) - max(span_start, start_ms)
        if overlap > 0:
            total += overlap
    return total


def business_seconds_between(cal: BusinessCalendar, start_ms: int, end_ms: int) -> int:
    """`business_ms_between` floored to whole seconds (exact when both instants are whole
    seconds, since opening hours are whole seconds)."""
    return business_ms_between(cal, start_ms, end_ms) // MS_PER_SECOND


def add_business_ms(cal: BusinessCalendar, start_ms: int, business_ms: int) -> int:
    """The earliest instant by which ``business_ms`` of open time has elapsed since ``start_ms``.

    The clock starts at `next_business_instant`; with ``business_ms == 0`` that opening is the
    answer. A positive amount that runs out exactly at a closing time ends there (12:00, not
    13:30), so a deadline is always open or exactly the end of an open span.
    """
    if business_ms < 0:
        raise ValueError(f"business time must be >= 0, got {business_ms} ms")
    if cal.is_always_open:
        return start_ms + business_ms
    remaining = business_ms
    for span_start, span_end in _open_spans_from(cal, start_ms):
        if span_end <= start_ms:
            continue
        clock_from = max(span_start, start_ms)
        if remaining <= span_end - clock_from:
            return clock_from + remaining
        remaining -= span_end - clock_from
    raise AssertionError("unreachable: _open_spans_from is unbounded")  # pragma: no cover


def add_business_seconds(cal: BusinessCalendar, start_ms: int, seconds: int) -> int:
    """`add_business_ms` with a target in whole seconds; returns the deadline in UTC ms."""
    return add_business_ms(cal, start_ms, seconds * MS_PER_SECOND)


# --- open spans in UTC -----------------------------------------------------------------------


def _open_spans(cal: BusinessCalendar, first: date, last: date) -> Iterator[tuple[int, int]]:
    """Open spans ``(start_ms, end_ms)`` of local days ``first..last``, ascending, disjoint."""
    day = first
    previous_end = None
    while day <= last:
        for span in _day_spans(cal, day, previous_end):
            previous_end = span[1]
            yield span
        day += _ONE_DAY


def _open_spans_from(cal: BusinessCalendar, at_ms: int) -> Iterator[tuple[int, int]]:
    """Open spans from the day before ``at_ms`` onwards; unbounded, but gives up (raising
    NoOpeningFound) after MAX_CLOSED_STREAK_DAYS closed days in a row."""
    day = _local_date(cal, at_ms) - _ONE_DAY
    previous_end = None
    closed_streak = 0
    while closed_streak <= MAX_CLOSED_STREAK_DAYS:
        spans = _day_spans(cal, day, previous_end)
        closed_streak = 0 if spans else closed_streak + 1
        for span in spans:
            previous_end = span[1]
            yield span
        day += _ONE_DAY
    raise NoOpeningFound(
        f"calendar {cal.name!r} has no opening in the {MAX_CLOSED_STREAK_DAYS} days before "
        f"{day.isoformat()}"
    )


def _day_spans(cal: BusinessCalendar, day: date, previous_end: int | None) -> list[tuple[int, int]]:
    """One local day's intervals in UTC ms. Around a DST change a local time can map out of
    order (a time in the spring-forward gap resolves past the gap), so each span is clipped to
    start no earlier than the previous one ended, and empty spans are dropped; that keeps
    spans disjoint and business time additive in every zone."""
    hours = opening_hours_on(cal, day)
    if not hours:
        return []
    to_ms = _day_clock(cal, day)
    spans = []
    floor = previous_end
    for interval in hours:
        start, end = to_ms(interval.start_s), to_ms(interval.end_s)
        if floor is not None:
            start = max(start, floor)
        if end > start:
            spans.append((start, end))
            floor = end
    return spans


def _day_clock(cal: BusinessCalendar, day: date) -> Callable[[int], int]:
    """Second of local day ``day`` -> UTC ms, as local wall time minus the UTC offset in force
    then (the earlier offset when a wall time is ambiguous or skipped, like datetime's fold=0).
    Most days keep one offset from midnight to midnight, so one lookup serves the whole day."""
    wall_midnight = (day.toordinal() - _EPOCH_ORDINAL) * MS_PER_DAY
    offset = _utc_offset_ms(cal, day, 0)
    if _utc_offset_ms(cal, day, SECONDS_PER_DAY) == offset:
        return lambda second: wall_midnight + second * MS_PER_SECOND - offset
    return lambda second: wall_midnight + second * MS_PER_SECOND - _utc_offset_ms(cal, day, second)


def _utc_offset_ms(cal: BusinessCalendar, day: date, second_of_day: int) -> int:
    # Naive + timedelta is wall-clock arithmetic, so 24:00 is the next local midnight.
    wall = datetime(day.year, day.month, day.day) + timedelta(seconds=second_of_day)
    return cal.timezone.utcoffset(wall) // _ONE_MS


def _local_date(cal: BusinessCalendar, at_ms: int) -> date:
    return (_EPOCH + timedelta(milliseconds=at_ms)).astimezone(cal.timezone).date()


# --- small helpers ---------------------------------------------------------------------------


def _check_day_hours(hours: DayHours, where: str) -> None:
    problem = _day_hours_problem(hours)
    if problem:
        raise CalendarError(f"{where}: {problem}")


def _day_hours_problem(hours: DayHours) -> str | None:
    for interval in hours:
        if not isinstance(interval, DayInterval):
            return f"expected DayInterval, got {interval!r}"
    for earlier, later in zip(hours, hours[1:], strict=False):
        if later.start_s < earlier.end_s:
            return f"intervals must be ascending and must not overlap ({earlier} then {later})"
    return None


def _interval(item: IntervalLike) -> DayInterval:
    if isinstance(item, DayInterval):
        return item
    if isinstance(item, str):
        return DayInterval.parse(item)
    if isinstance(item, tuple) and len(item) == 2:
        return DayInterval.of(*item)
    raise CalendarError(f"expected an interval like '09:00-12:00', got {item!r}")


def _weekday_index(key: str | int) -> int:
    if isinstance(key, int) and 0 <= key < 7:
        return key
    if isinstance(key, str) and key.lower() in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(key.lower())
    raise CalendarError(f"unknown weekday {key!r}; expected one of {', '.join(WEEKDAY_NAMES)}")


def time_zone(name: str) -> ZoneInfo:
    """The zone called ``name``, or a CalendarError saying it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {name!r}") from exc


def _time_to_seconds(moment: time) -> int:
    if moment.microsecond:
        raise CalendarError(f"opening hours are whole seconds, got {moment.isoformat()}")
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _parse_clock(text: str, whole: str) -> int:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise CalendarError(f"expected an interval like '09:00-12:00', got {whole!r}")
    hours, minutes, *rest = (int(p) for p in parts)
    seconds = rest[0] if rest else 0
    if minutes > 59 or seconds > 59 or hours > 24 or (hours == 24 and minutes + seconds):
        raise CalendarError(f"no such time of day {text!r} in {whole!r}")
    return hours * 3600 + minutes * 60 + seconds


def _clock(second_of_day: int) -> str:
    hours, rest = divmod(second_of_day, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
