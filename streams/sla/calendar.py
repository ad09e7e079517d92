"""Business calendars and exact business-time arithmetic over UTC epoch milliseconds.

A calendar says when the clock of an SLA runs: weekly opening hours in a time zone, Chinese
statutory holidays and make-up workdays (调休), and per-calendar date overrides. Everything here
is pure: instants come in as ints (UTC epoch ms) and nothing reads the wall clock.

Arithmetic works on the calendar's open spans, one local day at a time, each span converted to
UTC once; so cost grows with the number of days covered, never with the length of a target.
Only days that overlap the instants asked about have their hours (and holiday data) looked up.
Around a DST change a repeated local time reads with the earlier offset (fold=0) and a skipped
one as the instant of the jump, so the local -> UTC reading is monotonic.
Intervals are half-open ``[start, end)``: a calendar open 09:00-12:00 is open at 09:00:00.000
and closed at 12:00:00.000.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.sla.holidays import (
    HOLIDAY,
    MISSING,
    WORKDAY,
    HolidaySet,
    holiday_set_from_mapping,
    load_holiday_set,
)

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
    """The calendar's holiday set has no data for the year asked about."""


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
    3. with a ``holidays`` set: a holiday is closed, and a make-up workday (调休上班) uses
       ``makeup_workday_hours`` — Monday's hours unless set, since a make-up day stands in for
       an ordinary weekday;
    4. the weekly hours of that weekday.
    """

    name: str
    weekly_hours: tuple[DayHours, ...]  # seven entries, Monday first
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    holidays: HolidaySet | None = None
    makeup_workday_hours: DayHours | None = None
    closed_dates: frozenset[date] = frozenset()
    open_dates: tuple[tuple[date, DayHours], ...] = ()
    # What to do on a date whose year the holiday set does not list: fail loudly (default), or
    # fall back to weekly hours plus overrides (clocks on such a year are reported).
    holiday_data_missing: HolidayDataMissing = "error"
    _open_by_date: dict[date, DayHours] = field(init=False, repr=False, compare=False)
    _continuous: bool = field(init=False, repr=False, compare=False)
    _fingerprint: str = field(init=False, repr=False, compare=False)

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
        spec = {**self.to_spec(), "holidays": self.holidays and self.holidays.fingerprint}
        canonical = json.dumps(spec, sort_keys=True, ensure_ascii=False)
        object.__setattr__(self, "_fingerprint", hashlib.sha256(canonical.encode()).hexdigest())

    def _is_continuous(self) -> bool:
        """True when every instant is open, so business time is wall time."""
        return (
            self.holidays is None
            and not self.closed_dates
            and all(hours == FULL_DAY for hours in self.weekly_hours)
            and all(hours == FULL_DAY for _, hours in self.open_dates)
        )

    @property
    def is_always_open(self) -> bool:
        return self._continuous

    @property
    def fingerprint(self) -> str:
        """sha256 of what decides the arithmetic (hours, zone, overrides, holiday data), not of
        the name: a clock pinned to it measures the same whatever the policy is edited to."""
        return self._fingerprint

    def year_status(self, year: int) -> str:
        """``complete``, ``provisional`` or ``missing`` holiday data for ``year``; a calendar
        without holidays is complete."""
        return "complete" if self.holidays is None else self.holidays.status(year)

    def to_spec(self) -> dict[str, Any]:
        """Everything but the name as plain JSON values; `calendar_from_spec` reads it back."""
        return {
            "timezone": self.timezone.key,
            "weekly_hours": [[str(iv) for iv in hours] for hours in self.weekly_hours],
            "makeup_workday_hours": None if self.makeup_workday_hours is None
            else [str(iv) for iv in self.makeup_workday_hours],
            "closed_dates": sorted(d.isoformat() for d in self.closed_dates),
            "open_dates": {d.isoformat(): [str(iv) for iv in hours]
                           for d, hours in self.open_dates},
            "holiday_data_missing": self.holiday_data_missing,
            "holidays": None if self.holidays is None else self.holidays.to_dict(),
        }


def calendar_from_spec(name: str, spec: Mapping[str, Any]) -> BusinessCalendar:
    """The calendar `BusinessCalendar.to_spec` described, under ``name``."""
    holidays = spec["holidays"]
    return business_calendar(
        name,
        dict(enumerate(spec["weekly_hours"])),
        timezone=spec["timezone"],
        holidays=None if holidays is None else holiday_set_from_mapping(holidays),
        makeup_workday_hours=spec["makeup_workday_hours"],
        closed_dates=(date.fromisoformat(d) for d in spec["closed_dates"]),
        open_dates={date.fromisoformat(d): hours for d, hours in spec["open_dates"].items()},
        holiday_data_missing=spec["holiday_data_missing"],
    )


def business_calendar(
    name: str,
    weekly_hours: Mapping[str | int, Iterable[IntervalLike]],
    *,
    timezone: str | ZoneInfo = DEFAULT_TIMEZONE,
    holidays: HolidaySet | None = None,
    chinese_holidays: bool = False,
    makeup_workday_hours: Iterable[IntervalLike] | None = None,
    closed_dates: Iterable[date] = (),
    open_dates: Mapping[date, Iterable[IntervalLike]] | None = None,
    holiday_data_missing: HolidayDataMissing = "error",
) -> BusinessCalendar:
    """Build a calendar from friendly values: weekdays as ``"mon"`` or 0, intervals as
    ``"09:00-12:00"``, `DayInterval`, or ``(time, time)``; weekdays left out are closed.
    ``chinese_holidays=True`` is short for the packaged ``cn`` holiday set."""
    if chinese_holidays:
        if holidays is not None:
            raise CalendarError(f"calendar {name!r}: give holidays or chinese_holidays, not both")
        holidays = load_holiday_set("cn")
    by_index: list[DayHours] = [CLOSED] * 7
    for key, intervals in weekly_hours.items():
        by_index[_weekday_index(key)] = day_hours(intervals)
    open_pairs = tuple(sorted((d, day_hours(iv)) for d, iv in (open_dates or {}).items()))
    return BusinessCalendar(
        name=name,
        weekly_hours=tuple(by_index),
        timezone=time_zone(timezone) if isinstance(timezone, str) else timezone,
        holidays=holidays,
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
    holidays = cal.holidays
    if holidays is None:
        return weekly
    kind = holidays.kind_of(day)
    if kind == HOLIDAY:
        return CLOSED  # even on a weekday, or a Saturday the calendar normally works
    if kind == WORKDAY:
        return _makeup_hours(cal)  # 调休上班: a make-up day stands in for an ordinary weekday
    if holidays.status(day.year) == MISSING and cal.holiday_data_missing == "error":
        raise HolidayDataUnavailable(
            f"calendar {cal.name!r}: holiday set {holidays.name!r} has no data for "
            f"{day.year} (asked about {day.isoformat()}); add the year to the holiday file "
            "(`complaintflow calendar check` lists what is missing), or set "
            "holiday_data_missing: weekly_hours"
        )
    return weekly


def _makeup_hours(cal: BusinessCalendar) -> DayHours:
    if cal.makeup_workday_hours is not None:
        return cal.makeup_workday_hours
    return cal.weekly_hours[0]


# --- arithmetic ----------------------------------------------------------------------------


def is_open(cal: BusinessCalendar, at_ms: int) -> bool:
    """Whether the clock runs at instant ``at_ms`` (open spans are half-open)."""
    if cal.is_always_open:
        return True
    return any(start <= at_ms < end for start, end in _open_spans(cal, at_ms, at_ms + 1))


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
    total = 0
    for span_start, span_end in _open_spans(cal, start_ms, end_ms):
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
#
# A local wall time reads as the first instant at which the zone's clock shows it, or, when a
# forward change (spring forward) skips it, the instant of that jump; a repeated wall time
# (fall back) therefore reads with the earlier offset, like datetime's fold=0. That reading is
# monotonic, so a local day is the UTC range [its midnight, the next midnight) and its open
# spans lie inside it, ascending and disjoint. The range needs only the time zone, so opening
# hours (and holiday data) are looked up only for days that overlap the instants asked about.

# (day, start_ms, end_ms, wall_ms, offset_ms): local day ``day`` covers UTC ``[start_ms,
# end_ms)``; ``wall_ms`` is its local midnight counted like UTC epoch ms; ``offset_ms`` is the
# UTC offset in force all day, or None on a day whose offset changes.
_LocalDay = tuple[date, int, int, int, int | None]

_WALL_EPOCH = datetime(1970, 1, 1)  # naive: local wall time counted from here, in ms


def _open_spans(cal: BusinessCalendar, start_ms: int, end_ms: int) -> Iterator[tuple[int, int]]:
    """Open spans ``(start_ms, end_ms)`` of the local days that overlap ``[start_ms, end_ms)``,
    ascending and disjoint; other days' hours are not looked up."""
    for day, day_start, day_end, wall_ms, offset_ms in _local_days(cal, start_ms):
        if day_start >= end_ms:
            return
        if day_end > start_ms:
            yield from _day_spans(cal, day, wall_ms, offset_ms)


def _open_spans_from(cal: BusinessCalendar, at_ms: int) -> Iterator[tuple[int, int]]:
    """Open spans of the local day holding ``at_ms`` and the days after; unbounded, but gives
    up (raising NoOpeningFound) after MAX_CLOSED_STREAK_DAYS closed days in a row."""
    closed_streak = 0
    for day, _, day_end, wall_ms, offset_ms in _local_days(cal, at_ms):
        if day_end <= at_ms:
            continue
        if closed_streak > MAX_CLOSED_STREAK_DAYS:
            raise NoOpeningFound(
                f"calendar {cal.name!r} has no opening in the {MAX_CLOSED_STREAK_DAYS} days "
                f"before {day.isoformat()}"
            )
        spans = _day_spans(cal, day, wall_ms, offset_ms)
        closed_streak = 0 if spans else closed_streak + 1
        yield from spans
    raise AssertionError("unreachable: _local_days is unbounded")  # pragma: no cover


def _local_days(cal: BusinessCalendar, at_ms: int) -> Iterator[_LocalDay]:
    """The local days from the one ``at_ms`` falls on, each with its UTC range (see `_LocalDay`);
    from the time zone alone, without looking up opening hours. Unbounded.

    A day is taken to keep one offset when both its midnights have one reading each, with the
    same offset (no zone changes twice within a day); that costs two cached offset lookups."""
    zone = cal.timezone
    day = _local_date(cal, at_ms)
    wall_ms = (day.toordinal() - _EPOCH_ORDINAL) * MS_PER_DAY
    offset, other = _midnight_offsets_ms(zone, day)
    start = wall_ms - offset if offset >= other else _wall_to_utc_ms(zone, wall_ms)
    while True:
        next_day = day + _ONE_DAY
        next_wall_ms = wall_ms + MS_PER_DAY
        next_offset, next_other = _midnight_offsets_ms(zone, next_day)
        if offset == other == next_offset == next_other:
            end = next_wall_ms - offset
            yield day, start, end, wall_ms, offset
        else:
            if next_offset >= next_other:  # one reading, or a repeated one: the earlier
                end = next_wall_ms - next_offset
            else:  # skipped
                end = _wall_to_utc_ms(zone, next_wall_ms)
            yield day, start, end, wall_ms, None
        day, wall_ms, start, offset, other = next_day, next_wall_ms, end, next_offset, next_other


def _day_spans(
    cal: BusinessCalendar, day: date, wall_ms: int, offset_ms: int | None
) -> list[tuple[int, int]]:
    """One local day's open intervals as UTC ms spans; intervals that fall wholly in a skipped
    stretch of wall time are empty and dropped."""
    hours = opening_hours_on(cal, day)
    if not hours:
        return []
    if offset_ms is not None:  # the usual case: one offset all day
        base = wall_ms - offset_ms
        return [
            (base + iv.start_s * MS_PER_SECOND, base + iv.end_s * MS_PER_SECOND) for iv in hours
        ]
    zone = cal.timezone
    spans = []
    for interval in hours:
        start = _wall_to_utc_ms(zone, wall_ms + interval.start_s * MS_PER_SECOND)
        end = _wall_to_utc_ms(zone, wall_ms + interval.end_s * MS_PER_SECOND)
        if end > start:
            spans.append((start, end))
    return spans


@lru_cache(maxsize=1 << 14)  # ~45 years of days per zone; a hit is ~20x cheaper than a lookup
def _midnight_offsets_ms(zone: ZoneInfo, day: date) -> tuple[int, int]:
    """The UTC offsets (ms) of local midnight starting ``day`` read with fold=0 and fold=1;
    they differ only when that midnight is skipped or repeated."""
    midnight = datetime(day.year, day.month, day.day)
    return (
        zone.utcoffset(midnight) // _ONE_MS,
        zone.utcoffset(midnight.replace(fold=1)) // _ONE_MS,
    )


def _wall_to_utc_ms(zone: ZoneInfo, wall_ms: int) -> int:
    """Local wall time ``wall_ms`` (counted like UTC epoch ms) -> the UTC instant it reads as:
    the earlier offset when it is repeated (fold=0), the instant of the jump when skipped."""
    wall = _WALL_EPOCH + timedelta(milliseconds=wall_ms)
    before = zone.utcoffset(wall) // _ONE_MS  # fold=0: the offset in force before a change
    after = zone.utcoffset(wall.replace(fold=1)) // _ONE_MS
    if before >= after:  # one reading, or repeated by a fall-back change
        return wall_ms - before
    # Skipped: the clock jumps from before the wall time (read with the later offset, that
    # instant comes before the jump) to past it (read with the earlier offset, at or after the
    # jump). zoneinfo has no transition API, so find the jump, to the ms, by bisection: the
    # first instant whose local reading is later than the wall time.
    too_early, late_enough = wall_ms - after, wall_ms - before
    while late_enough - too_early > 1:
        middle = (too_early + late_enough) // 2
        if middle + _utc_offset_at_ms(zone, middle) > wall_ms:
            late_enough = middle
        else:
            too_early = middle
    return late_enough


def _utc_offset_at_ms(zone: ZoneInfo, at_ms: int) -> int:
    """The UTC offset (ms) in force in ``zone`` at instant ``at_ms``."""
    return (_EPOCH + timedelta(milliseconds=at_ms)).astimezone(zone).utcoffset() // _ONE_MS


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
