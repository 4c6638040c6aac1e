"""Fixtures of the deployment validation: the pinned tools and schemas (built once into .cache,
see deploy_toolchain.py) and the chart rendered for every platform's values."""

from __future__ import annotations

from pathlib import Path

import deploy_toolchain
import pytest
from chart import CHART, VALUE_SETS, helm_arguments


@pytest.fixture(scope="session")
def helm() -> Path:
    return deploy_toolchain.helm()


@pytest.fixture(scope="session")
def kubeconform() -> Path:
    return deploy_toolchain.kubeconform()


@pytest.fixture(scope="session")
def schema_dir() -> Path:
    return deploy_toolchain.schema_dir()


@pytest.fixture(scope="session")
def rendered(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`helm template` output per value set, as files for kubeconform."""
    directory = tmp_path_factory.mktemp("helm-template")
    outputs = {}
    for name in VALUE_SETS:
        command = [str(helm), "template", "taskflow", str(CHART), "--namespace", "taskflow"]
        command += helm_arguments(name)
        outputs[name] = directory / f"{name}.yaml"
        outputs[name].write_text(deploy_toolchain.run(command).stdout)
    return outputs
