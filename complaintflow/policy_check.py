"""`complaintflow policy check FILE`: every problem of a policy file, or, for a valid one, a
summary in Chinese (for the customer-service teams who run it) of what it would change.

`policy_check_report` is pure and returns lines, so later sections (e.g. the running clocks,
read from ClickHouse) can be appended; `run_policy_check` does the reading.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from itertools import groupby, product
from pathlib import Path

from complaintflow.config import ENV_VARIABLES
from schemas.vocabulary import PRIORITIES, SLA_METRICS, TIERS
from streams.sla.calendar import WEEKDAY_NAMES, BusinessCalendar
from streams.sla.holidays import COMPLETE, PROVISIONAL
from streams.sla.policy import (
    DEFAULT_POLICY_PATH,
    PolicyError,
    SlaPolicy,
    Target,
    UnknownCalendar,
    check_policy_file,
)

EXIT_INVALID = 1
EXIT_CANNOT_COMPARE = 2  # the policy to compare against is itself invalid
EXIT_UNSERVABLE = 3  # running clocks need calendars the new policy cannot provide
EXIT_UNKNOWN_CLOCKS = 4  # a system is configured but its running clocks could not be read

METRIC_NAMES = {"first_response": "首次响应", "next_response": "再次响应", "resolution": "解决"}
PRIORITY_NAMES = {"urgent": "紧急", "high": "高", "normal": "中", "low": "低"}
TIER_NAMES = {"vip": "VIP", "regular": "普通客户", "new": "新客户"}
WEEKDAY_LABELS = dict(zip(WEEKDAY_NAMES, "一二三四五六日", strict=True))
# What differs between two calendars of the same name, by `BusinessCalendar.to_spec` key.
SPEC_NAMES = {
    "timezone": "时区",
    "weekly_hours": "每周营业时间",
    "makeup_workday_hours": "调休上班日时间",
    "closed_dates": "休息日期",
    "open_dates": "特别营业日期",
    "holiday_data_missing": "缺少节假日数据时的处理",
    "holidays": "节假日数据",
}
PINNING = (
    "生效方式：已在计时的时钟保持原目标，继续使用启动时锁定的日历（含当时的节假日数据）；"
    "新开始的时钟和重新规划（重新分级）的时钟使用新策略的目标和日历。"
)


def run_policy_check(path: Path, against: Path | None) -> int:
    """Print the report for ``path``; compare with ``against``, else with the policy the
    system runs now (``CF_SLA_POLICY``, else the packaged default)."""
    new, errors = check_policy_file(path)
    current = None
    label = ""
    if new is not None:
        current_path, label = _current_policy(against)
        current, current_errors = check_policy_file(current_path)
        if current is None:
            print(f"无法对比：{label} 本身无效：")
            print("\n".join(_error_line(error) for error in current_errors))
            return EXIT_CANNOT_COMPARE
    report = policy_check_report(new, current, errors, year=date.today().year, against=label)
    status = EXIT_INVALID
    if new is not None:
        lines, status = _running_clocks_section(new)
        report += ["", *lines]
    print("\n".join(report))
    return status


def _running_clocks_section(new: SlaPolicy) -> tuple[list[str], int]:
    """The running clocks of the system the settings point at, and the exit status: 0, or
    EXIT_UNSERVABLE / EXIT_UNKNOWN_CLOCKS for a deploy gate. With no system configured there
    is nothing to check against (0)."""
    from complaintflow.config import ConfigError, load_settings
    from complaintflow.services import clickhouse_client
    from projections.report import run_query
    from streams.sla.registry import read_pinned_calendars

    try:
        settings = load_settings()
        rows = run_query(clickhouse_client(settings), "operations/running_clocks_by_calendar")
        pinned = read_pinned_calendars(settings.kafka_bootstrap)
    except ConfigError as exc:
        return [f"进行中的时钟：未配置运行中的系统，跳过（{exc}）"], 0
    except Exception as exc:  # any failure to reach the system is reported alike
        return [f"进行中的时钟：无法读取（{type(exc).__name__}: {exc}）"], EXIT_UNKNOWN_CLOCKS
    lines, unservable = running_clock_lines(new.with_pinned(pinned), rows)
    return lines, EXIT_UNSERVABLE if unservable else 0


def running_clock_lines(new: SlaPolicy, rows: Sequence[dict]) -> tuple[list[str], int]:
    """What the new policy (with the calendars pinned so far) does to running clocks, by the
    calendar each is pinned to, and how many it cannot serve (they would stop the worker
    from starting)."""
    if not rows:
        return ["进行中的时钟：没有。"], 0
    lines = ["进行中的时钟（按锁定的日历）："]
    unservable = 0
    for row in rows:
        name, fingerprint, clocks = row["calendar"], row["calendar_fingerprint"] or None, \
            int(row["clocks"])
        label = f"{name}（{fingerprint[:12]}）" if fingerprint else f"{name}（未锁定）"
        try:
            new.pinned_calendar(name, fingerprint)
        except UnknownCalendar:
            unservable += clocks
            lines.append(f"  {label}：{clocks} 个时钟，新策略无法提供这个日历")
            continue
        how = "继续按锁定的日历计算" if fingerprint else "按新策略中同名日历计算"
        lines.append(f"  {label}：{clocks} 个时钟，{how}")
    if unservable:
        lines.append(f"警告：{unservable} 个进行中的时钟无法计算，"
                     "worker 将拒绝以此策略启动。"
                     "请保留这些日历（未锁定的时钟需同名日历），或先让这些时钟结束。")
    return lines, unservable


def _current_policy(against: Path | None) -> tuple[Path, str]:
    if against is not None:
        return against, f"策略文件 {against}"
    configured = os.environ.get(ENV_VARIABLES["sla_policy"])
    if configured:
        return Path(configured), f"当前运行的策略（{ENV_VARIABLES['sla_policy']}={configured}）"
    return DEFAULT_POLICY_PATH, "当前运行的策略（内置默认策略）"


def policy_check_report(
    new: SlaPolicy | None,
    current: SlaPolicy | None,
    errors: Sequence[PolicyError],
    *,
    year: int,
    against: str = "当前运行的策略",
) -> list[str]:
    """Lines to print: every error (key path first) when there are any; else the policy's
    version, calendars (holiday data for ``year`` and the next) and its changes against
    ``current``."""
    if new is None:
        return [_error_line(error) for error in errors] + [f"策略无效：共 {len(errors)} 个错误。"]
    lines = [f"策略有效：版本 {new.version}", "日历："]
    lines += [f"  {line}" for name, cal in new.calendars.items()
              for line in _calendar_lines(name, cal, year)]
    if current is not None:
        lines += ["", f"对比：{against}，版本 {current.version}"]
        changes = _changes(new, current)
        if changes:
            lines += [*(f"  {change}" for change in changes), PINNING]
        else:
            lines.append("  没有变化。")
    return lines


def _error_line(error: PolicyError) -> str:
    # One file is checked at a time: the key path leads, not the file name.
    return f"{error.key_path}: {error.problem}" if error.key_path else error.problem


# --- calendars -----------------------------------------------------------------------------


def _calendar_lines(name: str, cal: BusinessCalendar, year: int) -> list[str]:
    if cal.is_always_open:
        return [f"{name}：全天候开放（自然时间）"]
    lines = [f"{name}：工作时间，{cal.timezone.key}，{_weekly(cal)}"]
    if cal.holidays is None:
        return [*lines, "  节假日：不使用节假日数据"]
    lines.append(f"  节假日：{cal.holidays.name}")
    lines += [f"    {y} 年：{_year_status(cal, y)}" for y in (year, year + 1)]
    return lines


def _weekly(cal: BusinessCalendar) -> str:
    days = zip(WEEKDAY_NAMES, cal.weekly_hours, strict=True)
    groups = []
    for hours, run in groupby(days, key=lambda day: day[1]):
        names = [WEEKDAY_LABELS[name] for name, _ in run]
        span = f"周{names[0]}" if len(names) == 1 else f"周{names[0]}至周{names[-1]}"
        groups.append(f"{span} {'、'.join(str(iv) for iv in hours) or '休息'}")
    return "；".join(groups)


def _year_status(cal: BusinessCalendar, year: int) -> str:
    status = cal.year_status(year)
    if status == COMPLETE:
        return "完整（含调休）"
    if status == PROVISIONAL:
        return "暂定（仅法定节假日，调休安排尚未公布）"
    if cal.holiday_data_missing == "weekly_hours":
        return "没有数据，按每周营业时间计"
    return "没有数据，计算到该年的截止时间会失败"


# --- changes -------------------------------------------------------------------------------


def _changes(new: SlaPolicy, current: SlaPolicy) -> list[str]:
    lines = _calendar_changes(new, current) + _target_changes(new, current)
    if new.warning_thresholds != current.warning_thresholds:
        lines.append(
            f"预警阈值：{_fractions(current.warning_thresholds)} → "
            f"{_fractions(new.warning_thresholds)}"
        )
    if new.pause_on != current.pause_on:
        lines.append(f"暂停计时的状态：{_statuses(current.pause_on)} → {_statuses(new.pause_on)}")
    return lines


def _calendar_changes(new: SlaPolicy, current: SlaPolicy) -> list[str]:
    lines = []
    for name in [*current.calendars, *(n for n in new.calendars if n not in current.calendars)]:
        before, after = current.calendars.get(name), new.calendars.get(name)
        if before is None:
            lines.append(f"日历 {name}：新增")
        elif after is None:
            lines.append(f"日历 {name}：移除")
        elif before.fingerprint != after.fingerprint:
            old, now = before.to_spec(), after.to_spec()
            differs = "、".join(label for key, label in SPEC_NAMES.items() if old[key] != now[key])
            lines.append(f"日历 {name}：变更（{differs}）")
    return lines


def _target_changes(new: SlaPolicy, current: SlaPolicy) -> list[str]:
    # Every policy has a target for every combination: targets change, never come or go.
    lines = []
    for metric, priority, tier in product(SLA_METRICS, PRIORITIES, TIERS):
        before = current.targets[(metric, priority, tier)]
        after = new.targets[(metric, priority, tier)]
        if (before.seconds, before.calendar_name) != (after.seconds, after.calendar_name):
            where = f"{METRIC_NAMES[metric]} / {PRIORITY_NAMES[priority]} / {TIER_NAMES[tier]}"
            lines.append(f"目标 {where}：{_target(before)} → {_target(after)}")
    return lines


def _target(target: Target) -> str:
    kind = "自然时间" if target.calendar.is_always_open else "工作时间"
    return f"{_duration(target.seconds)}（{kind}，{target.calendar_name}）"


def _duration(seconds: int) -> str:
    # Hours, not days: "2d" on a business calendar is 48 business hours, not two working days.
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "小时"), (minutes, "分钟"), (secs, "秒")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n)


def _fractions(values: tuple[float, ...]) -> str:
    return "、".join(f"{v * 100:g}%" for v in values) or "不预警"


def _statuses(statuses: frozenset[str]) -> str:
    return "、".join(sorted(statuses)) or "不暂停"
