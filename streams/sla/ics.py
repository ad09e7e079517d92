"""Holidays from an iCalendar feed (.ics), read the way Zendesk, Jira Service Management and
Zammad read one: the feed lists days off, nothing else.

Pure: bytes in, per-year holidays and make-up workdays out, plus every event left out and why
(`complaintflow calendar import-ics` prints those on stderr). The rules, in short (full text in
docs/holidays.md):

- only all-day events count; a multi-day event covers DTSTART up to DTEND (exclusive);
- an event whose SUMMARY holds a workday marker (补班, 上班) is a make-up workday, any other a
  holiday; where a feed has both on one day, the make-up workday wins;
- an event is *regional* when it names a region: in LOCATION, in a CATEGORIES value that is
  not a generic label (``Holiday``, ``节假日``, …), or with "regional" / 地区 / 地方性 in its
  SUMMARY or DESCRIPTION. Regional events are kept only for the regions asked for;
- recurring events (RRULE, with EXDATE and RDATE) are expanded over the years asked for, or,
  when none are, over the years the feed's single events fall in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from dateutil.rrule import rruleset, rrulestr
from icalendar import Calendar

DEFAULT_WORKDAY_MARKERS = ("补班", "上班")
# CATEGORIES values that say what kind of day an event is, not where it applies.
GENERIC_CATEGORIES = frozenset({
    "holiday", "holidays", "public holiday", "public holidays", "national holiday",
    "bank holiday", "statutory holiday", "observance", "feiertag", "gesetzlicher feiertag",
    "节假日", "法定节假日", "节日", "假日", "假期", "放假", "休", "假", "班", "调休",
})
REGIONAL_PATTERN = re.compile(r"\bregional\b|地区|地方性", re.IGNORECASE)
_LOCATION_SEPARATORS = re.compile(r"[,;/、，；]")


class IcsError(ValueError):
    """The feed cannot be read, or does not say which years it is about."""


@dataclass(frozen=True)
class SkippedEvent:
    """An event (or one day of it) left out, and why: one line on stderr."""

    when: str
    summary: str
    reason: str

    def __str__(self) -> str:
        return f"跳过 {self.when} {self.summary or '（无标题）'}：{self.reason}"


@dataclass(frozen=True)
class FeedYear:
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]  # make-up workdays (调休上班)


@dataclass(frozen=True)
class Feed:
    name: str  # X-WR-CALNAME, or ""
    years: Mapping[int, FeedYear]  # every year selected, even one without a day
    skipped: tuple[SkippedEvent, ...]


@dataclass(frozen=True)
class _Event:
    summary: str
    start: date
    days: int
    workday: bool
    recurrence: rruleset | None

    def dates(self, years: frozenset[int]) -> list[date]:
        """The event's days that fall in ``years``."""
        starts = [self.start]
        if self.recurrence is not None:
            # Start a little early so an occurrence spilling over New Year is not lost.
            low = datetime(min(years), 1, 1) - timedelta(days=self.days)
            high = datetime(max(years) + 1, 1, 1)
            starts = [moment.date() for moment in self.recurrence.between(low, high, inc=True)]
        days = (first + timedelta(days=n) for first in starts for n in range(self.days))
        return sorted(day for day in set(days) if day.year in years)


def parse_feed(
    data: bytes,
    *,
    years: Iterable[int] = (),
    regions: Iterable[str] = (),
    workday_markers: Iterable[str] = DEFAULT_WORKDAY_MARKERS,
) -> Feed:
    """The holidays and make-up workdays a feed lists for ``years`` (default: the years its
    single events fall in), keeping regional events only for ``regions``."""
    try:
        calendar = Calendar.from_ical(data)
    except ValueError as exc:
        raise IcsError(f"不是可读的 iCalendar 文件：{exc}") from None
    markers = tuple(workday_markers)
    wanted = tuple(regions)
    generic = GENERIC_CATEGORIES | {marker.casefold() for marker in markers}
    events: list[_Event] = []
    skipped: list[SkippedEvent] = []
    for component in calendar.walk("VEVENT"):
        read = _event(component, markers, wanted, generic)
        if isinstance(read, SkippedEvent):
            skipped.append(read)
        else:
            events.append(read)
    selected = frozenset(years) or frozenset(
        day.year for event in events if event.recurrence is None
        for day in _single_days(event)
    )
    if not selected and events:
        raise IcsError("订阅源只有重复事件（RRULE），没有单独的日子：请用 --year 指定年份")
    holidays: dict[date, list[str]] = {}
    workdays: dict[date, list[str]] = {}
    for event in events:
        days = event.dates(selected)
        if not days:
            listed = "、".join(str(year) for year in sorted(selected))
            skipped.append(SkippedEvent(event.start.isoformat(), event.summary,
                                        f"不在所选年份（{listed}）内"))
        for day in days:
            (workdays if event.workday else holidays).setdefault(day, []).append(event.summary)
    for day in sorted(holidays.keys() & workdays.keys()):
        # A make-up workday is stated on purpose; a holiday event on the same day is most
        # likely an observance (e.g. Valentine's Day on a 补班 Saturday).
        for name in holidays.pop(day):
            skipped.append(SkippedEvent(day.isoformat(), name,
                                        f"订阅源把这天标为调休上班（{_joined(workdays[day])}）"))
    feed_years = {
        year: FeedYear(
            MappingProxyType(_named(holidays, year)), MappingProxyType(_named(workdays, year))
        )
        for year in sorted(selected)
    }
    return Feed(str(calendar.get("X-WR-CALNAME") or ""), MappingProxyType(feed_years),
                tuple(skipped))


def _event(
    component: Any, markers: tuple[str, ...], wanted: tuple[str, ...], generic: frozenset[str]
) -> _Event | SkippedEvent:
    summary = str(component.get("SUMMARY") or "").strip()
    raw_start = component.get("DTSTART")
    if raw_start is None:
        return SkippedEvent("?", summary, "没有 DTSTART")
    when = raw_start.dt.isoformat()
    if str(component.get("STATUS") or "").upper() == "CANCELLED":
        return SkippedEvent(when, summary, "已取消（STATUS:CANCELLED）")
    try:
        start, end = component.start, component.end
        recurrence = _recurrence(component, start)
    except (ValueError, TypeError) as exc:
        return SkippedEvent(when, summary, f"日期或重复规则无法读取：{exc}")
    if isinstance(start, datetime) or isinstance(end, datetime):
        return SkippedEvent(start.isoformat(), summary, "不是全天事件（DTSTART 带时刻）")
    regional = _regional_problem(component, summary, wanted, generic)
    if regional:
        return SkippedEvent(start.isoformat(), summary, regional)
    return _Event(
        summary=summary,
        start=start,
        days=max((end - start).days, 1),
        workday=any(marker in summary for marker in markers),
        recurrence=recurrence,
    )


def _regional_problem(
    component: Any, summary: str, wanted: tuple[str, ...], generic: frozenset[str]
) -> str | None:
    """Why a regional event is left out, or None when it is kept (national, or a region asked
    for)."""
    location = str(component.get("LOCATION") or "")
    named = [part.strip() for part in _LOCATION_SEPARATORS.split(location) if part.strip()]
    named += [str(value).strip() for value in component.categories
              if str(value).strip() and str(value).strip().casefold() not in generic]
    text = f"{summary}\n{component.get('DESCRIPTION') or ''}"
    marker = REGIONAL_PATTERN.search(text)
    if not named and marker is None:
        return None
    label = "、".join(named) or _line_at(text, marker.start() if marker else 0)
    if not wanted:
        return f"地区性节日（{label}），未用 --region 选这个地区"
    if any(_names_region(region, named, text) for region in wanted):
        return None
    return f"地区性节日（{label}），不属于 --region {'、'.join(wanted)}"


def _names_region(region: str, named: list[str], text: str) -> bool:
    """Whether an event names ``region``: one of its region names, or a whole word of its
    text (case ignored)."""
    if region.casefold() in {name.casefold() for name in named}:
        return True
    # Word edges only where the region starts/ends with a Latin letter or digit: "BY" must not
    # match inside "Bayern", while "广西" must match inside "广西壮族自治区".
    before = r"(?<![A-Za-z0-9])" if region[:1].isascii() and region[:1].isalnum() else ""
    after = r"(?![A-Za-z0-9])" if region[-1:].isascii() and region[-1:].isalnum() else ""
    return re.search(before + re.escape(region) + after, text, re.IGNORECASE) is not None


def _recurrence(component: Any, start: date) -> rruleset | None:
    if not component.rrules:
        return None
    anchor = datetime.combine(start, time())
    rules = rruleset()
    for recur in component.rrules:
        # ignoretz: an all-day event's UNTIL is sometimes written in UTC; only its date counts.
        rules.rrule(rrulestr(recur.to_ical().decode(), dtstart=anchor, ignoretz=True))
    for moment in component.exdates:
        rules.exdate(_midnight(moment))
    for moment, _ in component.rdates:
        rules.rdate(_midnight(moment))
    return rules


def _midnight(moment: date) -> datetime:
    return datetime.combine(moment if not isinstance(moment, datetime) else moment.date(), time())


def _single_days(event: _Event) -> list[date]:
    return [event.start + timedelta(days=n) for n in range(event.days)]


def _named(days: Mapping[date, list[str]], year: int) -> dict[date, str]:
    return {day: _joined(names) for day, names in sorted(days.items()) if day.year == year}


def _joined(names: list[str]) -> str:
    return "、".join(dict.fromkeys(names))


def _line_at(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start:end if end >= 0 else None].strip()[:60]
