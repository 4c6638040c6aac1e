"""`python -m taskflow_dev.local.images` (`just images`): build every TaskFlow image with podman.

No container registry is reachable here, so nothing is pulled:
- The bases are Debian bookworm root filesystems made with debootstrap from the mirror that apt's
  own sources name, imported with `podman import`: one with python3 for the services, one with
  PostgreSQL and a Java runtime for the infrastructure containers.
- The eight service images are deploy/Dockerfile's targets (the file CD builds), with the Debian
  base passed as PYTHON_IMAGE. pip inside the build reaches the package index with the host's
  own pip settings and CA bundle, handed in as build secrets (never written into an image).
- PostgreSQL and Kafka images (infra/containers/) add an entry script, and Kafka's Maven jars
  (scripts/kafka.sh jars) to the infrastructure base.

Everything lives in .cache (scripts/podman.sh keeps podman's store there): a base is made once per
package list, and podman's layer cache reruns the dependency layer only when pyproject.toml
changes, so a rebuild after a code change takes seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from taskflow.config import REPO_ROOT

log = logging.getLogger("taskflow.images")

PODMAN = str(REPO_ROOT / "scripts" / "podman.sh")
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
VALUES = REPO_ROOT / "deploy" / "helm" / "taskflow" / "values.yaml"
CONTAINERS = REPO_ROOT / "infra" / "containers"
CACHE = REPO_ROOT / ".cache" / "images"
SUITE = "bookworm"  # python:3.11-slim's Debian release; its python3 is 3.11 too
# The local images of the infrastructure the chart leaves to operators (Strimzi, a managed
# PostgreSQL): not part of the chart's image list, so named here.
POSTGRES_IMAGE = "localhost/taskflow-local/postgres:dev"
KAFKA_IMAGE = "localhost/taskflow-local/kafka:dev"
# deploy/Dockerfile's target for the local event router (`just up --containers` only).
ROUTER_TARGET = "router"


@dataclass(frozen=True)
class Base:
    """A Debian root filesystem with `packages`, imported as a podman image."""

    name: str
    packages: tuple[str, ...]

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{SUITE} {' '.join(self.packages)}".encode()).hexdigest()[:12]

    @property
    def image(self) -> str:
        return f"localhost/taskflow-base/{self.name}:{self.key}"


PYTHON_BASE = Base("python", ("python3", "python3-venv", "ca-certificates"))
# PostgreSQL and Kafka's Java in one root filesystem: one debootstrap instead of two.
INFRA_BASE = Base("infra", ("postgresql", "openjdk-17-jre-headless", "procps"))


def podman(*arguments: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PODMAN, *arguments], check=True, text=True, capture_output=capture)


def image_exists(image: str) -> bool:
    return subprocess.run([PODMAN, "image", "exists", image], check=False).returncode == 0


def service_images() -> dict[str, str]:
    """Each chart service -> the image the chart runs it from (<repository>/<service>:<tag>),
    read from values.yaml, as templates/_helpers.tpl's taskflow.image forms it; and the local
    router's image beside them."""
    values = yaml.safe_load(VALUES.read_text())
    image = values["image"]
    return {
        name: f"localhost/{image['repository']}/{name}:{image['tag']}"
        for name in [*values["services"], ROUTER_TARGET]
    }


def debian_mirror() -> str:
    """The mirror that apt on this machine uses for bookworm, from its own sources (deb822
    .sources files or one-line .list files): the one place this machine says where Debian is."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text()
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = dict(
                    line.split(":", 1)
                    for line in stanza.splitlines()
                    if ":" in line and line[0] != "#"
                )
                suites = fields.get("Suites", "").split()
                if "deb" in fields.get("Types", "").split() and SUITE in suites:
                    return fields["URIs"].split()[0]
        elif path.suffix in (".list", ""):
            for line in text.splitlines():
                words = [w for w in line.split() if not w.startswith("[")]
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
    raise RuntimeError(f"apt's sources name no mirror for Debian {SUITE}")


def ensure_base(base: Base) -> str:
    """Import the base image, making its root filesystem with debootstrap the first time."""
    if image_exists(base.image):
        return base.image
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"{base.name}-{base.key}.tar"
    if not archive.exists():
        log.info("making the %s base with debootstrap (%s)", base.name, ", ".join(base.packages))
        # Outside the checkout: a root filesystem under construction has /proc mounted in it.
        with tempfile.TemporaryDirectory(prefix="taskflow-rootfs-") as rootfs:
            try:
                subprocess.run(
                    [
                        "debootstrap",
                        "--variant=minbase",
                        f"--include={','.join(base.packages)}",
                        SUITE,
                        rootfs,
                        debian_mirror(),
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            finally:
                # A debootstrap that failed half-way may leave them mounted: never delete
                # through a mount.
                for mount in ("proc", "sys"):
                    subprocess.run(
                        ["umount", "--recursive", "--lazy", f"{rootfs}/{mount}"],
                        check=False,
                        capture_output=True,
                    )
            # Package lists and downloaded .debs are no part of an image.
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (Path(rootfs) / junk).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            partial = archive.with_suffix(".partial")
            subprocess.run(["tar", "-C", rootfs, "-cf", str(partial), "."], check=True)
            partial.replace(archive)
    log.info("importing %s", base.image)
    podman("import", "--quiet", str(archive), base.image, capture=True)
    return base.image


@contextmanager
def pip_secrets() -> Iterator[list[str]]:
    """Build secrets that let pip inside the build reach the package index as pip on this
    machine does: a pip.conf with the host's index settings, and the CA bundle pip's own
    configuration names as `cert`. Read here at build time, never stored in a file of the
    repository or a layer of the image (deploy/Dockerfile mounts them for one RUN only)."""
    settings = pip_config()
    with tempfile.TemporaryDirectory(prefix="taskflow-pip-") as folder:
        lines = ["[global]"]
        arguments: list[str] = []
        for name in ("index-url", "extra-index-url", "trusted-host"):
            if settings.get(name):
                lines.append(f"{name} = {settings[name]}")
        cert = settings.get("cert")
        if cert and Path(cert).is_file():
            lines.append("cert = /run/secrets/pip-cert")
        else:
            # The RUN mounts both secrets: an empty one stands for "no CA bundle of our own".
            cert = str(Path(folder) / "no-cert")
            Path(cert).write_text("")
        arguments += ["--secret", f"id=pip-cert,src={cert}"]
        conf = Path(folder) / "pip.conf"
        conf.write_text("\n".join(lines) + "\n")
        arguments += ["--secret", f"id=pip-conf,src={conf}"]
        yield arguments


def pip_config() -> dict[str, str]:
    """pip's effective settings on this machine (`pip config list`: files and PIP_* variables),
    the later source winning, as pip reads them."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        settings[name] = value.strip().strip("'\"")
    return settings


def build_service(target: str, image: str, base: str, secrets: Sequence[str]) -> None:
    podman(
        "build",
        "--jobs",
        "1",
        "--layers",
        "--file",
        str(DOCKERFILE),
        "--target",
        target,
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        *secrets,
        "--tag",
        image,
        str(REPO_ROOT),
        capture=True,
    )


def kafka_jars() -> Path:
    """scripts/kafka.sh's jars (fetched once with Maven into .cache/kafka/lib)."""
    subprocess.run([str(REPO_ROOT / "scripts" / "kafka.sh"), "jars"], check=True)
    return REPO_ROOT / ".cache" / "kafka" / "lib"


def build_infra(base: str, jars: Path) -> None:
    """The PostgreSQL and Kafka images: a small context each (the repository's .dockerignore
    lets only the service sources through), hard links where possible."""
    for image, name, extra in (
        (POSTGRES_IMAGE, "postgres", []),
        (
            KAFKA_IMAGE,
            "kafka",
            [jars, REPO_ROOT / "infra" / "kafka" / "server.properties.template"],
        ),
    ):
        context = CACHE / f"context-{name}"
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        for source in [CONTAINERS / f"{name}-entrypoint.sh", *extra]:
            if source.is_dir():
                shutil.copytree(source, context / source.name, copy_function=os.link)
            else:
                os.link(source, context / source.name)
        podman(
            "build",
            "--jobs",
            "1",
            "--layers",
            "--file",
            str(CONTAINERS / f"{name}.Containerfile"),
            "--build-arg",
            f"BASE={base}",
            "--tag",
            image,
            str(context),
            capture=True,
        )


# What deploy/Dockerfile's context lets through (.dockerignore): a change to any of it, to the
# Dockerfile or to the base is a reason to ask podman again.
SERVICE_INPUTS = (
    "pyproject.toml",
    "functions",
    "specs/events",
    "frontend",
    "eventing",
    "dev/taskflow_dev",
)
SKIPPED_PARTS = ("__pycache__", "node_modules")


def inputs_digest(base: str, files: Sequence[Path]) -> str:
    """A digest of the base image's name and of every file below `files` (paths and bytes)."""
    digest = hashlib.sha256(base.encode())
    for root in files:
        paths = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in paths:
            if path.is_file() and not any(part in SKIPPED_PARTS for part in path.parts):
                if path.suffix in (".pyc",) or ".egg-info" in str(path):
                    continue
                digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def up_to_date(image: str, digest: str) -> bool:
    """The image exists and was built from exactly these inputs: nothing to ask podman. (podman's
    own layer cache would answer too, but it hashes the 190 MB venv of every target again.)"""
    stamp = CACHE / "stamps" / image.replace("/", "_")
    return stamp.exists() and stamp.read_text() == digest and image_exists(image)


def stamp(image: str, digest: str) -> None:
    path = CACHE / "stamps" / image.replace("/", "_")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(digest)


def build_all(only: Sequence[str] = ()) -> dict[str, float]:
    """Build the bases, then every image (or those named in `only`: service targets, or
    `infra` for PostgreSQL and Kafka) that is not up to date; seconds taken per step."""
    timings: dict[str, float] = {}
    wanted = service_images()
    unknown = set(only) - {*wanted, "infra"}
    if unknown:
        raise ValueError(
            f"no such image: {', '.join(sorted(unknown))} (targets: {', '.join(wanted)}, infra)"
        )

    started = time.monotonic()
    python_base = ensure_base(PYTHON_BASE)
    timings["base python"] = time.monotonic() - started
    inputs = [DOCKERFILE, REPO_ROOT / ".dockerignore", *(REPO_ROOT / p for p in SERVICE_INPUTS)]
    digest = inputs_digest(python_base, inputs)
    with pip_secrets() as secrets:
        for target, image in wanted.items():
            if (only and target not in only) or up_to_date(image, digest):
                continue
            log.info("building %s (deploy/Dockerfile --target %s)", image, target)
            started = time.monotonic()
            build_service(target, image, python_base, secrets)
            stamp(image, digest)
            timings[target] = time.monotonic() - started
    if not only or "infra" in only:
        started = time.monotonic()
        infra_base = ensure_base(INFRA_BASE)
        timings["base infra"] = time.monotonic() - started
        jars = kafka_jars()
        infra_digest = inputs_digest(
            infra_base,
            [CONTAINERS, jars, REPO_ROOT / "infra" / "kafka" / "server.properties.template"],
        )
        if not (up_to_date(POSTGRES_IMAGE, infra_digest) and up_to_date(KAFKA_IMAGE, infra_digest)):
            log.info("building %s and %s", POSTGRES_IMAGE, KAFKA_IMAGE)
            started = time.monotonic()
            build_infra(infra_base, jars)
            for image in (POSTGRES_IMAGE, KAFKA_IMAGE):
                stamp(image, infra_digest)
            timings["postgres+kafka"] = time.monotonic() - started
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m taskflow_dev.local.images", description=__doc__
    )
    parser.add_argument("only", nargs="*", help="service targets to build (default: all), or infra")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s | %(message)s")
    started = time.monotonic()
    try:
        timings = build_all(arguments.only)
    except subprocess.CalledProcessError as error:
        log.error("%s failed:\n%s%s", " ".join(error.cmd), error.stdout or "", error.stderr or "")
        return 1
    except ValueError as error:
        parser.error(str(error))
    for name, seconds in timings.items():
        log.info("%-18s %6.1f s", name, seconds)
    if not set(timings) - {"base python", "base infra"}:
        log.info("every image is up to date")
    log.info("all images built in %.1f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
