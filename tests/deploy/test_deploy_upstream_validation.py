"""The rendered manifests pass the pinned releases' own validation code, not only their schemas.

Two Go test modules under tests/deploy/validate/ (built once into .cache/validate):
- knative: each Knative Service, Broker, Trigger, EventPolicy and PingSource is decoded, defaulted
  (SetDefaults) and validated (Validate) as the admission webhooks of Knative Serving, Eventing
  and eventing-kafka-broker do, with the release's config maps as the deploy scripts leave them;
- dapr: each Component, Configuration, HTTPEndpoint and Resiliency is decoded into Dapr's types
  and loaded with the sidecar's own code (component store with the built-in `kubernetes` secret
  store, LoadKubernetesConfiguration, Resiliency.DecodeConfiguration), app ids checked as the
  injector checks them;
- kubernetes: each built-in object (and the Pod Serving builds from each Knative Service, which
  the knative module writes out) goes through the API server's decoding, defaults and registry
  create strategy (rest.BeforeCreate), as a create does.

Each set of manifests is what one deployment applies: the chart for a platform plus the Brokers
and Triggers deploy.sh applies, or the plain manifests rendered from the chart (`just render`).
A failure shows the upstream error verbatim.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import deploy_toolchain
import pytest
import yaml
from chart import VALUE_SETS
from deploy_toolchain import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts" / "deploy"
# deploy.sh applies every eventing/*.yaml but this snapshot of the chart's PingSources.
EVENTING = sorted(p for p in (REPO_ROOT / "eventing").glob("*.yaml") if p.name != "pingsource.yaml")
PLAIN_MANIFESTS = [
    *sorted((REPO_ROOT / "knative").glob("*.yaml")),
    *sorted((REPO_ROOT / "eventing").glob("*.yaml")),
    REPO_ROOT / "dapr" / "configuration.yaml",
    *sorted((REPO_ROOT / "dapr" / "components" / "cluster").glob("*.yaml")),
]
# `kube patch configmap/NAME -n NAMESPACE --type merge -p '{...}'` in a deploy script.
PATCH = re.compile(
    r"kube patch configmap/(?P<name>[\w-]+) -n (?P<namespace>[\w-]+) --type merge\s*\\?\s*"
    r"-p '(?P<patch>\{.*?\})'",
    re.DOTALL,
)


@pytest.fixture(scope="session")
def knative_validator() -> Path:
    return deploy_toolchain.upstream_validator("knative")


@pytest.fixture(scope="session")
def dapr_validator() -> Path:
    return deploy_toolchain.upstream_validator("dapr")


@pytest.fixture(scope="session")
def kubernetes_validator() -> Path:
    return deploy_toolchain.upstream_validator("kubernetes")


def script_patches(value_set: str) -> list[tuple[str, str, dict[str, str]]]:
    """The config map patches the deploy scripts apply on this platform: minikube-up.sh (Minikube
    only, before deploy.sh) and deploy.sh (every platform). A patch built from shell variables
    (config-domain) is no literal JSON and is left out: no webhook reads it."""
    scripts = ["deploy.sh"] if value_set != "minikube" else ["minikube-up.sh", "deploy.sh"]
    patches = []
    for script in scripts:
        for match in PATCH.finditer((SCRIPTS / script).read_text()):
            data = json.loads(match["patch"])["data"]
            patches.append((match["namespace"], match["name"], data))
    return patches


def knative_config(value_set: str, directory: Path) -> Path:
    """The release's config maps of knative-serving and knative-eventing (the YAML its
    serving-core.yaml / eventing-core.yaml install), with the scripts' patches merged in."""
    pinned = deploy_toolchain.versions()
    releases = [
        ("knative.dev/serving", pinned["KNATIVE_SERVING_MODULE"]),
        ("knative.dev/eventing", pinned["KNATIVE_EVENTING_MODULE"]),
    ]
    config_maps: dict[tuple[str, str], dict] = {}
    for module, version in releases:
        folder = deploy_toolchain.go_module_dir(module, version) / "config/core/configmaps"
        for path in sorted(folder.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc and doc.get("kind") == "ConfigMap":
                    meta = doc["metadata"]
                    config_maps[(meta["namespace"], meta["name"])] = doc
    for namespace, name, data in script_patches(value_set):
        # config-network ships with knative.dev/networking, and no webhook validated here reads it.
        if (namespace, name) in config_maps:
            config_maps[(namespace, name)].setdefault("data", {}).update(data)
    path = directory / f"knative-config-{value_set}.yaml"
    path.write_text(yaml.safe_dump_all(config_maps.values()))
    return path


def run_validator(binary: Path, manifests: list[Path], **environment: str) -> str:
    """Runs the compiled Go test over the manifests; returns its output when it fails."""
    result = subprocess.run(
        [str(binary), "-test.count=1"],
        cwd=deploy_toolchain.VALIDATORS,
        env={
            **os.environ,
            "TASKFLOW_MANIFESTS": os.pathsep.join(str(path) for path in manifests),
            **environment,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def deployment_sets(rendered: dict[str, Path]) -> dict[str, list[Path]]:
    sets = {name: [rendered[name], *EVENTING] for name in VALUE_SETS}
    sets["plain-manifests"] = PLAIN_MANIFESTS
    return sets


@pytest.mark.parametrize("deployment", [*VALUE_SETS, "plain-manifests"])
def test_knative_objects_pass_the_release_webhooks(
    deployment: str, rendered: dict[str, Path], knative_validator: Path, tmp_path: Path
) -> None:
    value_set = deployment if deployment in VALUE_SETS else "minikube"
    config = knative_config(value_set, tmp_path)
    manifests = deployment_sets(rendered)[deployment]
    assert run_validator(knative_validator, manifests, TASKFLOW_KNATIVE_CONFIG=str(config)) == ""


@pytest.mark.parametrize("deployment", [*VALUE_SETS, "plain-manifests"])
def test_dapr_resources_load_in_the_release_sidecar(
    deployment: str, rendered: dict[str, Path], dapr_validator: Path
) -> None:
    assert run_validator(dapr_validator, deployment_sets(rendered)[deployment]) == ""


def test_the_deploy_scripts_patches_are_read() -> None:
    """The Knative config the validator sees is the scripts': OIDC on for every platform, the
    PodSpec security context on Minikube (the only platform whose script enables it)."""
    cloud = {(ns, name): data for ns, name, data in script_patches("aks")}
    minikube = {(ns, name): data for ns, name, data in script_patches("minikube")}
    assert cloud[("knative-eventing", "config-features")] == {"authentication-oidc": "enabled"}
    assert minikube[("knative-serving", "config-features")] == {
        "kubernetes.podspec-securitycontext": "enabled"
    }


def test_a_service_the_webhook_refuses_fails_with_its_message(
    rendered: dict[str, Path], knative_validator: Path, tmp_path: Path
) -> None:
    """min-scale above max-scale is schema-valid YAML (two strings) that Serving's webhook
    refuses; a Trigger's CESQL filter that does not parse is refused by Eventing's."""
    service = (REPO_ROOT / "knative" / "create-task.yaml").read_text()
    broken_service = re.sub(
        r"autoscaling.knative.dev/min-scale: ['\"]\d+['\"]",
        "autoscaling.knative.dev/min-scale: '9'",
        service,
    )
    assert broken_service != service
    trigger = (REPO_ROOT / "eventing" / "reminders.yaml").read_text()
    broken_trigger = trigger.replace("filters:", "filters:\n    - cesql: \"type = = 'x'\"", 1)
    (tmp_path / "service.yaml").write_text(broken_service)
    (tmp_path / "trigger.yaml").write_text(broken_trigger)
    config = str(knative_config("aks", tmp_path))
    errors = run_validator(
        knative_validator, [tmp_path / "service.yaml"], TASKFLOW_KNATIVE_CONFIG=config
    )
    assert "max-scale=5 is less than min-scale=9" in errors
    errors = run_validator(
        knative_validator, [tmp_path / "trigger.yaml"], TASKFLOW_KNATIVE_CONFIG=config
    )
    assert "rejected by the pinned release" in errors and "cesql" in errors


def test_dapr_refuses_a_component_named_like_its_builtin_secret_store(
    rendered: dict[str, Path], dapr_validator: Path, tmp_path: Path
) -> None:
    """Issue 10 item 1 as the sidecar meets it; and a Resiliency whose circuit breaker cannot
    trip (daprd logs this and runs without the policies)."""
    component = """apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: kubernetes, namespace: taskflow}
spec: {type: secretstores.kubernetes, version: v1, metadata: []}
"""
    (tmp_path / "component.yaml").write_text(component)
    errors = run_validator(dapr_validator, [rendered["aks"], tmp_path / "component.yaml"])
    assert "component kubernetes already exists" in errors
    resiliency = REPO_ROOT / "dapr" / "components" / "cluster" / "taskflow-resiliency.yaml"
    broken = resiliency.read_text().replace("consecutiveFailures > 9", "consecutiveFailures >> 9")
    assert broken != resiliency.read_text()
    (tmp_path / "resiliency.yaml").write_text(broken)
    errors = run_validator(dapr_validator, [tmp_path / "resiliency.yaml"])
    assert "refused by Dapr" in errors and "consecutiveFailures >> 9" in errors


def test_the_webhooks_see_each_platforms_config(knative_validator: Path, tmp_path: Path) -> None:
    """A pod-level securityContext needs Serving's `kubernetes.podspec-securitycontext`, which
    only minikube-up.sh enables: the same Service passes on Minikube and is refused on a cloud,
    as the clusters would do."""
    documents = yaml.safe_load_all((REPO_ROOT / "knative" / "write-audit.yaml").read_text())
    service = next(doc for doc in documents if doc and doc["kind"] == "Service")
    service["spec"]["template"]["spec"]["securityContext"] = {"fsGroup": 10001}
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(service))
    manifests = [tmp_path / "service.yaml"]
    minikube = str(knative_config("minikube", tmp_path))
    aks = str(knative_config("aks", tmp_path))
    assert run_validator(knative_validator, manifests, TASKFLOW_KNATIVE_CONFIG=minikube) == ""
    errors = run_validator(knative_validator, manifests, TASKFLOW_KNATIVE_CONFIG=aks)
    assert "must not set the field(s): spec.template.spec.securityContext" in errors


def kubernetes_errors(
    deployment_manifests: list[Path],
    value_set: str,
    knative_validator: Path,
    kubernetes_validator: Path,
    directory: Path,
) -> str:
    """The API server's verdict on the built-in objects and on the Pods of the Knative Services
    (written by the knative validator as Serving's dry run builds them)."""
    pods = directory / "dry-run-pods"
    pods.mkdir()
    config = str(knative_config(value_set, directory))
    knative = run_validator(
        knative_validator,
        deployment_manifests,
        TASKFLOW_KNATIVE_CONFIG=config,
        TASKFLOW_DRYRUN_PODS=str(pods),
    )
    assert knative == ""
    return run_validator(kubernetes_validator, deployment_manifests, TASKFLOW_DRYRUN_PODS=str(pods))


@pytest.mark.parametrize("deployment", [*VALUE_SETS, "plain-manifests"])
def test_builtin_objects_and_service_pods_pass_the_api_servers_validation(
    deployment: str,
    rendered: dict[str, Path],
    knative_validator: Path,
    kubernetes_validator: Path,
    tmp_path: Path,
) -> None:
    value_set = deployment if deployment in VALUE_SETS else "minikube"
    manifests = deployment_sets(rendered)[deployment]
    errors = kubernetes_errors(
        manifests, value_set, knative_validator, kubernetes_validator, tmp_path
    )
    assert errors == ""
    pods = sorted(path.name for path in (tmp_path / "dry-run-pods").glob("*.json"))
    services = glob_services(manifests)
    assert services and len(pods) == len(services), pods


def glob_services(manifests: list[Path]) -> list[str]:
    return [
        doc["metadata"]["name"]
        for path in manifests
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "Service" and doc["apiVersion"].startswith("serving.")
    ]


def test_the_api_server_refuses_what_its_validation_refuses(
    rendered: dict[str, Path],
    knative_validator: Path,
    kubernetes_validator: Path,
    tmp_path: Path,
) -> None:
    """A memory request above the limit passes Knative's webhook and the schemas, and is
    refused by the API server when the Revision's pod is made; a Job that restarts Always is
    refused at once."""
    documents = list(yaml.safe_load_all((REPO_ROOT / "knative" / "write-audit.yaml").read_text()))
    service = next(doc for doc in documents if doc and doc["kind"] == "Service")
    resources = service["spec"]["template"]["spec"]["containers"][0]["resources"]
    resources["requests"]["memory"] = "4Gi"
    job = next(
        doc
        for doc in yaml.safe_load_all(rendered["aks"].read_text())
        if doc and doc["kind"] == "Job"
    )
    job["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump_all([service, job]))
    errors = kubernetes_errors(
        [tmp_path / "broken.yaml"], "aks", knative_validator, kubernetes_validator, tmp_path
    )
    assert "must be less than or equal to memory limit" in errors
    assert 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure"' in errors


def test_the_kubernetes_validator_builds_what_the_local_cluster_builds() -> None:
    """Its go.mod is infra/k8s-build's (same versions, shared build cache) but for the header
    comment and the module name."""

    def requirements(path: Path) -> list[str]:
        lines = path.read_text().splitlines()
        return [line for line in lines if not line.startswith(("//", "module "))]

    validator = deploy_toolchain.VALIDATORS / "kubernetes"
    cluster = REPO_ROOT / "infra" / "k8s-build"
    assert requirements(validator / "go.mod") == requirements(cluster / "go.mod")
    assert (validator / "go.sum").read_text() == (cluster / "go.sum").read_text()
    # The kubeconform schemas are made from the same release: one Kubernetes version everywhere.
    pinned = deploy_toolchain.versions()["KUBERNETES_VERSION"]
    assert f"k8s.io/kubernetes v{pinned}" in (cluster / "go.mod").read_text()
