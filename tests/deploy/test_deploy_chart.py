"""The Helm chart lints for every platform, and the plain manifests and func.yaml files in the
repository are exactly what the chart renders (deploy/render.py), so they cannot drift."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import deploy_toolchain
import jsonschema
import pytest
import yaml
from chart import CHART, VALUE_SETS, helm_arguments
from deploy_toolchain import REPO_ROOT


def load_render_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("render", REPO_ROOT / "deploy" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = load_render_module()


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_chart_lints(value_set: str, helm: Path) -> None:
    command = [str(helm), "lint", "--strict", str(CHART), "--namespace", "taskflow"]
    deploy_toolchain.run(command + helm_arguments(value_set))


def test_chart_refuses_another_namespace(helm: Path) -> None:
    with pytest.raises(deploy_toolchain.ToolUnavailable, match="namespace taskflow"):
        deploy_toolchain.run([str(helm), "template", "taskflow", str(CHART), "--namespace", "x"])


def test_plain_manifests_are_the_chart_rendered(helm: Path) -> None:
    files = render.snapshot_files(render.render_chart(str(helm), render.SNAPSHOT_VALUES))
    stale = [
        str(path)
        for path, text in files.items()
        if not (REPO_ROOT / path).exists() or (REPO_ROOT / path).read_text() != text
    ]
    assert stale == [], "run `just render` and commit: these differ from the chart"


def func_schema() -> dict:
    module = deploy_toolchain.go_module_dir(
        "knative.dev/func", deploy_toolchain.versions()["KNATIVE_FUNC_MODULE"]
    )
    return json.loads((module / "schema" / "func_yaml-schema.json").read_text())


@pytest.mark.parametrize(
    "path",
    sorted((REPO_ROOT / "knative" / "func").glob("*/func.yaml")),
    ids=lambda path: path.parent.name,
)
def test_func_yaml_is_valid_for_the_pinned_func(path: Path) -> None:
    jsonschema.Draft4Validator(func_schema()).validate(yaml.safe_load(path.read_text()))


def test_func_yaml_spec_version_is_the_pinned_funcs_latest_migration() -> None:
    module = deploy_toolchain.go_module_dir(
        "knative.dev/func", deploy_toolchain.versions()["KNATIVE_FUNC_MODULE"]
    )
    migrations = (module / "pkg" / "functions" / "function_migrations.go").read_text()
    assert f'{{"{render.FUNC_SPEC_VERSION}", ' in migrations.split("var migrations")[-1]
    last = migrations.rsplit('{"', 1)[1].split('"', 1)[0]
    assert last == render.FUNC_SPEC_VERSION


def workload_environments(helm: Path, *settings: str) -> dict[str, dict[str, str]]:
    """Each Knative Service's environment as `helm template` renders it: its own `env` values and
    the ConfigMaps it loads whole."""
    command = [str(helm), "template", "taskflow", str(CHART), "--namespace", "taskflow"]
    for setting in settings:
        command += ["--set", setting]
    documents = [doc for doc in yaml.safe_load_all(deploy_toolchain.run(command).stdout) if doc]
    config_maps = {
        doc["metadata"]["name"]: doc["data"] for doc in documents if doc["kind"] == "ConfigMap"
    }
    environments = {}
    for service in (
        doc for doc in documents if doc["kind"] == "Service" and "serving" in doc["apiVersion"]
    ):
        (container,) = service["spec"]["template"]["spec"]["containers"]
        environment = {}
        for source in container.get("envFrom", []):
            environment.update(config_maps[source["configMapRef"]["name"]])
        environment.update(
            {env["name"]: env["value"] for env in container["env"] if "value" in env}
        )
        environments[service["metadata"]["name"]] = environment
    return environments


def test_span_export_is_off_unless_an_endpoint_is_set(helm: Path) -> None:
    default = workload_environments(helm)
    assert default and all(env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "" for env in default.values())

    endpoint = "http://otel-collector.observability.svc.cluster.local:4318"
    configured = workload_environments(helm, f"tracing.otlpEndpoint={endpoint}")
    assert set(configured) == set(default)
    assert {env["OTEL_EXPORTER_OTLP_ENDPOINT"] for env in configured.values()} == {endpoint}
