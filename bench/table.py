"""Measurements, their goals, the printed table and the JSON result file."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Goal:
    """A target printed beside a number; never an assertion."""

    at_least: float | None = None
    at_most: float | None = None

    def met(self, value: float | None) -> bool | None:
        if value is None or math.isnan(value):
            return None
        if self.at_least is not None:
            return value >= self.at_least
        if self.at_most is not None:
            return value <= self.at_most
        return None

    def __str__(self) -> str:
        if self.at_least is not None:
            return f">= {self.at_least:g}"
        return f"<= {self.at_most:g}" if self.at_most is not None else ""


@dataclass(frozen=True)
class Metric:
    name: str
    value: float | None
    unit: str
    goal: Goal | None = None

    def as_dict(self) -> dict[str, Any]:
        value = None if self.value is None or math.isnan(self.value) else self.value
        return {"value": value, "unit": self.unit, "goal": str(self.goal) if self.goal else None,
                "met": self.goal.met(self.value) if self.goal else None}


@dataclass
class Measurement:
    key: str  # P1 … P6
    title: str
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # method, raw figures, CPU shares
    error: str | None = None  # set when the measurement could not finish

    def add(self, name: str, value: float | None, unit: str, goal: Goal | None = None) -> None:
        self.metrics.append(Metric(name, value, unit, goal))

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "metrics": {m.name: m.as_dict() for m in self.metrics},
                "details": self.details, "error": self.error}


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def format_table(measurements: list[Measurement]) -> str:
    rows = [("", "measurement", "value", "unit", "goal", "")]
    for measurement in measurements:
        if measurement.error:
            rows.append((measurement.key, measurement.title, "FAILED", "", "", "see below"))
        for metric in measurement.metrics:
            met = metric.goal.met(metric.value) if metric.goal else None
            rows.append((measurement.key, metric.name, _number(metric.value), metric.unit,
                         str(metric.goal or ""), {True: "ok", False: "MISSED"}.get(met, "")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i in (0, 1, 3) else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines += [f"{m.key} failed: {m.error.splitlines()[0]}" for m in measurements if m.error]
    return "\n".join(lines)


def result_path(directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"


def write_result(path: Path, run: dict[str, Any], machine: dict[str, Any],
                 measurements: list[Measurement]) -> Path:
    document = {"run": run, "machine": machine,
                "measurements": {m.key: m.as_dict() for m in measurements}}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
