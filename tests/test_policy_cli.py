"""`complaintflow policy check`: every error of a broken file, or what a valid one changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from complaintflow.cli import main
from complaintflow.policy_check import PINNING, policy_check_report, running_clock_lines
from streams.sla.policy import DEFAULT_POLICY_PATH, load_default_policy, parse_policy

DEFAULT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def edited(*replacements: tuple[str, str]) -> str:
    """The default policy with each (old, new) replaced; every old text must occur once."""
    text = DEFAULT
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture(autouse=True)
def running_default_policy(monkeypatch):
    monkeypatch.delenv("CF_SLA_POLICY", raising=False)


def check(path: Path, *options: str) -> int:
    return main(["policy", "check", str(path), *options])


def test_a_broken_file_prints_every_error_and_exits_1(tmp_path: Path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text(
        edited(
            ('version: "2026-11-1"', "version: 2026-11-01"),
            ("    holidays: cn ", "    holidays: ./missing.yaml "),
            ("urgent: {target: 2m, calendar: 24x7}", "urgent: {target: soon, calendar: 24x7}"),
        )
    )
    assert check(path) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[0] for line in lines[:3]] == [
        "version",
        "calendars.cn_business.holidays",
        "targets.first_response.urgent.target",
    ]
    assert "missing.yaml" in lines[1] and "'soon'" in lines[2]
    assert lines[3:] == ["策略无效：共 3 个错误。"]


def test_a_valid_changed_policy_lists_its_changes_and_exits_0(tmp_path: Path, capsys):
    path = tmp_path / "new.yaml"
    path.write_text(
        edited(
            ('version: "2026-11-1"', 'version: "2026-12-1"'),
            (
                "default: {target: 30m, calendar: cn_business}  # KPI",
                "default: {target: 20m, calendar: cn_business}  # KPI",
            ),
            ("  24x7:\n    type: always_open\n", "  24x7:\n    type: always_open\n  night:\n"
             "    type: business\n    hours: {mon: ['00:00-09:00']}\n"),
        )
    )
    assert check(path) == 0
    out = capsys.readouterr().out
    assert "策略有效：版本 2026-12-1" in out
    assert "对比：当前运行的策略（内置默认策略），版本 2026-11-1" in out
    assert "日历 night：新增" in out
    changed = [line.strip() for line in out.splitlines() if line.strip().startswith("目标 ")]
    assert changed == [
        f"目标 首次响应 / 中 / {tier}：30 分钟（工作时间，cn_business） → "
        "20 分钟（工作时间，cn_business）"
        for tier in ("普通客户", "新客户")
    ]
    assert PINNING in out.splitlines()  # running clocks keep their pinned calendar


def test_compares_with_the_running_policy_or_another_file(tmp_path: Path, capsys, monkeypatch):
    running = tmp_path / "running.yaml"
    running.write_text(edited(("urgent: {target: 2m, calendar: 24x7}",
                               "urgent: {target: 5m, calendar: 24x7}")))
    monkeypatch.setenv("CF_SLA_POLICY", str(running))
    assert check(DEFAULT_POLICY_PATH) == 0
    out = capsys.readouterr().out
    assert f"CF_SLA_POLICY={running}" in out
    assert "目标 首次响应 / 紧急 / VIP：5 分钟（自然时间，24x7） → 2 分钟（自然时间，24x7）" in out
    assert check(DEFAULT_POLICY_PATH, "--against", str(DEFAULT_POLICY_PATH)) == 0
    assert "没有变化。" in capsys.readouterr().out
    running.write_text("version: [")
    assert check(DEFAULT_POLICY_PATH) == 2
    assert "本身无效" in capsys.readouterr().out


def test_calendar_summary_shows_holiday_years():
    new = load_default_policy()
    lines = policy_check_report(new, None, [], year=2028)
    assert "  cn_business：工作时间，Asia/Shanghai，周一至周五 09:00-12:00、13:30-18:00；" \
           "周六至周日 休息" in lines
    assert "      2028 年：暂定（仅法定节假日，调休安排尚未公布）" in lines
    assert "      2029 年：没有数据，按每周营业时间计" in lines
    assert "  24x7：全天候开放（自然时间）" in lines
    strict = parse_policy(DEFAULT.replace("holiday_data_missing: weekly_hours", ""))
    assert "      2029 年：没有数据，计算到该年的截止时间会失败" in policy_check_report(
        strict, None, [], year=2028
    )


def test_running_clocks_are_listed_by_pinned_calendar_and_unservable_ones_flagged():
    current = load_default_policy()
    renamed = parse_policy(DEFAULT.replace("cn_business", "office").replace("13:30-18:00",
                                                                             "14:00-18:00"))
    cn = current.calendars["cn_business"].fingerprint
    rows = [{"calendar": "24x7", "calendar_fingerprint": "", "clocks": 3},
            {"calendar": "cn_business", "calendar_fingerprint": cn, "clocks": 5},
            {"calendar": "cn_business", "calendar_fingerprint": "", "clocks": 2}]
    served, unservable = running_clock_lines(renamed.with_pinned(current.pinned), rows)
    assert unservable == 2
    assert served[1:] == [
        "  24x7（未锁定）：3 个时钟，按新策略中同名日历计算",
        f"  cn_business（{cn[:12]}）：5 个时钟，继续按锁定的日历计算",
        "  cn_business（未锁定）：2 个时钟，新策略无法提供这个日历",
        "警告：2 个进行中的时钟无法计算，worker 将拒绝以此策略启动。"
        "请保留这些日历（未锁定的时钟需同名日历），或先让这些时钟结束。",
    ]
    lost, unservable = running_clock_lines(renamed, rows[1:2])
    assert lost[1].endswith("新策略无法提供这个日历") and lost[2].startswith("警告：5 个")
    assert unservable == 5
    assert running_clock_lines(renamed, []) == (["进行中的时钟：没有。"], 0)
