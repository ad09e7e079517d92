"""`complaintflow calendar check | import-ics | seed`: the holiday data behind SLA calendars.

The output is for the operators of Chinese customer-service teams, so it is in Chinese
(完整 complete, 暂定 provisional, 缺失 missing). Format and workflow: docs/holidays.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from complaintflow.config import ENV_VARIABLES
from streams.sla.calendar import BusinessCalendar
from streams.sla.holidays import (
    BUILTIN_DIR,
    COMPLETE,
    MISSING,
    PROVISIONAL,
    YEAR_STATUSES,
    HolidayDataError,
    HolidaySet,
    HolidayYear,
    dump_holiday_set,
    read_holiday_file,
)
from streams.sla.policy import PolicyError, SlaPolicy, load_default_policy, load_policy

if TYPE_CHECKING:
    from streams.sla.ics import Feed

OPERATORS_ZONE = ZoneInfo("Asia/Shanghai")  # "today" is the operators' date
STATUS_WORDS = {COMPLETE: "完整", PROVISIONAL: "暂定", MISSING: "缺失"}
_PROVISIONAL_MEANING = "只含法定节假日，调休上班日未公布"
_MISSING_MEANING = {
    "weekly_hours": "按每周工作时间计算（holiday_data_missing: weekly_hours）",
    "error": "时钟无法计算截止时间（holiday_data_missing: error）",
}


def add_calendar_command(sub: argparse._SubParsersAction) -> None:
    """The `calendar` command and its actions, under the main parser's subcommands."""
    text = "holiday data of the SLA calendars: check, import an iCalendar feed, seed cn"
    parser = sub.add_parser("calendar", help=text, description=text)
    parser.set_defaults(handler=lambda _args: _usage(parser))  # alone: list the actions
    actions = parser.add_subparsers(dest="action")

    text = "list, per calendar, which years are complete, provisional or missing"
    p = actions.add_parser("check", help=text, description=text + " (exit 1 when this year "
                           "or next is missing for a calendar with holidays)")
    p.set_defaults(handler=_check)
    p.add_argument("--policy", type=Path,
                   help="policy file (default: CF_SLA_POLICY, else the packaged policy)")
    p.add_argument("--years", type=_year_range, metavar="FROM-TO",
                   help="years to list (default: last year to two years ahead)")
    p.add_argument("--today", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="check as of this date (default: today in Asia/Shanghai)")

    text = "import the days of an iCalendar feed into a holiday file"
    p = actions.add_parser("import-ics", help=text, description=text)
    p.set_defaults(handler=_import_ics)
    p.add_argument("feed", type=Path, metavar="FEED.ics")
    p.add_argument("--into", type=Path, required=True, metavar="FILE.yaml",
                   help="holiday file to create or update (whole years are replaced)")
    p.add_argument("--year", type=int, action="append", default=[],
                   help="year to import (repeatable; default: every year the feed lists)")
    p.add_argument("--region", action="append", default=[],
                   help="keep the regional days of this region (repeatable)")
    p.add_argument("--status", choices=YEAR_STATUSES, default=COMPLETE,
                   help="status of the imported years (default: complete)")
    p.add_argument("--workday-marker", action="append", default=[], metavar="TEXT",
                   help="SUMMARY text of a make-up workday (repeatable; default: 补班, 上班)")
    p.add_argument("--extends", help="set the new file extends, e.g. cn (only when creating)")

    text = "regenerate the packaged cn holiday set (streams/sla/holidays/cn.yaml)"
    p = actions.add_parser("seed", help=text, description=text)
    p.set_defaults(handler=_seed)
    p.add_argument("--provisional-years", type=int, nargs="+", metavar="YEAR",
                   help="years to add from the law (default: the two after the last complete)")
    p.add_argument("--output", type=Path, default=BUILTIN_DIR / "cn.yaml")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# --- check -----------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    path = args.policy or os.environ.get(ENV_VARIABLES["sla_policy"])
    try:
        policy = load_policy(path) if path else load_default_policy()
    except (PolicyError, HolidayDataError) as exc:
        print(f"策略无法读取：{exc}", file=sys.stderr)
        return 2
    today = args.today or datetime.now(OPERATORS_ZONE).date()
    print(f"策略：{path or '内置默认策略'}（版本 {policy.version}），检查日期 {today.isoformat()}")
    return check(policy, today, args.years)


def check(policy: SlaPolicy, today: date, years: range | None = None) -> int:
    """Print each calendar's years; 1 when a calendar with holidays misses this year or next."""
    window = years or range(today.year - 1, today.year + 3)
    gaps, provisional = [], set()
    for name, cal in policy.calendars.items():
        print(f"日历 {name}：{_holiday_source(cal)}")
        if cal.holidays is None:
            continue
        for year in window:
            status = cal.year_status(year)
            print(f"  {year}  {_year_line(cal, status, year, today)}")
            if year not in (today.year, today.year + 1):
                continue
            if status == MISSING:
                gaps.append(f"日历 {name} 缺少 {year} 年{_relative(year, today)}的节假日数据")
            elif status == PROVISIONAL:
                provisional.add(year)
    if provisional:
        print(f"提示：{_years(provisional)} 年为暂定；国务院办公厅通知发布后，用 extends: cn 的"
              "节假日文件或 calendar import-ics 补全（docs/holidays.md）")
    if gaps:
        print("需要处理：" + "；".join(gaps) + "（见 docs/holidays.md）")
        return 1
    print("正常：用节假日数据的日历都有今年和明年的数据")
    return 0


def _holiday_source(cal: BusinessCalendar) -> str:
    if cal.is_always_open:
        return "全天候（24×7），不用节假日数据"
    if cal.holidays is None:
        return "不用节假日数据，只按每周工作时间和日期覆盖计算"
    listed = _years(cal.holidays.years) or "没有"
    return (f"节假日数据 {cal.holidays.name}，有数据的年份 {listed}，"
            f"指纹 {cal.holidays.fingerprint[:12]}；"
            f"缺失的年份{_MISSING_MEANING[cal.holiday_data_missing]}")


def _year_line(cal: BusinessCalendar, status: str, year: int, today: date) -> str:
    line = STATUS_WORDS[status] + _relative(year, today)
    if status == PROVISIONAL:
        return f"{line}：{_PROVISIONAL_MEANING}"
    if status == MISSING:
        return f"{line}：{_MISSING_MEANING[cal.holiday_data_missing]}"
    return line


def _relative(year: int, today: date) -> str:
    return {today.year: "（今年）", today.year + 1: "（明年）"}.get(year, "")


def _year_range(text: str) -> range:
    first, _, last = text.partition("-")
    try:
        years = range(int(first), int(last or first) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FROM-TO like 2025-2028, got {text!r}"
                                         ) from None
    if not years:
        raise argparse.ArgumentTypeError(f"FROM must not be after TO, got {text!r}")
    return years


# --- import-ics ------------------------------------------------------------------------------


def _import_ics(args: argparse.Namespace) -> int:
    from streams.sla.ics import DEFAULT_WORKDAY_MARKERS, IcsError, parse_feed

    try:
        feed = parse_feed(args.feed.read_bytes(), years=args.year, regions=args.region,
                          workday_markers=args.workday_marker or DEFAULT_WORKDAY_MARKERS)
    except (OSError, IcsError) as exc:
        print(f"无法读取订阅源 {args.feed}：{exc}", file=sys.stderr)
        return 2
    for skipped in feed.skipped:
        print(skipped, file=sys.stderr)
    empty = [str(year) for year, days in feed.years.items()
             if not days.holidays and not days.workdays]
    if not feed.years or empty:
        what = f" {'、'.join(empty)} 年的" if empty else "任何"
        print(f"订阅源没有{what}日子：未写入 {args.into}", file=sys.stderr)
        return 1
    source = f"iCalendar {args.feed.name}" + (f"（{feed.name}）" if feed.name else "")
    try:
        own, extends = _merged_holidays(args.into, feed, args.status, source, args.extends)
        written = _write_holiday_file(args.into, own, extends)
    except (OSError, HolidayDataError) as exc:
        print(f"未写入：{exc}", file=sys.stderr)
        return 2
    print(f"已写入 {args.into}" + (f"（extends: {extends}）" if extends else ""))
    for year in feed.years:
        entry = written.years[year]
        print(f"  {year}  节假日 {len(entry.holidays)} 天，调休上班 {len(entry.workdays)} 天，"
              f"{STATUS_WORDS[entry.status]}")
    kept = sorted(own.years.keys() - feed.years.keys())
    if kept:
        print(f"  文件中其他年份不变：{_years(kept)}")
    return 0


def _merged_holidays(path: Path, feed: Feed, status: str, source: str, extends: str | None
                    ) -> tuple[HolidaySet, str | None]:
    """The file's own years with the feed's years replacing whole years, and its ``extends``;
    a new file (with ``extends`` if given) when there is none."""
    imported = {year: HolidayYear(year, status, days.holidays, days.workdays, source)
                for year, days in feed.years.items()}
    if not path.exists():
        description = f"导入自 {source}"
        return HolidaySet(path.stem, MappingProxyType(imported), description), extends
    current = read_holiday_file(path)
    if extends and extends != current.extends:
        raise HolidayDataError(f"{path}: extends is {current.extends!r}; --extends only "
                               "applies to a new file (edit the file to change it)")
    return current.own().with_years(imported), current.extends


def _write_holiday_file(path: Path, own: HolidaySet, extends: str | None) -> HolidaySet:
    """Write ``own`` (and ``extends``) to ``path`` only if it reads back as a valid set, which
    it returns (with the set it extends)."""
    draft = path.with_name(f".{path.name}.draft")
    draft.write_text(dump_holiday_set(own, extends), encoding="utf-8")
    try:
        written = read_holiday_file(draft).holidays  # e.g. an `extends` that does not resolve
    except HolidayDataError:
        draft.unlink()
        raise
    draft.replace(path)
    return written


# --- seed ------------------------------------------------------------------------------------


def _seed(args: argparse.Namespace) -> int:
    from streams.sla.holiday_sources import default_provisional_years, packaged_cn_yaml

    years = tuple(args.provisional_years or default_provisional_years())
    try:
        text = packaged_cn_yaml(years)
    except ValueError as exc:  # a provisional year before the law in force
        print(f"无法生成：{exc}", file=sys.stderr)
        return 2
    args.output.write_text(text, encoding="utf-8")
    written = read_holiday_file(args.output).holidays
    by_status = {status: [y for y, e in written.years.items() if e.status == status]
                 for status in YEAR_STATUSES}
    print(f"已写入 {args.output}：完整 {_years(by_status[COMPLETE]) or '无'}，"
          f"暂定 {_years(by_status[PROVISIONAL]) or '无'}")
    return 0


def _years(years: Iterable[int]) -> str:
    """Years as runs: ``2004–2026、2030``."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return "、".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)
