#!/usr/bin/env bash
# kubectl (built with the cluster) as the admin of the `just cluster-up` cluster, run inside the
# node's network namespace (the API server listens only there):
#   scripts/cluster/kubectl.sh get nodes -o wide
set -euo pipefail
here=$PWD
source "$(dirname "$0")/common.sh"
cd "$here" # common.sh works from the checkout's root; file arguments are relative to the caller
kube "$@"
