#!/usr/bin/env bash
# podman with TaskFlow's settings: scripts/podman.sh ARGS... runs `podman ARGS...`.
# - infra/containers/containers.conf: runc and cgroupfs (see that file for why).
# - Images, layers and containers live in .cache/containers (gitignored) of this checkout, not in
#   the machine's shared store: `just images` reuses its own layers, and two checkouts (or two
#   engineers) never share or delete each other's images. podman's run-time state goes under
#   /run, keyed by the checkout's path (its sockets need a short path).
# Installs podman, runc and debootstrap from Debian's packages when they are missing (as root).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v podman >/dev/null || ! command -v runc >/dev/null ||
    ! command -v debootstrap >/dev/null; then
    [ "$(id -u)" -eq 0 ] || {
        echo "podman.sh: podman, runc and debootstrap are missing; run: sudo apt-get install podman runc debootstrap" >&2
        exit 1
    }
    echo "podman.sh: installing podman, runc and debootstrap (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq podman runc debootstrap; } >/dev/null
fi

store="$repo/.cache/containers"
key=$(printf '%s' "$repo" | sha256sum | cut -c1-12)
mkdir -p "$store/storage"
if [ ! -f "$store/storage.conf" ]; then
    printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "/run/taskflow-containers-%s"\n' \
        "$store/storage" "$key" >"$store/storage.conf"
fi
export CONTAINERS_CONF="$repo/infra/containers/containers.conf"
export CONTAINERS_STORAGE_CONF="$store/storage.conf"
exec podman "$@"
