"""deploy/kubernetes/: strict kubernetes-validate against the newest Kubernetes schema it ships,
and manifests that say what the issue asks: smtp on port 25, scalable workers, one scheduler,
probes on /healthz and /readyz, resource requests on every container, PDBs and an HPA."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.deploy import DEPLOY, command_of, is_qmark_command, run, tool

MANIFESTS = DEPLOY / "kubernetes"


def newest_kubernetes() -> str:
    from kubernetes_validate.utils import latest_version

    return str(latest_version())


def validate(*paths: Path) -> tuple[int, str]:
    checked = run(
        tool("kubernetes-validate"), "--strict", "-k", newest_kubernetes(), *(str(path) for path in paths)
    )
    return checked.returncode, checked.stdout + checked.stderr


def resources() -> list[dict]:
    return [
        document
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def by_kind(kind: str) -> dict[str, dict]:
    return {item["metadata"]["name"]: item for item in resources() if item["kind"] == kind}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def test_every_manifest_is_valid_for_the_newest_kubernetes_strictly():
    paths = sorted(MANIFESTS.glob("*.yaml"))
    code, output = validate(*paths)
    assert code == 0, output
    assert output.count("passed for resource") == len(resources())


def test_a_deployment_without_its_selector_is_refused(tmp_path):
    broken = tmp_path / "worker.yaml"
    text = (MANIFESTS / "worker.yaml").read_text()
    broken.write_text(text.replace("  selector:\n    matchLabels:", "  selectr:\n    matchLabels:", 1))
    code, output = validate(broken)
    assert code != 0
    assert "'selector' is a required property" in output


def test_a_container_with_an_unknown_field_is_refused_in_strict_mode(tmp_path):
    broken = tmp_path / "smtp.yaml"
    broken.write_text((MANIFESTS / "smtp.yaml").read_text().replace("livenessProbe:", "livenesProbe:", 1))
    code, output = validate(broken)
    assert code != 0
    assert "livenesProbe" in output


def test_every_container_runs_a_real_qmark_command_with_requests_and_no_root():
    workloads = {**by_kind("Deployment"), **by_kind("Job")}
    assert set(workloads) == {
        f"qmark-{name}" for name in ("smtp", "worker", "scheduler", "imap", "http", "migrate")
    }
    for name, workload in workloads.items():
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in spec["containers"]:
            where = f"{name}/{container['name']}"
            assert is_qmark_command(*command_of(container["args"])), where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert "memory" in container["resources"]["limits"], where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert {"secretRef": {"name": "qmark-secrets"}} in container["envFrom"], where


def test_smtp_is_a_load_balancer_on_port_25_and_the_http_role_is_probed_on_healthz_and_readyz():
    [port] = by_kind("Service")["qmark-smtp"]["spec"]["ports"]
    assert by_kind("Service")["qmark-smtp"]["spec"]["type"] == "LoadBalancer"
    assert (port["port"], port["targetPort"]) == (25, "smtp")
    [http] = pod_spec(by_kind("Deployment")["qmark-http"])["containers"]
    assert http["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert http["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for name in ("qmark-smtp", "qmark-worker"):  # the `qmark http` beside the process, for its counters
        spec = pod_spec(by_kind("Deployment")[name])
        assert spec["shareProcessNamespace"] is True
        [metrics] = [c for c in spec["containers"] if c["args"] == ["http"]]
        assert metrics["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_one_scheduler_scalable_workers_and_disruption_budgets():
    deployments = by_kind("Deployment")
    assert deployments["qmark-scheduler"]["spec"]["replicas"] == 1
    assert deployments["qmark-scheduler"]["spec"]["strategy"]["type"] == "Recreate"
    assert "replicas" not in deployments["qmark-worker"]["spec"]  # the autoscaler owns it
    autoscaler = by_kind("HorizontalPodAutoscaler")["qmark-worker"]
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "qmark-worker"
    assert autoscaler["spec"]["minReplicas"] >= 2
    assert set(by_kind("PodDisruptionBudget")) == {"qmark-smtp", "qmark-worker"}


def test_qmark_toml_in_the_config_map_is_a_config_qmark_accepts(tmp_path):
    from pipeline.config.load import load_settings

    config = tmp_path / "qmark.toml"
    config.write_text(by_kind("ConfigMap")["qmark-config"]["data"]["qmark.toml"])
    settings = load_settings(config, env={})
    assert settings.worker.processes == 1
    assert set(by_kind("Secret")["qmark-secrets"]["stringData"]) >= {
        "QMARK_SERVICE__SECRET_KEY",
        "QMARK_STORAGE__DATABASE_URL",
    }
