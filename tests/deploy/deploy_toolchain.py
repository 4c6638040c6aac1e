"""The validation toolchain of tests/deploy, fetched and built once into the gitignored .cache.

- kubeconform, actionlint and helm: `go install` of pinned versions from the Go module proxy.
- shellcheck: Debian's package (apt-get) when missing.
- JSON Schemas: built-in kinds from k8s.io/kubernetes' OpenAPI document, CRDs from the Go modules
  of Knative Serving, Eventing, eventing-kafka-broker and Dapr, and Strimzi's CRDs generated from
  its Maven artifacts (io.strimzi:api + crd-generator), all at the versions of
  deploy/versions.env. Nothing fetched is committed.

Everything is keyed by the pinned versions, so a rerun finds it all in place in seconds. A file
lock per artifact keeps two test sessions from building the same thing at the same time.
scripts/prepare.sh builds them all before the tests, at the same time as its other builds:
`python tests/deploy/deploy_toolchain.py tools|schemas|validators`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kube_schemas

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = REPO_ROOT / ".cache"
TOOLS_BIN = CACHE / "tools" / "bin"
VERSIONS_FILE = REPO_ROOT / "deploy" / "versions.env"
STRIMZI_KINDS = {
    "io.strimzi.api.kafka.model.kafka.Kafka": "kafka.yaml",
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool": "kafkanodepool.yaml",
    "io.strimzi.api.kafka.model.topic.KafkaTopic": "kafkatopic.yaml",
    "io.strimzi.api.kafka.model.user.KafkaUser": "kafkauser.yaml",
}
STRIMZI_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>taskflow.local</groupId>
  <artifactId>strimzi-crds</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId>
      <version>{version}</version></dependency>
  </dependencies>
</project>
"""


class ToolUnavailable(RuntimeError):
    pass


def versions() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in VERSIONS_FILE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {name.strip(): value.strip() for name, value in pairs}


@contextmanager
def build_lock(name: str) -> Iterator[None]:
    """One lock per artifact: a second session waits for the build it would repeat, while
    scripts/prepare.sh builds different artifacts at the same time."""
    (CACHE / "locks").mkdir(parents=True, exist_ok=True)
    with open(CACHE / "locks" / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise ToolUnavailable(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def go_tool(name: str, package: str, version: str) -> Path:
    """A Go tool built once per pinned version; the version is part of the file name."""
    binary = TOOLS_BIN / f"{name}-{version}"
    if binary.exists():
        return binary
    with build_lock(name):
        if not binary.exists():
            build_dir = CACHE / "tools" / "build" / name
            environment = {**os.environ, "GOBIN": str(build_dir), "CGO_ENABLED": "0"}
            run(
                ["go", "install", "-trimpath", "-ldflags=-s -w", f"{package}@{version}"],
                env=environment,
            )
            TOOLS_BIN.mkdir(parents=True, exist_ok=True)
            (build_dir / name).replace(binary)
    return binary


def kubeconform() -> Path:
    version = versions()["KUBECONFORM_VERSION"]
    return go_tool("kubeconform", "github.com/yannh/kubeconform/cmd/kubeconform", version)


def actionlint() -> Path:
    version = versions()["ACTIONLINT_VERSION"]
    return go_tool("actionlint", "github.com/rhysd/actionlint/cmd/actionlint", version)


def helm() -> Path:
    version = versions()["HELM_VERSION"]
    return go_tool("helm", "helm.sh/helm/v3/cmd/helm", version)


def shellcheck() -> Path:
    found = shutil.which("shellcheck")
    if found is None:
        with build_lock("shellcheck"):
            if shutil.which("shellcheck") is None:
                # A fresh machine's package lists may be empty: refresh them first.
                run(["apt-get", "update", "-q"])
                run(["apt-get", "install", "-y", "-q", "shellcheck"])
        found = shutil.which("shellcheck")
    if found is None:
        raise ToolUnavailable("shellcheck is not installed and apt-get could not install it")
    return Path(found)


def go_module_dir(module: str, version: str) -> Path:
    """The extracted source of a Go module (with its YAML) from the module proxy's zip."""
    CACHE.mkdir(exist_ok=True)
    result = run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=CACHE)
    info = json.loads(result.stdout)
    if "Error" in info:
        raise ToolUnavailable(f"{module}@{version}: {info['Error']}")
    return Path(info["Dir"])


def java_21() -> str:
    """Strimzi's crd-generator is built for Java 21: pick the first JDK new enough."""
    candidates = [os.environ.get("JAVA_HOME", ""), *map(str, Path("/usr/lib/jvm").glob("*"))]
    for home in candidates:
        java = Path(home) / "bin" / "java"
        if home and java.exists():
            banner = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
            major = banner.split('"')[1].split(".")[0] if '"' in banner else "0"
            if major.isdigit() and int(major) >= 21:
                return str(java)
    raise ToolUnavailable("Strimzi's crd-generator needs Java 21 or newer (set JAVA_HOME)")


def strimzi_crds(version: str, directory: Path) -> list[Path]:
    """Strimzi publishes no CRD YAML in a package registry, but it publishes its API classes and
    the generator that makes its release CRDs from them: run that generator."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pom.xml").write_text(STRIMZI_POM.format(version=version))
    classpath_file = directory / "classpath.txt"
    run(
        ["mvn", "-q", "-B", "dependency:build-classpath", f"-Dmdep.outputFile={classpath_file}"],
        cwd=directory,
    )
    outputs = [f"{kind}={directory / file}" for kind, file in STRIMZI_KINDS.items()]
    generator = ["io.strimzi.crdgenerator.CrdGenerator", "--yaml", "--crd-api-version", "v1"]
    versions_flags = ["--api-versions", "v1", "--storage-version", "v1"]
    classpath = classpath_file.read_text().strip()
    run([java_21(), "-cp", classpath, *generator, *versions_flags, *outputs])
    return [directory / file for file in STRIMZI_KINDS.values()]


def crd_files() -> list[Path]:
    pinned = versions()
    sources = [
        ("knative.dev/serving", pinned["KNATIVE_SERVING_MODULE"], "config/core/300-resources"),
        ("knative.dev/eventing", pinned["KNATIVE_EVENTING_MODULE"], "config/core/resources"),
        (
            "knative.dev/eventing-kafka-broker",
            pinned["KNATIVE_KAFKA_MODULE"],
            "control-plane/config/eventing-kafka-broker",
        ),
        ("github.com/dapr/dapr", "v" + pinned["DAPR_VERSION"], "charts/dapr/crds"),
    ]
    files: list[Path] = []
    for module, version, folder in sources:
        files += sorted((go_module_dir(module, version) / folder).rglob("*.yaml"))
    return files


def schema_dir() -> Path:
    """The kubeconform schema tree for the pinned versions, generated on first use."""
    key = hashlib.sha256(
        VERSIONS_FILE.read_bytes() + Path(kube_schemas.__file__).read_bytes()
    ).hexdigest()[:16]
    directory = CACHE / "schemas" / key
    done = directory / ".complete"
    if done.exists():
        return directory
    with build_lock("schemas"):
        if not done.exists():
            shutil.rmtree(directory, ignore_errors=True)
            pinned = versions()
            kubernetes = go_module_dir("k8s.io/kubernetes", "v" + pinned["KUBERNETES_VERSION"])
            swagger = json.loads((kubernetes / "api/openapi-spec/swagger.json").read_text())
            kube_schemas.write_schemas(directory, kube_schemas.openapi_v2_schemas(swagger))
            strimzi = strimzi_crds(
                pinned["STRIMZI_VERSION"], CACHE / "strimzi" / pinned["STRIMZI_VERSION"]
            )
            for crd in kube_schemas.crds_in(crd_files() + strimzi):
                kube_schemas.write_schemas(directory, kube_schemas.crd_schemas(crd))
            done.touch()
    return directory


VALIDATORS = Path(__file__).resolve().parent / "validate"
# Where the machine image puts Go when a login shell's PATH is not inherited.
GO_FALLBACK = Path("/usr/local/go/bin/go")


def go_command() -> str:
    found = shutil.which("go") or (str(GO_FALLBACK) if GO_FALLBACK.exists() else None)
    if found is None:
        raise ToolUnavailable("Go is not installed (tests/deploy/validate needs go 1.26.6+)")
    return found


def upstream_validator(name: str) -> Path:
    """`go test -c` of the Go module tests/deploy/validate/<name>, which runs the pinned releases'
    own validation code (see its validate_test.go). Built once per content of the module into
    .cache/validate, so a rerun only executes it; the Go module and build caches make a rebuild
    after an edit quick."""
    module = VALIDATORS / name
    sources = sorted(module.glob("go.*")) + sorted(module.glob("*.go"))
    key = hashlib.sha256(b"".join(path.name.encode() + path.read_bytes() for path in sources))
    binary = CACHE / "validate" / f"{name}-{key.hexdigest()[:16]}.test"
    if binary.exists():
        return binary
    with build_lock(f"validate-{name}"):
        if not binary.exists():
            binary.parent.mkdir(parents=True, exist_ok=True)
            partial = binary.with_suffix(".partial")
            # One package at a time on a shared machine; CI (scripts/test.sh) allows two.
            jobs = os.environ.get("TASKFLOW_GO_BUILD_JOBS", "1")
            build = [go_command(), "test", "-c", "-p", jobs, "-trimpath", "-o", str(partial), "."]
            # Pure Go, built as scripts/cluster/build.sh builds Kubernetes, so the packages the
            # kubernetes validator shares with that build come from the build cache.
            run(build, cwd=module, env={**os.environ, "CGO_ENABLED": "0"})
            partial.replace(binary)
            # Builds of earlier contents of the module are of no further use.
            for stale in binary.parent.glob(f"{name}-*.test"):
                if stale != binary:
                    stale.unlink()
    return binary


def main(argv: list[str]) -> int:
    """Build ahead of the tests (scripts/prepare.sh): `tools`, `schemas` or `validators`."""
    builds = {
        "tools": lambda: [kubeconform(), actionlint(), helm(), shellcheck()],
        "schemas": lambda: [schema_dir()],
        "validators": lambda: [upstream_validator(n) for n in ("knative", "dapr", "kubernetes")],
    }
    if len(argv) != 1 or argv[0] not in builds:
        print(f"usage: deploy_toolchain.py {'|'.join(builds)}", file=sys.stderr)
        return 2
    try:
        for path in builds[argv[0]]():
            print(path)
    except ToolUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
