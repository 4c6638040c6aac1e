#!/usr/bin/env bash
# Shared by scripts/deploy/*.sh: pinned versions, tool checks, kubectl on the chosen context.
# shellcheck disable=SC2034  # the sourcing scripts use these
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../deploy/versions.env
source "$REPO_ROOT/deploy/versions.env"
NAMESPACE=taskflow
CHART="$REPO_ROOT/deploy/helm/taskflow"
SERVICES=(api mcp create-task spawn-recurrence send-reminder write-audit broadcast-update dead-letter)

die() {
    echo "error: $*" >&2
    exit 1
}

# require_tool NAME HINT: stop before doing anything when a tool is missing.
require_tool() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed or not on PATH. $2"
}

# kube ARGS: kubectl on KUBE_CONTEXT when set, else on the current context.
kube() {
    if [ -n "${KUBE_CONTEXT:-}" ]; then
        kubectl --context "$KUBE_CONTEXT" "$@"
    else
        kubectl "$@"
    fi
}

helm_kube() {
    if [ -n "${KUBE_CONTEXT:-}" ]; then
        helm --kube-context "$KUBE_CONTEXT" "$@"
    else
        helm "$@"
    fi
}
