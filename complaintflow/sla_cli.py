"""`complaintflow sla recompute`: SLA outcomes as contracted beside a new policy's, in Chinese."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from projections.migrate import Executor
from projections.report import load_query, run_query
from schemas.event import Event
from streams.sla.policy import SlaPolicy
from streams.sla.recompute import (
    VERDICT_BREACHED,
    VERDICT_MET,
    VERDICT_OPEN,
    ClockKey,
    Comparison,
    compare,
    contracted_verdict,
    replay_verdicts,
)

REPORT_ZONE = ZoneInfo("Asia/Shanghai")
METRIC_NAMES = {"first_response": "首次响应", "next_response": "再次响应",
                "resolution": "解决"}
VERDICT_NAMES = {VERDICT_MET: "达标", VERDICT_BREACHED: "违约", VERDICT_OPEN: "进行中"}


CONTRACTED_QUERY = "operations/sla_contracted_verdicts"


def archived_events(client: Executor) -> Iterator[tuple[str, Iterable[Event]]]:
    """The archive's input events, ticket by ticket, in log order. Each ticket's events are
    decoded as they are read, so a row that cannot be decoded fails only its ticket."""
    rows = client.execute_iter(load_query("operations/archive_in_log_order"))
    for ticket_id, ticket_rows in groupby(rows, key=lambda row: row[0]):
        yield ticket_id, (
            Event(event_id=event_id, event_type=event_type, ticket_id=ticket,
                  occurred_at=occurred_at, schema_version=version, source=source,
                  data=json.loads(payload))
            for ticket, event_id, event_type, occurred_at, version, source, payload
            in ticket_rows)


def contracted_verdicts(client: Executor, as_of_ms: int) -> dict[ClockKey, str]:
    """Every clock's verdict as the engine announced it (sla_events), judged at ``as_of_ms``."""
    return {(row["ticket_id"], row["metric"], int(row["cycle"])):
            contracted_verdict(row, as_of_ms)
            for row in run_query(client, CONTRACTED_QUERY)}


def recompute(client: Executor, policy: SlaPolicy, as_of_ms: int) -> Comparison:
    contracted = contracted_verdicts(client, as_of_ms)
    recomputed, failed = replay_verdicts(archived_events(client), policy, as_of_ms)
    return compare(contracted, recomputed, failed)


def format_comparison(result: Comparison, policy: SlaPolicy, as_of_ms: int,
                      limit: int) -> str:
    as_of = datetime.fromtimestamp(as_of_ms / 1000, REPORT_ZONE).strftime("%Y-%m-%d %H:%M")
    lines = [f"SLA 重算：按合同（每个时钟锁定的政策与日历） 对比 按新政策 {policy.version}"
             "（假设一直生效）",
             f"截至 {as_of}（Asia/Shanghai）；尚未停止的时钟，若此时已过截止时间或已宣告的违约"
             "仍成立，两侧都计为违约", ""]
    header = ("指标", "按合同 达标/违约/进行中", "按新政策 达标/违约/进行中", "达标率 合同 → 新")
    rows = [header]
    for metric in sorted({*result.contracted, *result.recomputed}):
        before = result.contracted.get(metric, {})
        after = result.recomputed.get(metric, {})
        rows.append((METRIC_NAMES.get(metric, metric), _counts(before), _counts(after),
                     f"{_rate(before)} → {_rate(after)}"))
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths,
                                                                             strict=True))
              for row in rows]
    lines += ["", f"结论会改变的时钟：{len(result.changed)} 个"
              + (f"（列出前 {limit} 个）" if len(result.changed) > limit else "")]
    lines += [f"  工单 {ticket}  {METRIC_NAMES.get(metric, metric)} 第 {cycle} 轮  "
              f"{VERDICT_NAMES[before]} → {VERDICT_NAMES[after]}"
              for (ticket, metric, cycle), before, after in result.changed[:limit]]
    failed = f"无法重算的工单：{len(result.failed)} 张"
    if result.failed:
        failed += "（其时钟两侧都不计入上表" + (
            f"；列出前 {limit} 张）" if len(result.failed) > limit else "）")
    lines += ["", failed]
    lines += [f"  工单 {failure.ticket_id}  原因：{failure.reason}"
              for failure in result.failed[:limit]]
    lines.append("按合同的结果不会被改写：新政策只作用于新开始的时钟和重新分级的时钟。")
    return "\n".join(lines) + "\n"


def _counts(counts: Any) -> str:
    return "/".join(str(counts.get(v, 0)) for v in (VERDICT_MET, VERDICT_BREACHED, VERDICT_OPEN))


def _rate(counts: Any) -> str:
    decided = counts.get(VERDICT_MET, 0) + counts.get(VERDICT_BREACHED, 0)
    return "-" if not decided else f"{counts.get(VERDICT_MET, 0) / decided:.1%}"


def _local_ms(text: str) -> int:
    """An ISO time; without a zone it is Asia/Shanghai local time."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=REPORT_ZONE)
    return int(moment.timestamp() * 1000)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def run_recompute(client: Executor, policy_path: Path, as_of: str | None, limit: int,
                  as_json: bool) -> str:
    from streams.sla.policy import load_policy

    policy = load_policy(policy_path)
    as_of_ms = int(time.time() * 1000) if as_of is None else _local_ms(as_of)
    result = recompute(client, policy, as_of_ms)
    if as_json:
        return json.dumps({"policy_version": policy.version, "as_of_ms": as_of_ms,
                           **result.as_dict()}, ensure_ascii=False, indent=2) + "\n"
    return format_comparison(result, policy, as_of_ms, limit)
