"""The pure SLA domain: business calendars, business-time arithmetic and the SLA policy.

Nothing here does I/O except loading a policy file; time always comes in as an argument
(UTC epoch milliseconds).
"""

from .calendar import (
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
from .policy import (
    PolicyError,
    SlaPolicy,
    Target,
    load_default_policy,
    load_policy,
    parse_duration,
    parse_policy,
    policy_from_mapping,
)

__all__ = [
    "BusinessCalendar",
    "CalendarError",
    "DayInterval",
    "HolidayDataUnavailable",
    "NoOpeningFound",
    "PolicyError",
    "SlaPolicy",
    "Target",
    "add_business_ms",
    "add_business_seconds",
    "always_open",
    "business_calendar",
    "business_ms_between",
    "business_seconds_between",
    "is_open",
    "load_default_policy",
    "load_policy",
    "next_business_instant",
    "opening_hours_on",
    "parse_duration",
    "parse_policy",
    "policy_from_mapping",
]
