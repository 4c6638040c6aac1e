"""The workflows pass actionlint and every shell script passes shellcheck; the deploy scripts
stop with a clear message when a tool they need is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import deploy_toolchain
import pytest
from deploy_toolchain import REPO_ROOT

# The repository's own scripts, tracked or new, as git lists them: walking the whole tree would
# also walk .cache, which holds container images' root filesystems (tests/containers).
SCRIPTS = sorted(
    [
        REPO_ROOT / name
        for name in subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.sh"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        if (REPO_ROOT / name).exists()
    ]
    + [REPO_ROOT / ".ci" / "run"]
)
DEPLOY_SCRIPTS = {
    "minikube-up.sh": "minikube",
    "minikube-down.sh": "minikube",
    "deploy.sh": "kubectl",
    "status.sh": "kubectl",
    "logs.sh": "kubectl",
}


def test_workflows_pass_actionlint() -> None:
    actionlint = deploy_toolchain.actionlint()
    shellcheck = deploy_toolchain.shellcheck()
    workflows = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
    assert {path.name for path in workflows} >= {"ci.yml", "cd.yml"}
    # actionlint runs shellcheck over every `run:` block too.
    deploy_toolchain.run(
        [str(actionlint), "-shellcheck", str(shellcheck), *map(str, workflows)], cwd=REPO_ROOT
    )


def test_ci_cannot_pass_over_a_failure() -> None:
    ci = (REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "bash .ci/run" in ci
    assert "continue-on-error" not in ci
    assert "|| true" not in ci


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_script_passes_shellcheck(script: Path) -> None:
    deploy_toolchain.run([str(deploy_toolchain.shellcheck()), str(script)], cwd=REPO_ROOT)


@pytest.mark.parametrize("script,tool", DEPLOY_SCRIPTS.items())
def test_deploy_script_names_the_missing_tool(script: str, tool: str, tmp_path: Path) -> None:
    # A PATH with bash and coreutils only: no minikube, kubectl, helm.
    for needed in ("bash", "dirname", "cat"):
        (tmp_path / needed).symlink_to(
            subprocess.check_output(["which", needed], text=True).strip()
        )
    result = subprocess.run(
        [str(tmp_path / "bash"), str(REPO_ROOT / "scripts" / "deploy" / script), "values.yaml"],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path), "HOME": os.environ.get("HOME", "/tmp")},
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert f"'{tool}' is not installed" in result.stderr
