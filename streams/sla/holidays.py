"""Statutory holidays and make-up workdays as data: one holiday set, year by year.

A holiday set (e.g. ``cn``, the national holidays of the PRC) lists, per year, the days that
are closed (法定节假日 and the bridging days of the official notice) and the make-up workdays
(调休上班). Each year is ``complete`` (the official schedule) or ``provisional`` (only the days
fixed by law are known; the notice with the bridging and make-up days is not out yet). A year
that is not listed is missing. Sets are YAML files: the packaged ones live in
``streams/sla/holidays/``, and an operator's own file may ``extends:`` one of them and add or
replace whole years. Format and commands: docs/holidays.md.

Everything here but `load_holiday_set` and `read_holiday_file` is pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

BUILTIN_DIR = Path(__file__).with_name("holidays")
COMPLETE = "complete"
PROVISIONAL = "provisional"
MISSING = "missing"
YEAR_STATUSES = (COMPLETE, PROVISIONAL)
HOLIDAY = "holiday"
WORKDAY = "workday"

YearStatus = Literal["complete", "provisional", "missing"]
DayKind = Literal["holiday", "workday"]

_SET_KEYS = ("name", "description", "extends", "years")
_YEAR_KEYS = ("status", "source", "holidays", "workdays")


class HolidayDataError(ValueError):
    """A holiday file is invalid or cannot be found; the message names the key path."""


@dataclass(frozen=True)
class HolidayYear:
    year: int
    status: str  # complete | provisional
    holidays: Mapping[date, str] = field(default_factory=dict)  # closed days, with their name
    workdays: Mapping[date, str] = field(default_factory=dict)  # make-up workdays (调休上班)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "source": self.source,
            "holidays": {d.isoformat(): name for d, name in sorted(self.holidays.items())},
            "workdays": {d.isoformat(): name for d, name in sorted(self.workdays.items())},
        }


@dataclass(frozen=True)
class HolidaySet:
    """Holidays and make-up workdays of one region, per year; look-ups are dict reads."""

    name: str
    years: Mapping[int, HolidayYear]
    description: str = ""
    _kinds: dict[date, DayKind] = field(init=False, repr=False, compare=False)
    _fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kinds: dict[date, DayKind] = {}
        for entry in self.years.values():
            kinds.update(dict.fromkeys(entry.holidays, HOLIDAY))
            kinds.update(dict.fromkeys(entry.workdays, WORKDAY))
        object.__setattr__(self, "_kinds", kinds)
        # Only what the arithmetic and the warnings read: not names, sources or descriptions,
        # so re-seeding from a newer chinese-calendar with the same days pins nothing anew.
        days = {year: [entry.status, sorted(d.isoformat() for d in entry.holidays),
                       sorted(d.isoformat() for d in entry.workdays)]
                for year, entry in self.years.items()}
        canonical = json.dumps(days, sort_keys=True)
        object.__setattr__(self, "_fingerprint", hashlib.sha256(canonical.encode()).hexdigest())

    @property
    def fingerprint(self) -> str:
        """sha256 of the days and year statuses: changes whenever a day or a status does."""
        return self._fingerprint

    def status(self, year: int) -> YearStatus:
        entry = self.years.get(year)
        return MISSING if entry is None else entry.status  # type: ignore[return-value]

    def kind_of(self, day: date) -> DayKind | None:
        """``holiday``, ``workday`` (make-up) or None (an ordinary day) — for a listed year."""
        return self._kinds.get(day)

    def name_of(self, day: date) -> str | None:
        entry = self.years.get(day.year)
        if entry is None:
            return None
        return entry.holidays.get(day) or entry.workdays.get(day)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "years": {str(year): self.years[year].to_dict() for year in sorted(self.years)},
        }

    def with_years(self, years: Mapping[int, HolidayYear]) -> HolidaySet:
        """A copy in which ``years`` replace (or add) whole years."""
        return HolidaySet(self.name, MappingProxyType({**self.years, **years}), self.description)


# --- reading -------------------------------------------------------------------------------


def builtin_names() -> list[str]:
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.yaml"))


def holiday_file(ref: str, base_dir: Path | None = None) -> Path:
    """The file a reference names: a packaged set by name (``cn``), else a path (relative to
    ``base_dir``, the policy file's folder)."""
    if ref in builtin_names():
        return BUILTIN_DIR / f"{ref}.yaml"
    path = Path(ref)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise HolidayDataError(
            f"no holiday set {ref!r}: neither a packaged set ({', '.join(builtin_names())}) "
            f"nor a file ({path})"
        )
    return path


def load_holiday_set(ref: str, base_dir: Path | None = None) -> HolidaySet:
    """Read a holiday set by name or path, following ``extends``; errors name file and key."""
    if ref in builtin_names():
        return _builtin(ref)
    return _load(holiday_file(ref, base_dir), ()).holidays


@dataclass(frozen=True)
class HolidayFile:
    """A holiday file as written: for tools that rewrite one (`complaintflow calendar`)."""

    holidays: HolidaySet  # what the file gives: its own years over those of the set it extends
    extends: str | None
    own_years: frozenset[int]  # the years written in the file itself

    def own(self) -> HolidaySet:
        """Only the file's own years: what to write back, so that a file extending a packaged
        set does not freeze a copy of it."""
        years = {year: self.holidays.years[year] for year in sorted(self.own_years)}
        return HolidaySet(self.holidays.name, MappingProxyType(years), self.holidays.description)


def read_holiday_file(path: Path) -> HolidayFile:
    """Read one holiday file (validated, ``extends`` followed) and tell its own years apart."""
    return _load(path, ())


@cache
def _builtin(name: str) -> HolidaySet:
    # Packaged files do not change while the process runs, and parsing one takes ~0.1 s.
    return _load(BUILTIN_DIR / f"{name}.yaml", ()).holidays


def _load(path: Path, seen: tuple[Path, ...]) -> HolidayFile:
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise HolidayDataError(f"{path}: 'extends' goes round in a circle: {chain}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise HolidayDataError(f"{path}: cannot read holiday file: {exc}") from None
    try:
        base, extends = None, None
        if isinstance(raw, Mapping) and raw.get("extends") is not None:
            extends = str(raw["extends"])
            base = _load(holiday_file(extends, path.parent), (*seen, resolved)).holidays
        holidays = holiday_set_from_mapping(raw, base)
        own_years = frozenset(_year(key) for key in raw.get("years") or {})
        return HolidayFile(holidays, extends, own_years)
    except HolidayDataError as exc:
        message = str(exc)
        raise HolidayDataError(message if message.startswith(str(path)) else f"{path}: {message}"
                               ) from None


def holiday_set_from_mapping(raw: Any, base: HolidaySet | None = None) -> HolidaySet:
    """Validate a holiday set given as plain dicts; ``base`` is the set it extends."""
    if not isinstance(raw, Mapping):
        raise HolidayDataError(f"expected a mapping with 'name' and 'years', got {raw!r}")
    unknown = [key for key in raw if key not in _SET_KEYS]
    if unknown:
        raise HolidayDataError(f"{unknown[0]}: unknown key; expected one of {', '.join(_SET_KEYS)}")
    name = raw.get("name") or (base.name if base else None)
    if not isinstance(name, str) or not name:
        raise HolidayDataError("name: expected the set's name, e.g. 'cn'")
    years_raw = raw.get("years") or {}
    if not isinstance(years_raw, Mapping):
        raise HolidayDataError(f"years: expected a mapping of year -> days, got {years_raw!r}")
    years = {}
    for key, spec in years_raw.items():
        year = _year(key)
        years[year] = _holiday_year(year, spec, f"years.{key}")
    description = str(raw.get("description") or (base.description if base else ""))
    merged = {**(base.years if base else {}), **years}
    return HolidaySet(name, MappingProxyType(dict(sorted(merged.items()))), description)


def _year(key: Any) -> int:
    if isinstance(key, bool) or not isinstance(key, int | str) or not str(key).isdigit():
        raise HolidayDataError(f"years.{key}: expected a year like 2027")
    return int(key)


def _holiday_year(year: int, spec: Any, path: str) -> HolidayYear:
    if not isinstance(spec, Mapping):
        raise HolidayDataError(f"{path}: expected a mapping with status, holidays, workdays")
    unknown = [key for key in spec if key not in _YEAR_KEYS]
    if unknown:
        raise HolidayDataError(
            f"{path}.{unknown[0]}: unknown key; expected one of {', '.join(_YEAR_KEYS)}"
        )
    status = spec.get("status")
    if status not in YEAR_STATUSES:
        raise HolidayDataError(
            f"{path}.status: expected {' or '.join(YEAR_STATUSES)}, got {status!r}"
        )
    holidays = _days(year, spec.get("holidays"), f"{path}.holidays")
    workdays = _days(year, spec.get("workdays"), f"{path}.workdays")
    both = sorted(holidays.keys() & workdays.keys())
    if both:
        raise HolidayDataError(f"{path}: {both[0].isoformat()} is both a holiday and a workday")
    return HolidayYear(year, status, MappingProxyType(holidays), MappingProxyType(workdays),
                       str(spec.get("source") or ""))


def _days(year: int, raw: Any, path: str) -> dict[date, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise HolidayDataError(f"{path}: expected a mapping of date -> name, got {raw!r}")
    days = {}
    for key, name in raw.items():
        day = _date(key, f"{path}.{key}")
        if day.year != year:
            raise HolidayDataError(f"{path}.{key}: the date is not in {year}")
        days[day] = "" if name is None else str(name)
    return dict(sorted(days.items()))


def _date(raw: Any, path: str) -> date:
    if isinstance(raw, datetime):
        raise HolidayDataError(f"{path}: expected a date like 2027-01-01, got a date and time")
    if isinstance(raw, date):  # YAML reads an unquoted 2027-01-01 as a date already
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise HolidayDataError(f"{path}: expected a date like 2027-01-01, got {raw!r}") from None


# --- writing -------------------------------------------------------------------------------


def dump_holiday_set(holidays: HolidaySet, extends: str | None = None) -> str:
    """YAML text of a set (``extends`` written first when given): what the loader reads back."""
    doc: dict[str, Any] = {}
    if extends:
        doc["extends"] = extends
    doc.update(holidays.to_dict())
    # to_dict keys years as text (JSON's way); a file reads better with `2027:` than `'2027':`.
    doc["years"] = {int(year): entry for year, entry in doc["years"].items()}
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
