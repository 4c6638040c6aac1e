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
    "aks-managed-kafka": ["values-aks.yaml", "values-managed-kafka.yaml"],
}


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
