"""Rules that keep the defects of the chart review (issue 10) from coming back. Each was checked
against the pinned releases' source (specs/deployment.md, "Review of issue 10"); each rule reads
what `helm template` renders for every platform, or the scripts and workflows that deploy it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import deploy_toolchain
import pytest
import yaml
from chart import CHART, VALUE_SETS, load_documents
from deploy_toolchain import REPO_ROOT
from taskflow_dev.router import manifests

# Knative Serving's default config-deployment `registries-skipping-tag-resolving`
# (serving config/core/configmaps/deployment.yaml; pkg/deployment/config.go).
SKIPPING_TAG_RESOLUTION = ("kind.local", "ko.local", "dev.local")
CLUSTER_LOCAL = {"create-task", "spawn-recurrence", "send-reminder", "write-audit", "dead-letter"}
SCRIPTS = REPO_ROOT / "scripts" / "deploy"


def documents(rendered: dict[str, Path], value_set: str) -> list[dict[str, Any]]:
    return load_documents(rendered[value_set])


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def knative_services(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for doc in docs
        if doc["kind"] == "Service" and doc["apiVersion"].startswith("serving.knative.dev/")
    }


def pod_specs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pod templates that run TaskFlow's images: the Knative Services and the migration."""
    services = list(knative_services(docs).values())
    return [doc["spec"]["template"]["spec"] for doc in services + of_kind(docs, "Job")]


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_no_component_shadows_daprs_builtin_kubernetes_secret_store(
    rendered: dict[str, Path], value_set: str
) -> None:
    components = of_kind(documents(rendered, value_set), "Component")
    assert components
    assert [c for c in components if c["metadata"]["name"] == "kubernetes"] == []


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_pods_may_get_only_the_application_secret(
    rendered: dict[str, Path], value_set: str
) -> None:
    docs = documents(rendered, value_set)
    (role,) = of_kind(docs, "Role")
    secret_rules = [rule for rule in role["rules"] if "secrets" in rule["resources"]]
    assert secret_rules == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["taskflow-secrets"],
            "verbs": ["get"],
        }
    ]
    (binding,) = of_kind(docs, "RoleBinding")
    bound = {subject["name"] for subject in binding["subjects"]}
    accounts = {doc["metadata"]["name"] for doc in of_kind(docs, "ServiceAccount")}
    for name, service in knative_services(docs).items():
        account = service["spec"]["template"]["spec"]["serviceAccountName"]
        assert account in bound and account in accounts, name
    # The code reads that one Secret by name (no bulk `list`).
    (config,) = [
        d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "taskflow-config"
    ]
    assert config["data"]["TASKFLOW_SECRET_NAME"] == "taskflow-secrets"


def test_minikube_images_skip_knatives_tag_resolution(rendered: dict[str, Path]) -> None:
    images = {
        container["image"]
        for spec in pod_specs(documents(rendered, "minikube"))
        for container in spec["containers"]
    }
    assert images
    assert all(image.split("/", 1)[0] in SKIPPING_TAG_RESOLUTION for image in images), images
    built = re.findall(r'-t "([^"]+)"', (SCRIPTS / "minikube-up.sh").read_text())
    assert built == ["dev.local/taskflow/$service:dev"]


def test_strimzis_namespace_is_rewritten_before_it_is_applied() -> None:
    script = (SCRIPTS / "minikube-up.sh").read_text()
    install = script[script.index("strimzi-cluster-operator-$STRIMZI_VERSION.yaml") :]
    install = install[: install.index("kube apply") + len("kube apply -n kafka -f -")]
    assert "namespace: myproject" in install and "namespace: kafka" in install
    assert install.rstrip().endswith("kube apply -n kafka -f -")


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_commands_reach_create_task_through_knative(
    rendered: dict[str, Path], value_set: str
) -> None:
    docs = documents(rendered, value_set)
    (config,) = [
        d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "taskflow-config"
    ]
    url = config["data"]["CREATE_TASK_URL"]
    knative = "http://create-task.taskflow.svc.cluster.local"
    assert "/invoke/create-task/" not in url
    if url != knative:
        (endpoint,) = of_kind(docs, "HTTPEndpoint")
        name = endpoint["metadata"]["name"]
        assert url == f"http://localhost:3500/v1.0/invoke/{name}/method"
        assert endpoint["spec"]["baseUrl"] == knative
        (resiliency,) = of_kind(docs, "Resiliency")
        assert name in resiliency["spec"]["targets"]["apps"]


def test_cd_runs_only_after_ci_passed_on_the_same_commit() -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "cd.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert "push" not in triggers
    assert triggers["workflow_run"] == {
        "workflows": ["CI"],
        "types": ["completed"],
        "branches": ["main"],
    }
    jobs = workflow["jobs"]
    assert "workflow_run.conclusion == 'success'" in jobs["ci-passed"]["if"]
    assert jobs["images"]["needs"] == "ci-passed"
    text = (REPO_ROOT / ".github" / "workflows" / "cd.yml").read_text()
    assert "github.event.workflow_run.head_sha" in text
    assert ":latest" not in text
    # The operator names the registry (variable IMAGE_REGISTRY); CD hard-codes none.
    login = next(step for step in jobs["images"]["steps"] if "login-action" in step.get("uses", ""))
    assert login["with"]["registry"] == "${{ vars.IMAGE_REGISTRY }}"


@pytest.mark.parametrize("value_set", [name for name in VALUE_SETS if name != "minikube"])
def test_cloud_pods_pull_with_the_configured_secrets(
    rendered: dict[str, Path], value_set: str
) -> None:
    specs = pod_specs(documents(rendered, value_set))
    assert specs
    assert all(spec.get("imagePullSecrets") == [{"name": "registry-pull"}] for spec in specs)


@pytest.mark.parametrize("value_set", [name for name in VALUE_SETS if name != "minikube"])
def test_cloud_values_name_no_placeholder_image_and_refuse_to_render_without_one(
    helm: Path, value_set: str
) -> None:
    values = "\n".join((CHART / name).read_text() for name in VALUE_SETS[value_set])
    assert "OWNER" not in values and ":latest" not in values and "tag: latest" not in values
    command = [str(helm), "template", "taskflow", str(CHART), "--namespace", "taskflow"]
    for name in VALUE_SETS[value_set]:
        command += ["--values", str(CHART / name)]
    with pytest.raises(deploy_toolchain.ToolUnavailable, match=r"image\.repository is required"):
        deploy_toolchain.run(command)


def test_queue_proxy_scrape_job_has_its_metrics_turned_on() -> None:
    scrape = (REPO_ROOT / "monitoring" / "prometheus" / "scrape-config.yaml").read_text()
    if "job_name: queue-proxy" in scrape:
        deploy = (SCRIPTS / "deploy.sh").read_text()
        assert "configmap/config-observability -n knative-serving" in deploy
        assert '"request-metrics-protocol":"prometheus"' in deploy


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_dapr_exports_spans_only_to_a_configured_collector(
    rendered: dict[str, Path], value_set: str
) -> None:
    (configuration,) = of_kind(documents(rendered, value_set), "Configuration")
    assert "otel" not in configuration["spec"]["tracing"]
    assert configuration["spec"]["tracing"]["samplingRate"] == "0"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_dapr_component_is_scoped(rendered: dict[str, Path], value_set: str) -> None:
    for component in of_kind(documents(rendered, value_set), "Component"):
        assert component.get("scopes"), component["metadata"]["name"]


def test_readme_counts_the_images_the_scripts_build() -> None:
    services = re.search(r"SERVICES=\(([^)]*)\)", (SCRIPTS / "lib.sh").read_text())
    assert services is not None
    count = len(services.group(1).split())
    words = {8: "eight"}
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"builds the {words[count]} images" in readme
    assert "seven images" not in readme


def test_digitalocean_has_values_and_a_readme_path() -> None:
    assert (CHART / "values-doks.yaml").is_file()
    readme = (REPO_ROOT / "README.md").read_text()
    assert "values-doks.yaml" in readme and "DigitalOcean" in readme


# Section 2 of the issue: closed doors.


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_internal_functions_are_cluster_local(rendered: dict[str, Path], value_set: str) -> None:
    services = knative_services(documents(rendered, value_set))
    local = {
        name
        for name, service in services.items()
        if service["metadata"]["labels"].get("networking.knative.dev/visibility") == "cluster-local"
    }
    assert local == CLUSTER_LOCAL


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_only_the_publishers_may_send_to_each_broker(
    rendered: dict[str, Path], value_set: str
) -> None:
    docs = documents(rendered, value_set)
    brokers = set(manifests.load(REPO_ROOT / "eventing").brokers)
    policies = of_kind(docs, "EventPolicy")
    covered = {to["ref"]["name"] for policy in policies for to in policy["spec"]["to"]}
    assert covered == brokers
    for policy in policies:
        subjects = [source["sub"] for source in policy["spec"]["from"]]
        assert "system:serviceaccount:taskflow:taskflow-publisher" in subjects
        assert all(subject.startswith("system:serviceaccount:taskflow:") for subject in subjects)


def test_every_delivery_is_issued_for_its_subscribers_audience() -> None:
    for path in sorted((REPO_ROOT / "eventing").glob("*.yaml")):
        for doc in load_documents(path):
            if doc["kind"] != "Trigger":
                continue
            subscriber = doc["spec"]["subscriber"]
            name = subscriber["ref"]["name"]
            assert subscriber["audience"] == f"serving.knative.dev/service/taskflow/{name}"
            sink = doc["spec"]["delivery"]["deadLetterSink"]
            assert sink["audience"] == "serving.knative.dev/service/taskflow/dead-letter"


def test_the_oidc_feature_is_enabled_where_the_chart_is_deployed() -> None:
    deploy = (SCRIPTS / "deploy.sh").read_text()
    assert "configmap/config-features -n knative-eventing" in deploy
    assert '"authentication-oidc":"enabled"' in deploy
