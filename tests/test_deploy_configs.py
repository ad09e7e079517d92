"""deploy/ configs for Alertmanager and Prometheus: valid for the real tools, rules that fire
when they should, and only metric names the code exports."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from alerting.alertmanager import ALERTMANAGER_PACKAGE, render_config
from complaintflow.stack import install_debian_packages

ROOT = Path(__file__).resolve().parent.parent
ALERTMANAGER_YML = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
PROMETHEUS_YML = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES_YML = ROOT / "deploy" / "prometheus" / "rules.yml"
AMTOOL = Path("/usr/bin/amtool")
PROMTOOL = Path("/usr/bin/promtool")
# The modules that register the metrics the rules use.
METRIC_MODULES = ("streams.intake.api", "streams.pipeline.agent",
                  "projections.projector", "alerting.bridge")


@pytest.fixture(scope="session", autouse=True)
def prometheus_tools() -> None:
    install_debian_packages(AMTOOL, [ALERTMANAGER_PACKAGE])
    install_debian_packages(PROMTOOL, ["prometheus"])


def run_tool(*argv: str | Path) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# ---------------------------------------------------------------- Alertmanager


def test_alertmanager_config_passes_amtool():
    run_tool(AMTOOL, "check-config", ALERTMANAGER_YML)


def test_optional_receivers_pass_amtool_once_uncommented(tmp_path: Path):
    text = ALERTMANAGER_YML.read_text()
    uncommented = uncomment_examples(text)
    assert uncommented != text
    config = tmp_path / "alertmanager.yml"
    config.write_text(uncommented)
    assert "3 receivers" in run_tool(AMTOOL, "check-config", config)
    receivers = {r["name"]: r for r in yaml.safe_load(uncommented)["receivers"]}
    assert receivers["wecom-team-leads"]["wechat_configs"]
    assert receivers["email-supervisors"]["email_configs"]


def uncomment_examples(text: str) -> str:
    """Uncomment the lines between `# BEGIN optional example` and `# END optional example`."""
    lines, inside = [], False
    for line in text.splitlines():
        marker = line.strip()
        if marker in ("# BEGIN optional example", "# END optional example"):
            inside = marker.startswith("# BEGIN")
            continue
        lines.append(line.replace("# ", "", 1) if inside else line)
    return "\n".join(lines) + "\n"


def test_routing_groups_by_alert_and_team_and_breaches_silence_their_at_risk_warning():
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    assert config["route"]["group_by"] == ["alertname", "team"]
    critical = next(route for route in config["route"]["routes"]
                    if route.get("matchers") == ['severity="critical"'])
    assert _seconds(critical["group_wait"]) < _seconds(config["route"]["group_wait"])
    (rule,) = config["inhibit_rules"]
    assert (rule["source_matchers"], rule["target_matchers"]) == \
        (['alertname="SlaBreached"'], ['alertname="SlaAtRisk"'])
    assert {"ticket_id", "metric"} <= set(rule["equal"])


@pytest.mark.parametrize(("labels", "receivers"), [
    (["alertname=SlaBreached", "severity=critical", "team=billing"],
     "wecom-team-leads,email-supervisors,ops-webhook"),
    (["alertname=SlaBreached", "severity=warning"], "email-supervisors,ops-webhook"),
    (["alertname=SlaAtRisk", "severity=info"], "ops-webhook"),
    (["alertname=DeadLetterRateHigh", "severity=warning"], "ops-webhook"),
])
def test_amtool_routes_alerts_to_their_receivers(tmp_path: Path, labels: list[str],
                                                 receivers: str):
    config = tmp_path / "alertmanager.yml"
    config.write_text(uncomment_examples(ALERTMANAGER_YML.read_text()))
    out = run_tool(AMTOOL, "config", "routes", "test", f"--config.file={config}", *labels)
    assert out.strip() == receivers


def test_rendered_test_config_points_every_webhook_at_the_given_url(tmp_path: Path):
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_config("http://127.0.0.1:1234/hook", group_wait="1s"))
    run_tool(AMTOOL, "check-config", config)
    rendered = yaml.safe_load(config.read_text())
    assert {w["url"] for r in rendered["receivers"] for w in r.get("webhook_configs", [])} == \
        {"http://127.0.0.1:1234/hook"}
    assert {r["group_wait"] for r in [rendered["route"], *rendered["route"]["routes"]]} == {"1s"}


def _seconds(duration: str) -> int:
    value, unit = re.fullmatch(r"(\d+)([smh])", duration).groups()
    return int(value) * {"s": 1, "m": 60, "h": 3600}[unit]


# ---------------------------------------------------------------- Prometheus


def test_prometheus_config_and_its_rule_files_pass_promtool():
    run_tool(PROMTOOL, "check", "config", PROMETHEUS_YML)
    run_tool(PROMTOOL, "check", "rules", RULES_YML)


def test_rules_use_only_metrics_the_code_exports():
    for module in METRIC_MODULES:
        importlib.import_module(module)
    exported = exported_metric_names()
    rules = [rule for group in yaml.safe_load(RULES_YML.read_text())["groups"]
             for rule in group["rules"]]
    used = {name for rule in rules
            for name in re.findall(r"\b(?:complaintflow|projector)_[a-z_]+\b", rule["expr"])}
    assert used, "no project metric found in rules.yml"
    assert used <= exported, f"unknown metrics: {sorted(used - exported)}"


def exported_metric_names() -> set[str]:
    """Sample names as Prometheus scrapes them (a counter `x` is scraped as `x_total`)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",), "summary": ("_sum", "_count", "")}
    return {family.name + suffix for family in REGISTRY.collect()
            for suffix in suffixes.get(family.type, ("",))}


RULE_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - name: worker stopped processing while intake kept accepting
    interval: 1m
    input_series:
      - series: complaintflow_intake_accepted_total{{job="complaintflow-api"}}
        values: 0+10x40
      - series: complaintflow_ticket_events_total{{job="complaintflow-worker",outcome="applied"}}
        values: 0+10x10 100x30
    alert_rule_test:
      - {{eval_time: 10m, alertname: TicketEventsStalled, exp_alerts: []}}
      - eval_time: 25m
        alertname: TicketEventsStalled
        exp_alerts:
          - exp_labels: {{severity: critical}}
            exp_annotations:
              summary: intake accepted events for 10 min but no ticket event was processed
  - name: worker gone altogether (its series vanish)
    interval: 1m
    input_series:
      - series: complaintflow_intake_accepted_total{{job="complaintflow-api"}}
        values: 0+10x40
    alert_rule_test:
      - eval_time: 12m
        alertname: TicketEventsStalled
        exp_alerts:
          - exp_labels: {{severity: critical}}
            exp_annotations:
              summary: intake accepted events for 10 min but no ticket event was processed
  - name: a quiet night is not an incident
    interval: 1m
    input_series:
      - series: complaintflow_intake_accepted_total{{job="complaintflow-api"}}
        values: 5x40
      - series: complaintflow_ticket_events_total{{job="complaintflow-worker",outcome="applied"}}
        values: 5x40
    alert_rule_test:
      - {{eval_time: 30m, alertname: TicketEventsStalled, exp_alerts: []}}
  - name: one event in ten dead-lettered for ten minutes
    interval: 1m
    input_series:
      - series: complaintflow_ticket_events_total{{outcome="applied"}}
        values: 0+90x30
      - series: complaintflow_ticket_events_total{{outcome="dead_lettered"}}
        values: 0+10x30
    alert_rule_test:
      - {{eval_time: 10m, alertname: DeadLetterRateHigh, exp_alerts: []}}
      - eval_time: 20m
        alertname: DeadLetterRateHigh
        exp_alerts:
          - exp_labels: {{severity: warning}}
            exp_annotations:
              summary: >-
                10% of input events were dead-lettered over 5 min (see complaints.dlq / the
                dead_letters table)
  - name: the SLA step dead-lettered a change
    interval: 1m
    input_series:
      - series: complaintflow_sla_dead_letters_total
        values: 0x10 1x20
    alert_rule_test:
      - {{eval_time: 9m, alertname: SlaStepFailing, exp_alerts: []}}
      - eval_time: 15m
        alertname: SlaStepFailing
        exp_alerts:
          - exp_labels: {{severity: critical}}
            exp_annotations:
              summary: "SLA 引擎 15 分钟内处理失败 1 次，相关工单的 SLA 不再计时\\
                （见 dead_letters 表 stage = 'sla'）"
  - name: clocks run on provisional holiday data
    interval: 1m
    input_series:
      - series: 'complaintflow_sla_clocks_on_incomplete_holiday_data_total{{
          calendar="cn_business", year="2027", status="provisional"}}'
        values: 0+3x10
    alert_rule_test:
      - eval_time: 5m
        alertname: SlaHolidayDataIncomplete
        exp_alerts:
          - exp_labels: {{severity: warning, calendar: cn_business, year: "2027",
                          status: provisional}}
            exp_annotations:
              summary: "日历 cn_business 的 2027 年节假日数据为暂定（调休未公布），\\
                新开始的 SLA 时钟正在使用；补全后运行 complaintflow calendar check"
"""


def test_alert_rules_fire_when_they_should(tmp_path: Path):
    tests = tmp_path / "rules_test.yml"
    tests.write_text(RULE_TESTS.format(rules=RULES_YML))
    run_tool(PROMTOOL, "test", "rules", tests)
