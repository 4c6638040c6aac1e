#!/usr/bin/env bash
# The one-off preparation of `just test` (scripts/test.sh runs it before pytest; `just test
# --prepare-only` runs only this): Debian's packages the tests need, then every build that is
# cached under .cache/, the independent ones at the same time.
#
#   dapr         daprd and the Dapr scheduler from the pinned release (scripts/dapr.sh build)
#   validators   the three upstream-validation Go test binaries (tests/deploy/validate/*)
#   tools        helm, kubeconform, actionlint, shellcheck (tests/deploy/deploy_toolchain.py)
#   schemas      kubeconform's schemas: Go modules' CRDs, Kubernetes' OpenAPI, Strimzi's generator
#   images       Kafka's Maven jars, then every podman image (taskflow_dev.local.images)
#
# On a fresh machine each takes minutes (the Go builds most: CPU; the images and schemas mostly
# wait on downloads), so they overlap; on a warm one each finds its stamp and returns in seconds.
# Each build writes its own log, .cache/prepare/<name>.log. Every build is waited for and checked:
# one failing fails the whole preparation (exit 1) after the others have finished, and its log's
# tail is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

LOGS=.cache/prepare
PYTHON=.venv/bin/python

say() { echo "prepare.sh: $*" >&2; }

# --- Debian's packages: one apt-get before the builds start, since two apt-gets at once fail on
# dpkg's lock (kafka.sh would install maven, deploy_toolchain shellcheck, each on its own).
missing=()
need() { command -v "$1" >/dev/null || missing+=("$2"); }
need chromium chromium            # the browser tests drive Debian's chromium
need podman podman                # tests/containers: podman with runc, bases made by debootstrap
need runc runc
need debootstrap debootstrap
need mvn maven                    # Kafka's jars, Strimzi's CRD generator
need shellcheck shellcheck        # tests/deploy lints the deploy scripts
if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { say "missing: ${missing[*]}; run: sudo apt-get install ${missing[*]}"; exit 1; }
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A CI machine is ours alone: every Go build may use both cores there (on a shared machine each
# stays at one package and one thread, see scripts/dapr.sh).
if [ "${CI:-}" = "true" ]; then
    export TASKFLOW_GO_BUILD_JOBS="${TASKFLOW_GO_BUILD_JOBS:-2}" GOMAXPROCS="${GOMAXPROCS:-2}"
fi

toolchain() { "$PYTHON" tests/deploy/deploy_toolchain.py "$@"; }
build_dapr() { scripts/dapr.sh build; }
build_validators() { toolchain validators; }
build_tools() { toolchain tools; }
build_schemas() { toolchain schemas; }
build_images() { scripts/kafka.sh jars && "$PYTHON" -m taskflow_dev.local.images; }

# One build in the background, its log ending with how long it took (when it finished, not when
# it was waited for).
run_build() {
    local status=0 start=$SECONDS
    # Not under set -e here (a function called in a || list): each build_* is one command or an
    # && chain, so its status is its first failure.
    "build_$1" || status=$?
    echo "prepare.sh: $1 took $((SECONDS - start)) s (exit $status)"
    return "$status"
}

mkdir -p "$LOGS"
declare -A pids
for name in dapr validators tools schemas images; do
    run_build "$name" >"$LOGS/$name.log" 2>&1 &
    pids[$name]=$!
done
say "building ${!pids[*]} at once (logs: $LOGS/<name>.log)"

failed=()
for name in dapr validators tools schemas images; do
    status=0
    wait "${pids[$name]}" || status=$?
    if [ "$status" -eq 0 ]; then
        say "$(tail -n 1 "$LOGS/$name.log" | sed 's/^prepare.sh: //')"
    else
        failed+=("$name")
        say "$name FAILED (exit $status), the end of $LOGS/$name.log:"
        tail -n 40 "$LOGS/$name.log" >&2
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    say "failed: ${failed[*]}"
    exit 1
fi
say "every build ready in $SECONDS s"
