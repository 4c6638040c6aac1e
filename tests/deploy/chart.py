"""The Helm chart under test, the value sets it is rendered with, and how a rendering is read."""

from __future__ import annotations

from pathlib import Path

import deploy_toolchain
import yaml

CHART = deploy_toolchain.REPO_ROOT / "deploy" / "helm" / "taskflow"
# Each platform's values, and the managed-Kafka layer over a cloud's.
VALUE_SETS = {
    "minikube": ["values-minikube.yaml"],
    "aks": ["values-aks.yaml"],
    "gke": ["values-gke.yaml"],
    "oke": ["values-oke.yaml"],
    "doks": ["values-doks.yaml"],
    "aks-managed-kafka": ["values-aks.yaml", "values-managed-kafka.yaml"],
}
# What CD adds on a cloud (.github/workflows/cd.yml): the cloud values leave the image unset.
CD_SETTINGS = [
    "image.repository=registry.example/example/taskflow",
    "image.tag=0123456789abcdef0123456789abcdef01234567",
    "image.pullSecrets={registry-pull}",
]


def helm_arguments(value_set: str) -> list[str]:
    """The --values (and, on a cloud, CD's --set) of one value set."""
    arguments: list[str] = []
    for values in VALUE_SETS[value_set]:
        arguments += ["--values", str(CHART / values)]
    if value_set != "minikube":
        for setting in CD_SETTINGS:
            arguments += ["--set", setting]
    return arguments


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
