"""The deployment files, checked as files (no Docker engine or cluster here): they parse, every
setting they set is a field of the one Settings class, every metric their rules and dashboard
name is declared in the code, the manifests validate against the Kubernetes schemas offline,
and promtool accepts the Prometheus configuration and passes the rules' unit tests."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
K8S = DEPLOY / "kubernetes"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "churn-alert.json"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
CODE_PACKAGES = ("cli", "streams", "team", "services", "simulator", "engine", "config", "alerts", "models", "schemas")


def yaml_docs(path: Path) -> list:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def test_every_file_parses():
    files = [ROOT / "docker-compose.yml", *DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")]
    assert len(files) >= 10
    for f in files:
        assert yaml_docs(f), f"{f} is empty"
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "churn-alert" and len(dash["panels"]) >= 20


# --------------------------------------------------------------------------- settings
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def churn_variables() -> dict[str, dict[str, str]]:
    """Every CHURN_* variable set anywhere, by where it is set."""
    found: dict[str, dict[str, str]] = {}
    for name, svc in compose()["services"].items():
        found[f"compose:{name}"] = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
    for path in MANIFESTS:
        for doc in yaml_docs(path):
            where = f"{path.name}:{doc['kind']}/{doc['metadata']['name']}"
            if doc["kind"] == "ConfigMap":
                found[where] = dict(doc["data"])
            elif doc["kind"] == "Secret":
                found[where] = dict(doc.get("stringData", {}))
            elif doc["kind"] in ("StatefulSet", "Deployment"):
                for c in doc["spec"]["template"]["spec"]["containers"]:
                    found[f"{where}/{c['name']}"] = {e["name"]: e.get("value", "") for e in c.get("env", [])}
    dockerfile = (ROOT / "Dockerfile").read_text()
    found["Dockerfile"] = dict(re.findall(r"\b(CHURN_[A-Z0-9_]+)=(\S+)", dockerfile))
    return {w: {k: v for k, v in env.items() if k.startswith("CHURN_")} for w, env in found.items()}


def test_every_variable_set_is_a_setting_and_its_value_is_valid(monkeypatch):
    fields = {f"CHURN_{name.upper()}" for name in Settings.model_fields}
    by_place = churn_variables()
    assert sum(len(v) for v in by_place.values()) >= 30, by_place
    for where, env in by_place.items():
        unknown = set(env) - fields
        assert not unknown, f"{where} sets {sorted(unknown)}, which config/settings.py does not have"
        for k in list(__import__("os").environ):
            if k.startswith("CHURN_"):
                monkeypatch.delenv(k)
        for k, v in env.items():
            if k in fields:
                monkeypatch.setenv(k, v)
        Settings()  # each place's values pass the settings' own validation


def test_workers_keep_state_on_their_volume():
    svc = compose()["services"]
    workers = [n for n in svc if n.startswith("worker-")]
    assert len(workers) == 2
    for n in workers:
        env = svc[n]["environment"]
        assert env["CHURN_STORE"] == "rocksdb" and any(v.endswith(":" + env["CHURN_DATA_DIR"]) for v in svc[n]["volumes"])
    sts = next(d for d in yaml_docs(K8S / "worker.yaml") if d["kind"] == "StatefulSet")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["CHURN_STORE"] == "rocksdb" and env["CHURN_ROLE"] == "stream"
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == env["CHURN_DATA_DIR"])
    assert mount["name"] in {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    assert {"startupProbe", "livenessProbe", "readinessProbe", "resources"} <= set(c)


def test_compose_runs_kafka_3_in_kraft_mode_and_the_simulator_only_on_request():
    svc = compose()["services"]
    kafka = svc["kafka"]
    assert re.fullmatch(r"apache/kafka:3\.\d+\.\d+", kafka["image"]), "aiokafka is reported to fail against Kafka 4"
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert svc["simulator"]["profiles"] == ["simulate"] and "profiles" not in svc["worker-1"]
    assert svc["api"]["command"] == ["api"] and {"redis", "postgres", "prometheus", "grafana"} <= set(svc)


def test_prometheus_scrapes_what_compose_and_kubernetes_run():
    svc = compose()["services"]
    targets = {t for job in yaml.safe_load((PROM / "prometheus.yml").read_text())["scrape_configs"]
               for sc in job.get("static_configs", []) for t in sc["targets"]}
    for n in ("worker-1", "worker-2"):
        assert f"{n}:{svc[n]['environment']['CHURN_METRICS_PORT']}" in targets
    assert f"api:{svc['api']['environment']['CHURN_API_PORT']}" in targets
    headless = {d["metadata"]["name"] for p in MANIFESTS for d in yaml_docs(p)
                if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"}
    k8s = yaml.safe_load((PROM / "prometheus-kubernetes.yml").read_text())
    for job in k8s["scrape_configs"]:
        for sd in job["dns_sd_configs"]:
            assert all(name.split(".")[0] in headless and ".churn-alert.svc." in name for name in sd["names"]), sd


def test_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS}


# --------------------------------------------------------------------------- metrics
def python_source() -> str:
    return "\n".join(p.read_text() for pkg in CODE_PACKAGES if (ROOT / pkg).is_dir() for p in (ROOT / pkg).rglob("*.py"))


def declared(name: str, source: str) -> bool:
    """A family name as used in PromQL is declared when the code names it, with the suffixes
    prometheus-client adds (``_total`` on counters, ``_bucket``/``_count``/``_sum``) taken off."""
    candidates = {name} | {name[: -len(s)] for s in ("_total", "_bucket", "_count", "_sum") if name.endswith(s)}
    return any(f'"{c}"' in source for c in candidates)


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bchurn_[a-z0-9_]+\b", text))


def promql() -> dict[str, str]:
    rules = yaml.safe_load((PROM / "rules.yml").read_text())
    out = {f"rule {r.get('alert') or r.get('record')}": r["expr"] for g in rules["groups"] for r in g["rules"]}
    for p in json.loads(DASHBOARD.read_text())["panels"]:
        for t in p.get("targets", []):
            out[f"panel {p['title']!r} {t['refId']}"] = t["expr"]
    return out


def test_every_metric_in_rules_and_dashboard_is_declared_in_the_code():
    source = python_source()
    exprs = promql()
    names = set().union(*map(metric_names, exprs.values()))
    assert len(names) >= 25
    missing = {n for n in names if not declared(n, source)}
    assert not missing, f"named in rules or dashboard but declared nowhere: {sorted(missing)}"
    assert not declared("churn_no_such_family_total", source)


def test_the_dashboard_uses_the_provisioned_datasource_and_covers_every_worker_family():
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    dash = json.loads(DASHBOARD.read_text())
    assert all(p["datasource"]["uid"] == ds["uid"] for p in dash["panels"] if p["type"] != "row")
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
    shown = set().union(*map(metric_names, [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]))
    for family in ("churn_messages_total", "churn_consumer_lag_messages", "churn_dead_letters_total", "churn_alerts_total",
                   "churn_offers_total", "churn_model_rolling_roc_auc_ratio", "churn_model_using_prior",
                   "churn_event_to_alert_seconds_bucket", "churn_score_ratio_bucket", "churn_redis_errors_total",
                   "churn_customers", "churn_webhook_outbox_depth", "churn_complaints_total"):
        assert family in shown, f"the dashboard does not show {family}"


# --------------------------------------------------------------------------- validators
def test_manifests_validate_against_the_kubernetes_schemas_offline():
    import kubernetes_validate

    for path in MANIFESTS:
        for doc in yaml_docs(path):
            kubernetes_validate.validate(doc, "1.30.0", strict=True)
    bad = yaml_docs(K8S / "worker.yaml")[1]
    bad["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}  # a typo must not pass
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.30.0", strict=True)


def promtool(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool not found: install Debian's prometheus package (make test does: apt-get install -y prometheus)"
    return subprocess.run([tool, *args], cwd=PROM, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("args", [
    ("check", "config", "prometheus.yml"),
    ("check", "config", "prometheus-kubernetes.yml"),
    ("check", "rules", "rules.yml"),
    ("test", "rules", "rules_test.yml", "rules_test_long.yml"),
])
def test_promtool_accepts_config_and_rules(args):
    done = promtool(*args)
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def test_every_alert_rule_has_a_unit_test():
    alerts = {r["alert"] for g in yaml.safe_load((PROM / "rules.yml").read_text())["groups"] for r in g["rules"] if "alert" in r}
    tested = {t["alertname"] for f in ("rules_test.yml", "rules_test_long.yml")
              for case in yaml.safe_load((PROM / f).read_text())["tests"]
              for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert alerts == tested, f"alerts without a firing test: {sorted(alerts - tested)}"
