"""The KPI report: the queries in queries/*.sql, assembled into one dict and a text table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from projections.migrate import Executor

QUERIES_DIR = Path(__file__).parent / "queries"
QUANTILES = ("p50", "p90")  # the levels the queries ask quantiles() for, in order


def load_query(name: str) -> str:
    return (QUERIES_DIR / f"{name}.sql").read_text(encoding="utf-8")


def query_names() -> list[str]:
    """The report's queries (the dashboards' and the benchmark's too)."""
    return sorted(path.stem for path in QUERIES_DIR.glob("*.sql"))


def operation_query_names() -> list[str]:
    """Queries of operator commands (`sla recompute`, `policy check`): whole-table reads,
    not report queries, so no benchmark times them."""
    return sorted(f"operations/{path.stem}" for path in (QUERIES_DIR / "operations").glob("*.sql"))


def run_query(client: Executor, name: str) -> list[dict[str, Any]]:
    rows, columns = client.execute(load_query(name), with_column_types=True)
    names = [column[0] for column in columns]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _quantiles(values: list[float | None]) -> dict[str, float | None]:
    # quantiles() over no rows gives NaN (None through JSON): "no data", not a number.
    return {level: None if value is None or math.isnan(value) else float(value)
            for level, value in zip(QUANTILES, values, strict=True)}


def _counts(client: Executor, name: str) -> dict[str, int]:
    return {row["key"]: int(row["tickets"]) for row in run_query(client, name)}


def _sla_counts(row: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, Any] = {key: int(value) for key, value in row.items() if key != "metric"}
    counts["compliance"] = _ratio(counts["met"], counts["met"] + counts["breached"])
    return counts


def reconciliation(client: Executor) -> dict[str, Any]:
    """archived, applied, dead_lettered counts and whether archived == applied + dead_lettered."""
    counts: dict[str, Any] = {key: int(value or 0)  # sum() over no tickets may be NULL
                              for key, value in run_query(client, "reconciliation")[0].items()}
    counts["balanced"] = counts["archived"] == counts["applied"] + counts["dead_lettered"]
    return counts


def kpi_report(client: Executor) -> dict[str, Any]:
    """Every KPI of the report, from the projected tables (reads with FINAL)."""
    kpis = {key: list(value) if isinstance(value, (list, tuple)) else int(value)
            for key, value in run_query(client, "ticket_kpis")[0].items()}
    nps_answered = kpis["nps_answered"]
    return {
        "total_tickets": kpis["tickets"],
        "volume_by_kind": _counts(client, "volume_by_kind"),
        "volume_by_channel": _counts(client, "volume_by_channel"),
        "volume_by_category": _counts(client, "volume_by_category"),
        "open_total": kpis["open"],
        "open_backlog": _counts(client, "backlog_by_status"),
        "resolved_unconfirmed": kpis["resolved_unconfirmed"],
        "oldest_resolved_unconfirmed": run_query(client, "resolved_unconfirmed"),
        "first_response_minutes": _quantiles(kpis["first_response_minutes"]),
        "resolution_minutes": _quantiles(kpis["resolution_minutes"]),
        "resolution_rate": _ratio(kpis["resolved_or_closed"], kpis["tickets"]),
        "closed_loop_rate": _ratio(kpis["closed"], kpis["resolved_or_closed"]),
        "reopen_rate": _ratio(kpis["reopened"], kpis["ever_resolved"]),
        "csat": _ratio(kpis["csat_satisfied"], kpis["csat_answered"]),
        "csat_answered": kpis["csat_answered"],
        "nps": (None if not nps_answered else
                100 * (kpis["nps_promoters"] - kpis["nps_detractors"]) / nps_answered),
        "nps_answered": nps_answered,
        "sla": {row["metric"]: _sla_counts(row) for row in run_query(client, "sla_by_metric")},
        "daily_volume": {str(row["day"]): int(row["received"])
                         for row in run_query(client, "daily_volume")},
        "reconciliation": reconciliation(client),
        "sla_dead_letters": {key: int(value) for key, value
                             in run_query(client, "sla_dead_letters")[0].items()},
        "holiday_data_warnings": run_query(client, "holiday_data_warnings"),
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} min"


def _section(title: str, rows: list[tuple[str, Any]]) -> list[str]:
    width = max((len(label) for label, _ in rows), default=0)
    lines = ["", title, "-" * len(title)]
    lines += [f"{label:<{width}}  {value}" for label, value in rows] or ["(none)"]
    return lines


_HOLIDAY_STATUS = {"provisional": "暂定（只含法定节假日，调休未公布）",
                   "missing": "缺失（按每周工作时间计算）"}


def _sla_health(report: dict[str, Any]) -> list[str]:
    """What may make the SLA numbers incomplete or provisional, said where they are read."""
    letters = report["sla_dead_letters"]
    rows = [("SLA 无法处理的工单变更（死信）",
             f"{letters['letters']} 条，涉及 {letters['tickets']} 张工单"
             + ("：这些工单的 SLA 未计入上表" if letters["letters"] else ""))]
    rows += [(f"节假日数据 {row['calendar']} ({row['holiday_set']}) {row['year']} 年",
              _HOLIDAY_STATUS.get(row["status"], row["status"]))
             for row in report["holiday_data_warnings"]]
    return _section("SLA 数据质量", rows)


def format_report(report: dict[str, Any]) -> str:
    """The report as a plain-text table, for a terminal or a log."""
    recon = report["reconciliation"]
    first, resolution = report["first_response_minutes"], report["resolution_minutes"]
    lines = ["Complaint KPI report", "===================="]
    lines += _section("Volume", [("total tickets", report["total_tickets"]),
                                 *(("kind " + k, n) for k, n in report["volume_by_kind"].items())])
    lines += _section("By channel", list(report["volume_by_channel"].items()))
    lines += _section("By category", list(report["volume_by_category"].items()))
    lines += _section("Open backlog", [("open (not resolved, not closed)", report["open_total"]),
                                       *(("  " + status, n)
                                         for status, n in report["open_backlog"].items()),
                                       ("resolved, awaiting confirmation",
                                        report["resolved_unconfirmed"])])
    lines += _section("Awaiting customer confirmation (oldest first)", [
        (row["ticket_id"], f"{row['team'] or '-'} / {row['agent'] or '-'}, resolved "
                           f"{row['resolved_at']}")
        for row in report["oldest_resolved_unconfirmed"]])
    lines += _section("Timeliness", [
        ("first response p50 / p90", f"{_minutes(first['p50'])} / {_minutes(first['p90'])}"),
        ("resolution p50 / p90",
         f"{_minutes(resolution['p50'])} / {_minutes(resolution['p90'])}"),
    ])
    lines += _section("Outcomes", [
        ("resolution rate", _percent(report["resolution_rate"])),
        ("closed-loop rate", _percent(report["closed_loop_rate"])),
        ("reopen rate", _percent(report["reopen_rate"])),
        (f"CSAT (>= 4 of {report['csat_answered']} answers)", _percent(report["csat"])),
        (f"NPS ({report['nps_answered']} answers)",
         "-" if report["nps"] is None else f"{report['nps']:.1f}"),
    ])
    lines += _section("SLA (latest outcome per clock)", [
        (metric, f"{s['met']} met, {s['breached']} breached, {s['running']} running, "
                 f"compliance {_percent(s['compliance'])}")
        for metric, s in report["sla"].items()])
    lines += _sla_health(report)
    lines += _section("Intake per day (UTC)", list(report["daily_volume"].items()))
    lines += _section("Reconciliation", [
        ("archived input events", recon["archived"]),
        ("applied to tickets", recon["applied"]),
        ("dead-lettered by the ticket processor", recon["dead_lettered"]),
        ("archived == applied + dead-lettered", "yes" if recon["balanced"] else "NO"),
    ])
    return "\n".join(lines) + "\n"
