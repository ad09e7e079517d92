"""SLA policy: named calendars, warning thresholds, pause rules and targets, read from YAML.

The whole file is validated at load, and every problem found is a `PolicyError` whose message
starts with the key path that is wrong (``targets.first_response.urgent.vip.target: expected
a duration like '30m', got 'soon'``). Validation does not stop at the first problem: a loader
raises one `PolicyErrors` listing them all, and `check_policy_file` returns them. After loading,
every (metric, priority, tier) has a target, so lookups never fail on a valid policy. See
docs/sla.md for the file format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import product
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
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
from .holidays import HolidayDataError, HolidaySet, load_holiday_set

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
    "holidays",
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
T = TypeVar("T")


class PolicyError(ValueError):
    """An SLA policy file is invalid; ``key_path`` names the offending key."""

    def __init__(self, key_path: str, problem: str, source: str | None = None) -> None:
        self.key_path = key_path
        self.problem = problem
        self.source = source
        located = f"{key_path}: {problem}" if key_path else problem
        super().__init__(f"{source}: {located}" if source else located)


class PolicyErrors(PolicyError):
    """Every problem of one policy, in file order, one per line of the message.

    ``key_path``, ``problem`` and ``source`` are the first problem's, so code written for a
    single `PolicyError` keeps working."""

    def __init__(self, errors: Sequence[PolicyError]) -> None:
        first = errors[0]
        super().__init__(first.key_path, first.problem, first.source)
        self.errors = list(errors)
        self.args = ("\n".join(str(error) for error in self.errors),)


@dataclass(frozen=True)
class Target:
    """How much business time a metric may take, measured on which calendar."""

    metric: str
    seconds: int
    calendar: BusinessCalendar
    calendar_name: str


class UnknownCalendar(LookupError):
    """A clock is pinned to a calendar this policy cannot provide."""


@dataclass(frozen=True)
class SlaPolicy:
    version: str
    calendars: Mapping[str, BusinessCalendar] = field(hash=False)
    warning_thresholds: tuple[float, ...]
    pause_on: frozenset[str]
    targets: Mapping[Key, Target] = field(hash=False)  # every combination, fallbacks resolved
    # Calendars by fingerprint that running clocks may be pinned to: this policy's own, plus
    # those of earlier policies and holiday data (`with_pinned`).
    pinned: Mapping[str, BusinessCalendar] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        own = {cal.fingerprint: cal for cal in self.calendars.values()}
        object.__setattr__(self, "pinned", MappingProxyType({**self.pinned, **own}))

    def with_pinned(self, calendars: Mapping[str, BusinessCalendar]) -> SlaPolicy:
        """This policy, also able to measure clocks pinned to ``calendars`` (by fingerprint)."""
        return replace(self, pinned=MappingProxyType({**calendars, **self.pinned}))

    def pinned_calendar(self, name: str, fingerprint: str | None) -> BusinessCalendar:
        """The calendar a clock was pinned to; a clock from before pinning (no fingerprint) is
        measured on this policy's calendar of the same name."""
        calendar = (self.calendars.get(name) if fingerprint is None
                    else self.pinned.get(fingerprint))
        if calendar is not None:
            return calendar
        which = ("(of a clock started before calendars were pinned)" if fingerprint is None
                 else f"with fingerprint {fingerprint[:12]}")
        raise UnknownCalendar(
            f"calendar {name!r} {which} is not known to policy {self.version!r} (calendars: "
            f"{_list(self.calendars)}) nor to the calendars pinned by earlier policies"
        )

    def unservable(self, calendars: Iterable[tuple[str, str | None]]) -> dict[str, int]:
        """Of the (name, fingerprint) pairs running clocks are pinned to, those this policy
        cannot provide, labelled "name (fingerprint)" or "name (unpinned)", with how often
        each occurs: a worker must not run with such a policy (docs/sla.md)."""
        needed: dict[str, int] = {}
        for name, fingerprint in calendars:
            try:
                self.pinned_calendar(name, fingerprint)
            except UnknownCalendar:
                label = f"{name} ({fingerprint[:12]})" if fingerprint else f"{name} (unpinned)"
                needed[label] = needed.get(label, 0) + 1
        return needed

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
    """Read and validate a policy file; raises `PolicyErrors`, each error naming the file."""
    return _valid(check_policy_file(path))


def check_policy_file(path: str | Path) -> tuple[SlaPolicy | None, list[PolicyError]]:
    """Read and validate a policy file without raising: the policy and no errors, or None and
    every problem (each naming the file). Holiday files are found from the file's folder."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [PolicyError("", f"cannot read policy file: {exc.strerror}", str(path))]
    policy, errors = _check_text(text, Path(path).parent)
    return policy, [PolicyError(error.key_path, error.problem, str(path)) for error in errors]


def parse_policy(text: str, base_dir: str | Path | None = None) -> SlaPolicy:
    """Validate a policy given as YAML text; holiday file paths are relative to ``base_dir``
    (default: the current directory)."""
    return _valid(_check_text(text, _base(base_dir)))


def policy_from_mapping(raw: Any, base_dir: str | Path | None = None) -> SlaPolicy:
    """Validate a policy already parsed into plain dicts and lists."""
    return _valid(_check_mapping(raw, _base(base_dir)))


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


Checked = tuple[SlaPolicy | None, list[PolicyError]]


def _valid(checked: Checked) -> SlaPolicy:
    policy, errors = checked
    if policy is None:
        raise PolicyErrors(errors)
    return policy


def _base(base_dir: str | Path | None) -> Path:
    return Path.cwd() if base_dir is None else Path(base_dir)


def _check_text(text: str, base_dir: Path) -> Checked:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [PolicyError("", f"not valid YAML: {exc}")]
    return _check_mapping(raw, base_dir)


def _check_mapping(raw: Any, base_dir: Path) -> Checked:
    problems = _Problems()
    return _policy(problems, raw, base_dir), problems.errors


# --- collecting problems -------------------------------------------------------------------


class _Problems:
    """Every problem found so far. Section readers record a problem and carry on with the
    rest, returning what they could read; a part is only used to build the policy (or a
    calendar, or a target) when nothing was recorded while reading it (`clean_since`).
    Small validators just raise a PolicyError; `check` records it."""

    def __init__(self) -> None:
        self.errors: list[PolicyError] = []

    def add(self, key_path: str, problem: str) -> None:
        self.errors.append(PolicyError(key_path, problem))

    def check(self, validate: Callable[..., T], *args: Any) -> T | None:
        """``validate(*args)``, or None once the PolicyError it raised is recorded."""
        try:
            return validate(*args)
        except PolicyError as exc:
            self.errors.append(exc)
            return None

    def mark(self) -> int:
        return len(self.errors)

    def clean_since(self, mark: int) -> bool:
        return len(self.errors) == mark


# A calendar by name, or None for one whose definition has problems: those are reported where
# the calendar is defined, not again at every target that names it.
Calendars = Mapping[str, BusinessCalendar | None]


# --- sections ------------------------------------------------------------------------------


def _policy(problems: _Problems, raw: Any, base_dir: Path) -> SlaPolicy | None:
    doc = problems.check(_mapping, raw, "")
    if doc is None:
        return None
    required = ("version", "calendars", "targets")
    _check_keys(problems, doc, "", allowed=_TOP_LEVEL_KEYS, required=required)
    version = problems.check(_version, doc["version"], "version") if "version" in doc else None
    # Without a readable calendars section no target's calendar can be checked: None skips it.
    calendars = (
        _calendars(problems, doc["calendars"], "calendars", base_dir)
        if "calendars" in doc
        else None
    )
    thresholds = _thresholds(
        problems, doc.get("warning_thresholds", list(DEFAULT_WARNING_THRESHOLDS)),
        "warning_thresholds",
    )
    pause_on = _pause_on(problems, doc.get("pause_on", list(DEFAULT_PAUSE_ON)), "pause_on")
    targets = _targets(problems, doc["targets"], calendars, "targets") if "targets" in doc else {}
    if problems.errors or version is None or calendars is None:
        return None
    return SlaPolicy(
        version=version,
        calendars=MappingProxyType(
            {name: cal for name, cal in calendars.items() if cal is not None}
        ),
        warning_thresholds=thresholds,
        pause_on=pause_on,
        targets=MappingProxyType(targets),
    )


def _version(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        # YAML reads an unquoted 2026-11-01 as a date and 1.20 as a float; turning those back
        # into text could silently change the version, so ask for quotes instead.
        raise PolicyError(
            path, f"expected a string like '2026-11-1' (quote it in YAML), got {raw!r}"
        )
    return raw


def _calendars(problems: _Problems, raw: Any, path: str, base_dir: Path) -> Calendars | None:
    section = problems.check(_mapping, raw, path)
    if section is None:
        return None
    if not section:
        problems.add(path, "define at least one calendar")
        return None
    calendars = {}
    for name, spec in section.items():
        here = _join(path, name)
        if not isinstance(name, str):
            problems.add(here, f"calendar names must be strings, got {name!r}")
            continue
        calendars[name] = _calendar(problems, name, spec, here, base_dir)
    return calendars


def _calendar(
    problems: _Problems, name: str, raw: Any, path: str, base_dir: Path
) -> BusinessCalendar | None:
    spec = problems.check(_mapping, raw, path)
    if spec is None:
        return None
    kind = spec.get("type")
    if kind == "always_open":
        clean = _check_keys(problems, spec, path, allowed=_ALWAYS_OPEN_KEYS)
        return always_open(name) if clean else None
    if kind == "business":
        return _business_calendar(problems, name, spec, path, base_dir)
    problems.add(_join(path, "type"), f"expected 'business' or 'always_open', got {kind!r}")
    return None


def _business_calendar(
    problems: _Problems, name: str, spec: Mapping[str, Any], path: str, base_dir: Path
) -> BusinessCalendar | None:
    start = problems.mark()
    _check_keys(problems, spec, path, allowed=_BUSINESS_KEYS, required=("hours",))
    hours_start = problems.mark()
    weekly = _weekly_hours(problems, spec.get("hours", {}), _join(path, "hours"))
    # Only hours read without problems can be "no hours": a bad interval is reported once.
    hours_read = "hours" in spec and problems.clean_since(hours_start)
    opens = _open_overrides(problems, spec.get("open", {}), _join(path, "open"))
    closed = _closed_dates(problems, spec.get("closed", []), _join(path, "closed"))
    if hours_read and not any(weekly.values()) and not spec.get("open"):
        problems.add(
            _join(path, "hours"), "a business calendar needs opening hours on some weekday"
        )
    for day in opens:
        if day in closed:
            problems.add(_join(_join(path, "open"), day), "this date is also listed as closed")
    makeup = spec.get("makeup_workday")
    makeup_hours = (
        None if makeup is None else _day_hours(problems, makeup, _join(path, "makeup_workday"))
    )
    missing_data = spec.get("holiday_data_missing", "error")
    if missing_data not in ("error", "weekly_hours"):
        problems.add(
            _join(path, "holiday_data_missing"),
            f"expected 'error' or 'weekly_hours', got {missing_data!r}",
        )
    timezone = problems.check(
        _timezone, spec.get("timezone", DEFAULT_TIMEZONE), _join(path, "timezone")
    )
    holidays = _holiday_set(problems, spec, path, base_dir)
    if not problems.clean_since(start) or timezone is None:
        return None
    try:
        return business_calendar(
            name,
            weekly,
            timezone=timezone,
            holidays=holidays,
            makeup_workday_hours=makeup_hours,
            closed_dates=closed,
            open_dates=opens,
            holiday_data_missing=missing_data,
        )
    except CalendarError as exc:  # every part was checked above; kept so nothing escapes bare
        problems.add(path, str(exc))
        return None


def _holiday_set(
    problems: _Problems, spec: Mapping[str, Any], path: str, base_dir: Path
) -> HolidaySet | None:
    """``holidays: <packaged set or file>``, or ``chinese_holidays: true``, short for
    ``holidays: cn``."""
    here = _join(path, "holidays")
    if "holidays" in spec and "chinese_holidays" in spec:
        problems.add(
            here, "give holidays or chinese_holidays (short for holidays: cn), not both"
        )
        return None
    if "chinese_holidays" in spec:
        shorthand = problems.check(_bool, spec["chinese_holidays"], _join(path, "chinese_holidays"))
        return problems.check(_holidays, "cn", base_dir, here) if shorthand else None
    if "holidays" in spec:
        return problems.check(_holidays, spec["holidays"], base_dir, here)
    return None


def _holidays(ref: Any, base_dir: Path, path: str) -> HolidaySet:
    if not isinstance(ref, str) or not ref.strip():
        raise PolicyError(
            path, f"expected a packaged holiday set like 'cn' or a file path, got {ref!r}"
        )
    try:
        return load_holiday_set(ref, base_dir)
    except HolidayDataError as exc:
        raise PolicyError(path, str(exc)) from None


def _weekly_hours(problems: _Problems, raw: Any, path: str) -> dict[str, DayHours]:
    section = problems.check(_mapping, raw, path) or {}
    _check_keys(problems, section, path, allowed=WEEKDAY_NAMES)
    return {
        day: _day_hours(problems, hours, _join(path, day))
        for day, hours in section.items()
        if day in WEEKDAY_NAMES
    }


def _day_hours(problems: _Problems, raw: Any, path: str) -> DayHours:
    if raw is None:
        return ()  # `sat:` with nothing after it reads as closed
    items = problems.check(_list_of, raw, path) or []
    intervals = [
        interval
        for index, item in enumerate(items)
        if (interval := problems.check(_interval, item, f"{path}[{index}]")) is not None
    ]
    if len(intervals) < len(items):
        return ()  # a bad interval is reported; the day's overlap check would only repeat it
    try:
        return day_hours(intervals)
    except CalendarError as exc:
        problems.add(path, str(exc))
        return ()


def _interval(raw: Any, path: str) -> DayInterval:
    if not isinstance(raw, str):
        raise PolicyError(path, f"expected '09:00-12:00', got {raw!r}")
    try:
        return DayInterval.parse(raw)
    except CalendarError as exc:
        raise PolicyError(path, str(exc)) from None


def _closed_dates(problems: _Problems, raw: Any, path: str) -> list[date]:
    items = problems.check(_list_of, raw, path) or []
    dates = (problems.check(_date, item, f"{path}[{i}]") for i, item in enumerate(items))
    return [day for day in dates if day is not None]


def _open_overrides(problems: _Problems, raw: Any, path: str) -> dict[date, DayHours]:
    section = problems.check(_mapping, raw, path) or {}
    opens = {}
    for key, value in section.items():
        day = problems.check(_date, key, _join(path, key))
        hours = _day_hours(problems, value, _join(path, key))
        if day is not None:
            opens[day] = hours
    return opens


def _thresholds(problems: _Problems, raw: Any, path: str) -> tuple[float, ...]:
    values: list[float] = []
    for index, item in enumerate(problems.check(_list_of, raw, path) or []):
        here = f"{path}[{index}]"
        if isinstance(item, bool) or not isinstance(item, int | float) or not 0 < item < 1:
            problems.add(here, f"expected a fraction between 0 and 1, got {item!r}")
        elif values and item <= values[-1]:
            problems.add(here, f"thresholds must ascend, got {item!r} after {values[-1]!r}")
        else:
            values.append(float(item))
    return tuple(values)


def _pause_on(problems: _Problems, raw: Any, path: str) -> frozenset[str]:
    statuses = problems.check(_list_of, raw, path) or []
    for index, status in enumerate(statuses):
        if status not in PAUSABLE_STATUSES:
            problems.add(
                f"{path}[{index}]",
                f"expected one of {_list(PAUSABLE_STATUSES)}, got {status!r}",
            )
    return frozenset(status for status in statuses if status in PAUSABLE_STATUSES)


# --- targets -------------------------------------------------------------------------------

# {(priority or 'default', tier or 'default'): target} as written; None marks an entry with
# problems, which still counts as written so the combinations it covers are not also reported
# as having no target.
Table = dict[tuple[str, str], Target | None]


def _targets(
    problems: _Problems, raw: Any, calendars: Calendars | None, path: str
) -> dict[Key, Target]:
    section = problems.check(_mapping, raw, path) or {}
    _check_keys(problems, section, path, allowed=SLA_METRICS, required=SLA_METRICS)
    resolved = {}
    for metric in SLA_METRICS:
        if metric not in section:
            continue
        metric_path = _join(path, metric)
        table = _target_table(problems, section[metric], metric, calendars, metric_path)
        for priority, tier in product(PRIORITIES, TIERS):
            candidates = _candidates(priority, tier)
            written = next((c for c in candidates if c in table), None)
            if written is None:
                tried = ", ".join(f"{metric_path}.{p}.{t}" for p, t in candidates)
                problems.add(
                    _join(_join(metric_path, priority), tier),
                    f"no target for priority {priority!r} and tier {tier!r}; "
                    f"define one of {tried}",
                )
            elif (target := table[written]) is not None:
                resolved[(metric, priority, tier)] = target
    return resolved


def _candidates(priority: str, tier: str) -> tuple[tuple[str, str], ...]:
    # The priority outranks the tier: an urgent ticket is urgent whoever the customer is.
    return ((priority, tier), (priority, FALLBACK), (FALLBACK, tier), (FALLBACK, FALLBACK))


def _target_table(
    problems: _Problems, raw: Any, metric: str, calendars: Calendars | None, path: str
) -> Table:
    """A priority maps either to one target for all its tiers or to targets per tier."""
    by_priority = problems.check(_mapping, raw, path)
    if by_priority is None:
        return {(FALLBACK, FALLBACK): None}  # the metric is reported; not its 12 combinations
    _check_keys(problems, by_priority, path, allowed=(*PRIORITIES, FALLBACK))
    table: Table = {}
    for priority, raw_entry in by_priority.items():
        if priority not in (*PRIORITIES, FALLBACK):
            continue
        priority_path = _join(path, priority)
        entry = problems.check(_mapping, raw_entry, priority_path)
        if entry is None:
            table[(priority, FALLBACK)] = None
        elif "target" in entry or "calendar" in entry:  # one target for every tier
            table[(priority, FALLBACK)] = _target(problems, entry, metric, calendars, priority_path)
        else:
            _check_keys(problems, entry, priority_path, allowed=(*TIERS, FALLBACK))
            for tier, raw_leaf in entry.items():
                if tier not in (*TIERS, FALLBACK):
                    continue
                tier_path = _join(priority_path, tier)
                leaf = problems.check(_mapping, raw_leaf, tier_path)
                table[(priority, tier)] = (
                    None if leaf is None else _target(problems, leaf, metric, calendars, tier_path)
                )
    return table


def _target(
    problems: _Problems,
    leaf: Mapping[str, Any],
    metric: str,
    calendars: Calendars | None,
    path: str,
) -> Target | None:
    start = problems.mark()
    _check_keys(problems, leaf, path, allowed=_TARGET_KEYS, required=_TARGET_KEYS)
    seconds = (
        problems.check(parse_duration, leaf["target"], _join(path, "target"))
        if "target" in leaf
        else None
    )
    name = leaf.get("calendar")
    calendar = (
        _target_calendar(problems, name, calendars, _join(path, "calendar"))
        if "calendar" in leaf
        else None
    )
    if not problems.clean_since(start) or seconds is None or calendar is None:
        return None
    return Target(metric, seconds, calendar, name)


def _target_calendar(
    problems: _Problems, name: Any, calendars: Calendars | None, path: str
) -> BusinessCalendar | None:
    if calendars is None:
        return None  # the calendars section itself has problems, reported there
    if not isinstance(name, str) or name not in calendars:
        problems.add(path, f"unknown calendar {name!r}; defined: {_list(calendars)}")
        return None
    return calendars[name]  # None for a calendar with problems, reported where it is defined


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
    problems: _Problems,
    section: Mapping[Any, Any],
    path: str,
    allowed: tuple[str, ...],
    required: tuple[str, ...] = (),
) -> bool:
    """Record every unknown and every missing key; True when there are none."""
    start = problems.mark()
    for key in section:
        if key not in allowed:
            problems.add(_join(path, key), f"unknown key; expected one of {_list(allowed)}")
    for key in required:
        if key not in section:
            problems.add(_join(path, key), "missing")
    return problems.clean_since(start)


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
