"""SLA policy: named calendars, warning thresholds, pause rules and targets, read from YAML.

The file is validated completely at load, and every problem is a `PolicyError` whose message
starts with the key path that is wrong (``targets.first_response.urgent.vip.target: expected
a duration like '30m', got 'soon'``). After loading, every (metric, priority, tier) has a
target, so lookups never fail on a valid policy. See docs/sla.md for the file format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from schemas.vocabulary import PRIORITIES, SLA_METRICS, TIERS

from .calendar import (
    DEFAULT_TIMEZONE,
    WEEKDAY_NAMES,
    BusinessCalendar,
    CalendarError,
    DayHours,
    DayInterval,
    always_open,
    business_calendar,
    day_hours,
    time_zone,
)

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.yaml")
DEFAULT_WARNING_THRESHOLDS = (0.5, 0.8)
DEFAULT_PAUSE_ON = ("pending_customer",)
PAUSABLE_STATUSES = ("pending_customer", "on_hold")
FALLBACK = "default"  # a priority or tier key that answers for every value not listed

_TOP_LEVEL_KEYS = ("version", "calendars", "warning_thresholds", "pause_on", "targets")
_ALWAYS_OPEN_KEYS = ("type",)
_BUSINESS_KEYS = (
    "type",
    "timezone",
    "hours",
    "chinese_holidays",
    "makeup_workday",
    "closed",
    "open",
    "holiday_data_missing",
)
_TARGET_KEYS = ("target", "calendar")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_UNITS = (86_400, 3_600, 60, 1)

Key = tuple[str, str, str]  # (metric, priority, tier)


class PolicyError(ValueError):
    """An SLA policy file is invalid; ``key_path`` names the offending key."""

    def __init__(self, key_path: str, problem: str, source: str | None = None) -> None:
        self.key_path = key_path
        self.problem = problem
        self.source = source
        located = f"{key_path}: {problem}" if key_path else problem
        super().__init__(f"{source}: {located}" if source else located)


@dataclass(frozen=True)
class Target:
    """How much business time a metric may take, measured on which calendar."""

    metric: str
    seconds: int
    calendar: BusinessCalendar
    calendar_name: str


@dataclass(frozen=True)
class SlaPolicy:
    version: str
    calendars: Mapping[str, BusinessCalendar] = field(hash=False)
    warning_thresholds: tuple[float, ...]
    pause_on: frozenset[str]
    targets: Mapping[Key, Target] = field(hash=False)  # every combination, fallbacks resolved

    def target_for(self, metric: str, priority: str, tier: str) -> Target:
        for value, allowed, what in (
            (metric, SLA_METRICS, "metric"),
            (priority, PRIORITIES, "priority"),
            (tier, TIERS, "customer tier"),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; expected one of {_list(allowed)}")
        return self.targets[(metric, priority, tier)]


# --- loading -------------------------------------------------------------------------------


def load_default_policy() -> SlaPolicy:
    """The policy packaged next to this module (default_policy.yaml)."""
    return load_policy(DEFAULT_POLICY_PATH)


def load_policy(path: str | Path) -> SlaPolicy:
    """Read and validate a policy file; every problem is a PolicyError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError("", f"cannot read policy file: {exc.strerror}", str(path)) from exc
    try:
        return parse_policy(text)
    except PolicyError as exc:
        raise PolicyError(exc.key_path, exc.problem, str(path)) from None


def parse_policy(text: str) -> SlaPolicy:
    """Validate a policy given as YAML text."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError("", f"not valid YAML: {exc}") from None
    return policy_from_mapping(raw)


def policy_from_mapping(raw: Any) -> SlaPolicy:
    """Validate a policy already parsed into plain dicts and lists."""
    doc = _mapping(raw, "")
    _check_keys(doc, "", allowed=_TOP_LEVEL_KEYS, required=("version", "calendars", "targets"))
    calendars = _calendars(doc["calendars"], "calendars")
    return SlaPolicy(
        version=_version(doc["version"], "version"),
        calendars=MappingProxyType(calendars),
        warning_thresholds=_thresholds(
            doc.get("warning_thresholds", list(DEFAULT_WARNING_THRESHOLDS)), "warning_thresholds"
        ),
        pause_on=_pause_on(doc.get("pause_on", list(DEFAULT_PAUSE_ON)), "pause_on"),
        targets=MappingProxyType(_targets(doc["targets"], calendars, "targets")),
    )


def parse_duration(text: Any, path: str = "duration") -> int:
    """Seconds in a duration like ``"90s"``, ``"30m"``, ``"24h"``, ``"2d"`` or ``"7h30m"``."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) and text else None
    if match is None:
        raise PolicyError(path, f"expected a duration like '30m', got {text!r}")
    seconds = sum(
        int(n) * unit for n, unit in zip(match.groups(), _DURATION_UNITS, strict=True) if n
    )
    if seconds <= 0:
        raise PolicyError(path, f"a duration must be longer than zero, got {text!r}")
    return seconds


# --- sections ------------------------------------------------------------------------------


def _version(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        # YAML reads an unquoted 2026-11-01 as a date and 1.20 as a float; turning those back
        # into text could silently change the version, so ask for quotes instead.
        raise PolicyError(
            path, f"expected a string like '2026-11-1' (quote it in YAML), got {raw!r}"
        )
    return raw


def _calendars(raw: Any, path: str) -> dict[str, BusinessCalendar]:
    section = _mapping(raw, path)
    if not section:
        raise PolicyError(path, "define at least one calendar")
    calendars = {}
    for name, spec in section.items():
        here = _join(path, name)
        if not isinstance(name, str):
            raise PolicyError(here, f"calendar names must be strings, got {name!r}")
        calendars[name] = _calendar(name, _mapping(spec, here), here)
    return calendars


def _calendar(name: str, spec: Mapping[str, Any], path: str) -> BusinessCalendar:
    kind = spec.get("type")
    if kind == "always_open":
        _check_keys(spec, path, allowed=_ALWAYS_OPEN_KEYS)
        return always_open(name)
    if kind == "business":
        _check_keys(spec, path, allowed=_BUSINESS_KEYS, required=("hours",))
        return _business_calendar(name, spec, path)
    raise PolicyError(_join(path, "type"), f"expected 'business' or 'always_open', got {kind!r}")


def _business_calendar(name: str, spec: Mapping[str, Any], path: str) -> BusinessCalendar:
    weekly = _weekly_hours(spec["hours"], _join(path, "hours"))
    opens = _open_overrides(spec.get("open", {}), _join(path, "open"))
    closed = _closed_dates(spec.get("closed", []), _join(path, "closed"))
    if not any(weekly.values()) and not opens:
        raise PolicyError(
            _join(path, "hours"), "a business calendar needs opening hours on some weekday"
        )
    for day in opens:
        if day in closed:
            raise PolicyError(_join(_join(path, "open"), day), "this date is also listed as closed")
    makeup = spec.get("makeup_workday")
    missing_data = spec.get("holiday_data_missing", "error")
    if missing_data not in ("error", "weekly_hours"):
        raise PolicyError(
            _join(path, "holiday_data_missing"),
            f"expected 'error' or 'weekly_hours', got {missing_data!r}",
        )
    try:
        return business_calendar(
            name,
            weekly,
            timezone=_timezone(spec.get("timezone", DEFAULT_TIMEZONE), _join(path, "timezone")),
            chinese_holidays=_bool(
                spec.get("chinese_holidays", False), _join(path, "chinese_holidays")
            ),
            makeup_workday_hours=None
            if makeup is None
            else _day_hours(makeup, _join(path, "makeup_workday")),
            closed_dates=closed,
            open_dates=opens,
            holiday_data_missing=missing_data,
        )
    except CalendarError as exc:  # every part was checked above; kept so nothing escapes bare
        raise PolicyError(path, str(exc)) from None


def _weekly_hours(raw: Any, path: str) -> dict[str, DayHours]:
    section = _mapping(raw, path)
    _check_keys(section, path, allowed=WEEKDAY_NAMES)
    return {day: _day_hours(section[day], _join(path, day)) for day in section}


def _day_hours(raw: Any, path: str) -> DayHours:
    if raw is None:
        return ()  # `sat:` with nothing after it reads as closed
    items = _list_of(raw, path)
    intervals = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise PolicyError(f"{path}[{index}]", f"expected '09:00-12:00', got {item!r}")
        try:
            intervals.append(DayInterval.parse(item))
        except CalendarError as exc:
            raise PolicyError(f"{path}[{index}]", str(exc)) from None
    try:
        return day_hours(intervals)
    except CalendarError as exc:
        raise PolicyError(path, str(exc)) from None


def _closed_dates(raw: Any, path: str) -> list[date]:
    return [_date(item, f"{path}[{i}]") for i, item in enumerate(_list_of(raw, path))]


def _open_overrides(raw: Any, path: str) -> dict[date, DayHours]:
    section = _mapping(raw, path)
    return {
        _date(key, _join(path, key)): _day_hours(value, _join(path, key))
        for key, value in section.items()
    }


def _thresholds(raw: Any, path: str) -> tuple[float, ...]:
    values = []
    for index, item in enumerate(_list_of(raw, path)):
        here = f"{path}[{index}]"
        if isinstance(item, bool) or not isinstance(item, int | float) or not 0 < item < 1:
            raise PolicyError(here, f"expected a fraction between 0 and 1, got {item!r}")
        if values and item <= values[-1]:
            raise PolicyError(here, f"thresholds must ascend, got {item!r} after {values[-1]!r}")
        values.append(float(item))
    return tuple(values)


def _pause_on(raw: Any, path: str) -> frozenset[str]:
    statuses = _list_of(raw, path)
    for index, status in enumerate(statuses):
        if status not in PAUSABLE_STATUSES:
            raise PolicyError(
                f"{path}[{index}]",
                f"expected one of {_list(PAUSABLE_STATUSES)}, got {status!r}",
            )
    return frozenset(statuses)


# --- targets -------------------------------------------------------------------------------


def _targets(raw: Any, calendars: Mapping[str, BusinessCalendar], path: str) -> dict[Key, Target]:
    section = _mapping(raw, path)
    _check_keys(section, path, allowed=SLA_METRICS, required=SLA_METRICS)
    resolved = {}
    for metric in SLA_METRICS:
        metric_path = _join(path, metric)
        table = _target_table(section[metric], calendars, metric_path)
        for priority in PRIORITIES:
            for tier in TIERS:
                seconds, calendar_name = _pick(table, priority, tier, metric_path)
                resolved[(metric, priority, tier)] = Target(
                    metric, seconds, calendars[calendar_name], calendar_name
                )
    return resolved


def _target_table(
    raw: Any, calendars: Mapping[str, BusinessCalendar], path: str
) -> dict[tuple[str, str], tuple[int, str]]:
    """{(priority or 'default', tier or 'default'): (seconds, calendar name)} as written.

    A priority maps either to one target for all its tiers or to targets per tier."""
    table = {}
    by_priority = _mapping(raw, path)
    _check_keys(by_priority, path, allowed=(*PRIORITIES, FALLBACK))
    for priority, entry in by_priority.items():
        priority_path = _join(path, priority)
        entry = _mapping(entry, priority_path)
        if "target" in entry or "calendar" in entry:  # one target for every tier
            table[(priority, FALLBACK)] = _target(entry, calendars, priority_path)
            continue
        _check_keys(entry, priority_path, allowed=(*TIERS, FALLBACK))
        for tier, leaf in entry.items():
            tier_path = _join(priority_path, tier)
            table[(priority, tier)] = _target(_mapping(leaf, tier_path), calendars, tier_path)
    return table


def _target(
    leaf: Mapping[str, Any], calendars: Mapping[str, BusinessCalendar], path: str
) -> tuple[int, str]:
    _check_keys(leaf, path, allowed=_TARGET_KEYS, required=_TARGET_KEYS)
    seconds = parse_duration(leaf["target"], _join(path, "target"))
    calendar_name = leaf["calendar"]
    if calendar_name not in calendars:
        raise PolicyError(
            _join(path, "calendar"),
            f"unknown calendar {calendar_name!r}; defined: {_list(calendars)}",
        )
    return seconds, calendar_name


def _pick(
    table: Mapping[tuple[str, str], tuple[int, str]], priority: str, tier: str, path: str
) -> tuple[int, str]:
    # The priority outranks the tier: an urgent ticket is urgent whoever the customer is.
    candidates = ((priority, tier), (priority, FALLBACK), (FALLBACK, tier), (FALLBACK, FALLBACK))
    for candidate in candidates:
        if candidate in table:
            return table[candidate]
    tried = ", ".join(f"{path}.{p}.{t}" for p, t in candidates)
    raise PolicyError(
        _join(_join(path, priority), tier),
        f"no target for priority {priority!r} and tier {tier!r}; define one of {tried}",
    )


# --- small validators ----------------------------------------------------------------------


def _mapping(raw: Any, path: str) -> Mapping[Any, Any]:
    if not isinstance(raw, Mapping):
        raise PolicyError(path, f"expected a mapping, got {_kind(raw)}")
    return raw


def _list_of(raw: Any, path: str) -> list[Any]:
    if not isinstance(raw, list):
        raise PolicyError(path, f"expected a list, got {_kind(raw)}")
    return raw


def _check_keys(
    section: Mapping[Any, Any], path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
) -> None:
    for key in section:
        if key not in allowed:
            raise PolicyError(_join(path, key), f"unknown key; expected one of {_list(allowed)}")
    for key in required:
        if key not in section:
            raise PolicyError(_join(path, key), "missing")


def _bool(raw: Any, path: str) -> bool:
    if not isinstance(raw, bool):
        raise PolicyError(path, f"expected true or false, got {raw!r}")
    return raw


def _timezone(raw: Any, path: str) -> ZoneInfo:
    if not isinstance(raw, str):
        raise PolicyError(path, f"expected a time zone name like 'Asia/Shanghai', got {raw!r}")
    try:
        return time_zone(raw)
    except CalendarError as exc:
        raise PolicyError(path, str(exc)) from None


def _date(raw: Any, path: str) -> date:
    if isinstance(raw, datetime):
        raise PolicyError(path, f"expected a date like 2026-10-01, got a date and time {raw}")
    if isinstance(raw, date):  # YAML reads an unquoted 2026-10-01 as a date already
        return raw
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise PolicyError(path, f"expected a date like 2026-10-01, got {raw!r}") from None


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _list(values: Any) -> str:
    return ", ".join(str(v) for v in values)


def _kind(raw: Any) -> str:
    return "nothing" if raw is None else f"{type(raw).__name__} {raw!r}"
