"""The benchmark runs end to end at --size tiny and writes a complete result file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.run import KEYS, main

pytestmark = pytest.mark.integration

REQUIRED_PACKAGES = ("faust-streaming", "kafka-python", "fastavro", "clickhouse-driver")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and \
        math.isfinite(value)


@pytest.mark.timeout(240)
def test_tiny_run_writes_every_measurement_and_the_machine(tmp_path: Path) -> None:
    exit_code = main(["--size", "tiny", "--results-dir", str(tmp_path)])

    [result_file] = tmp_path.glob("*.json")
    result = json.loads(result_file.read_text())
    measurements = result["measurements"]
    assert sorted(measurements) == sorted(KEYS)
    for key, measurement in measurements.items():
        assert measurement["error"] is None, f"{key}: {measurement['error']}"
        assert measurement["metrics"], f"{key} has no metrics"
        for name, metric in measurement["metrics"].items():
            assert _is_number(metric["value"]), f"{key} {name}: {metric}"
    assert "live_error" not in measurements["P3"]["details"]
    assert exit_code == 0

    machine = result["machine"]
    assert machine["cpu_count"] >= 1 and machine["cpu_model"] and machine["memory_mb"] > 0
    assert machine["python"] and machine["clickhouse_server"] and machine["tansu"]
    assert all(machine["packages"][name] for name in REQUIRED_PACKAGES)
