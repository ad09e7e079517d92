"""Clocks that run on incomplete holiday data, announced once per calendar and year.

A clock measured on a year whose holiday data is provisional (statutory days only, 调休 not
published) or missing (weekly hours stand in) gets a deadline that may be off around the
holidays, and keeps it: the clock is pinned to that data, and only clocks that start after the
year is completed use the official schedule. Operators must hear of it early: `holiday_gaps`
finds, from the sla.* events a step emitted, the (calendar, year) pairs with such data between
each event and its deadline, and `HolidayNotices` turns each pair into one
``sla.holiday_data_warning`` per process. Its id depends only on the calendar fingerprint, the
year and the status, so every worker and every replay names it alike and the archive keeps one
row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.catalogue import current
from schemas.event import Event
from streams.sla.calendar import BusinessCalendar
from streams.sla.holidays import COMPLETE
from streams.sla.policy import SlaPolicy, UnknownCalendar

SLA_HOLIDAY_DATA_WARNING = "sla.holiday_data_warning"


@dataclass(frozen=True, order=True)
class HolidayGap:
    calendar: str
    fingerprint: str
    holiday_set: str
    year: int
    status: str  # provisional | missing
    policy_version: str


def holiday_gaps(event: Event, policy: SlaPolicy) -> list[HolidayGap]:
    """Every (calendar, year) with incomplete holiday data that the clock of an sla.* event
    spans, from the event's instant to its deadline (the instant alone while none is known)."""
    data = event.data
    fingerprint = data.get("calendar_fingerprint")
    if fingerprint is None:
        return []
    try:
        calendar = policy.pinned_calendar(data["calendar"], fingerprint)
    except UnknownCalendar:
        return []  # the step that emitted the event measured it; it reports its own failures
    if calendar.holidays is None:
        return []
    end = max(event.occurred_at, data.get("deadline") or event.occurred_at)
    statuses = ((year, calendar.year_status(year))
                for year in range(_year(calendar, event.occurred_at), _year(calendar, end) + 1))
    return [HolidayGap(data["calendar"], fingerprint, calendar.holidays.name, year, status,
                       data.get("policy_version") or policy.version)
            for year, status in statuses if status != COMPLETE]


def _year(calendar: BusinessCalendar, at_ms: int) -> int:
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(calendar.timezone).year


class HolidayNotices:
    """Remembers which gaps this process announced, so each is announced once."""

    def __init__(self) -> None:
        self._announced: set[tuple[str, int, str]] = set()

    def announce(self, gaps: Iterable[HolidayGap], cause: Event) -> list[Event]:
        """An ``sla.holiday_data_warning`` for each gap not announced yet, keyed by the ticket
        of ``cause`` (the sla.* event that first ran into it) and dated at it."""
        notices = []
        for gap in gaps:
            key = (gap.fingerprint, gap.year, gap.status)
            if key in self._announced:
                continue
            self._announced.add(key)
            notices.append(Event(
                event_id=f"holiday-data:{gap.fingerprint[:16]}:{gap.year}:{gap.status}",
                event_type=SLA_HOLIDAY_DATA_WARNING,
                ticket_id=cause.ticket_id,
                occurred_at=cause.occurred_at,
                schema_version=current(SLA_HOLIDAY_DATA_WARNING).version,
                data={"calendar": gap.calendar, "calendar_fingerprint": gap.fingerprint,
                      "holiday_set": gap.holiday_set, "year": gap.year, "status": gap.status,
                      "policy_version": gap.policy_version},
                source="sla",
                caused_by=cause.event_id,
            ))
        return notices
