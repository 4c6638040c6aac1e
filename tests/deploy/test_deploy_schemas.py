"""Every manifest validates, strictly, against the schemas of the pinned releases: Kubernetes,
Knative Serving and Eventing, eventing-kafka-broker, Dapr and Strimzi."""

from __future__ import annotations

import subprocess
from pathlib import Path

import kube_schemas
import pytest
from chart import VALUE_SETS, load_documents
from deploy_toolchain import REPO_ROOT

MANIFEST_DIRS = ["knative", "eventing", "dapr"]


def manifest_files() -> list[Path]:
    """Kubernetes manifests in the repository (func.yaml is no Kubernetes object)."""
    return sorted(
        path
        for folder in MANIFEST_DIRS
        for path in (REPO_ROOT / folder).rglob("*.yaml")
        if path.name != "func.yaml"
    )


def kubeconform_errors(kubeconform: Path, schema_dir: Path, files: list[Path]) -> str:
    result = subprocess.run(
        [str(kubeconform), "-strict", "-summary", "-output", "text"]
        + ["-schema-location", f"{schema_dir}/{kube_schemas.SCHEMA_LOCATION}"]
        + [str(path) for path in files],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def test_the_repository_has_manifests_of_every_kind_we_deploy() -> None:
    kinds = {doc["kind"] for path in manifest_files() for doc in load_documents(path)}
    assert {"Service", "Broker", "Trigger", "PingSource", "Component", "Kafka"} <= kinds


@pytest.mark.parametrize(
    "path", manifest_files(), ids=lambda path: str(path.relative_to(REPO_ROOT))
)
def test_manifest_is_valid(path: Path, kubeconform: Path, schema_dir: Path) -> None:
    assert kubeconform_errors(kubeconform, schema_dir, [path]) == ""


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_chart_renders_valid_manifests(
    value_set: str, rendered: dict[str, Path], kubeconform: Path, schema_dir: Path
) -> None:
    assert load_documents(rendered[value_set]), "helm template rendered nothing"
    assert kubeconform_errors(kubeconform, schema_dir, [rendered[value_set]]) == ""


def test_a_misspelt_field_is_caught(tmp_path: Path, kubeconform: Path, schema_dir: Path) -> None:
    """The validation is strict: an unknown field in a Trigger spec (which the API server would
    keep and ignore) and in a container fail."""
    trigger = (REPO_ROOT / "eventing" / "reminders.yaml").read_text()
    service = (REPO_ROOT / "knative" / "write-audit.yaml").read_text()
    (tmp_path / "trigger.yaml").write_text(trigger.replace("filters:", "filterz:", 1))
    (tmp_path / "service.yaml").write_text(service.replace("imagePullPolicy:", "pullPolicy:", 1))
    for name, field in (("trigger.yaml", "filterz"), ("service.yaml", "pullPolicy")):
        errors = kubeconform_errors(kubeconform, schema_dir, [tmp_path / name])
        assert f"'{field}' not allowed" in errors
