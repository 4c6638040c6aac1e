"""Read deploy/Dockerfile's stages so tests can start a service exactly as its image would: the
environment its stages set and the command its target runs, with the image's paths (/app,
/opt/venv) mapped onto this checkout and its venv."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from deploy_toolchain import REPO_ROOT

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
# Where the image keeps the sources and the venv -> where this checkout keeps them.
IMAGE_ROOTS = {"/app": REPO_ROOT, "/opt/venv": REPO_ROOT / ".venv"}


@dataclass
class Stage:
    base: str
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] | None = None


def stages(text: str | None = None) -> dict[str, Stage]:
    text = text if text is not None else DOCKERFILE.read_text()
    logical_lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical_lines:
        if match := re.match(r"^FROM (\S+) AS (\S+)$", line):
            current = found[match.group(2)] = Stage(base=match.group(1))
        elif current is not None and line.startswith("ENV "):
            current.env.update(pair.split("=", 1) for pair in shlex.split(line[4:]))
        elif current is not None and line.startswith("CMD "):
            current.cmd = json.loads(line[4:])
    return found


def on_this_machine(
    value: str, roots: dict[str, Path] | None = None, *, shell: bool = False
) -> str:
    """`value` with each image path that starts a word or a PATH entry mapped onto this
    checkout, in one pass: a checkout whose own path holds `/app/` (or a space) is never
    mapped again. In a `shell` script the checkout's path is quoted, so a space stays in it."""
    roots = IMAGE_ROOTS if roots is None else roots
    alternatives = "|".join(re.escape(root) for root in roots)
    image_path = re.compile(rf"(?<![^\s:=\"'])({alternatives})(?=/|$|[\s:\"'])")
    quote = shlex.quote if shell else str
    return image_path.sub(lambda match: quote(str(roots[match.group(1)])), value)


def target(name: str) -> tuple[list[str], dict[str, str]]:
    """(command, environment) of the image target `name`, inherited through its stages."""
    all_stages = stages()
    chain: list[Stage] = []
    stage_name: str | None = name
    while stage_name in all_stages:
        chain.append(all_stages[stage_name])
        stage_name = all_stages[stage_name].base
    if not chain:
        raise KeyError(f"deploy/Dockerfile has no target {name}")
    environment: dict[str, str] = {}
    for stage in reversed(chain):
        environment.update({key: on_this_machine(value) for key, value in stage.env.items()})
    command = next(stage.cmd for stage in chain if stage.cmd is not None)
    if command[:2] == ["sh", "-c"]:
        return [*command[:2], on_this_machine(command[2], shell=True)], environment
    return [on_this_machine(part) for part in command], environment
