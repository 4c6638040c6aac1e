#!/usr/bin/env bash
# Follow the logs of one service (default: all of them): scripts/deploy/logs.sh [SERVICE]
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
require_tool kubectl "Install it: https://kubernetes.io/docs/tasks/tools/"

service=${1:-}
if [ -n "$service" ]; then
    printf '%s\n' "${SERVICES[@]}" | grep -qx "$service" || die "unknown service $service (one of: ${SERVICES[*]})"
    kube logs -n "$NAMESPACE" -f --tail=100 -l "serving.knative.dev/service=$service" -c "$service"
else
    kube logs -n "$NAMESPACE" -f --tail=20 --prefix --max-log-requests=20 \
        -l app.kubernetes.io/part-of=taskflow --all-containers
fi
