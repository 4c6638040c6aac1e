#!/usr/bin/env bash
# The Dapr control plane on the `just cluster-up` cluster (called by scripts/cluster/up.sh):
# Dapr's own Helm chart, from the dapr module of infra/dapr-build (the release daprd is built
# from), rendered with helm and applied; images from scripts/cluster/images.sh, already in the
# node's containerd. Values that differ from the chart's defaults, and why:
#   - every image is ours (localhost/taskflow-cluster), never pulled (imagePullPolicy Never);
#     the five control-plane services share one image (one archive to build and import);
#   - the scheduler's etcd and placement's Raft log in memory: the cluster has no storage
#     provisioner for their PersistentVolumeClaims (and is wiped at cluster-down anyway).
# mTLS stays on (the chart's default): sentry makes the trust bundle and signs every sidecar's
# and control-plane service's certificate.
set -euo pipefail
source "$(dirname "$0")/common.sh"

helm_version=$(sed -n 's/^HELM_VERSION=//p' deploy/versions.env)
helm=$PWD/.cache/tools/bin/helm-$helm_version
[ -x "$helm" ] || fail "no $helm: run scripts/cluster/build.sh"
chart=$(cd infra/dapr-build && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/dapr/dapr)/charts/dapr
[ -f "$chart/Chart.yaml" ] || fail "no Dapr chart in the dapr module ($chart)"
k8s_version=$(sed -n 's#^[[:space:]]*k8s.io/kubernetes v\([0-9.]*\).*#\1#p' infra/k8s-build/go.mod)

control_plane_image=$DAPR_REGISTRY/dapr:$DAPR_TAG
"$helm" show crds "$chart" >"$RUN_DIR/dapr-crds.yaml"
"$helm" template dapr "$chart" --namespace "$DAPR_NAMESPACE" \
    --kube-version "$k8s_version" \
    --set "global.registry=$DAPR_REGISTRY" --set "global.tag=$DAPR_TAG" \
    --set global.imagePullPolicy=Never \
    --set "dapr_operator.image.name=$control_plane_image" \
    --set "dapr_sentry.image.name=$control_plane_image" \
    --set "dapr_placement.image.name=$control_plane_image" \
    --set "dapr_scheduler.image.name=$control_plane_image" \
    --set "dapr_sidecar_injector.injectorImage.name=$control_plane_image" \
    --set "dapr_sidecar_injector.image.name=$DAPR_REGISTRY/daprd:$DAPR_TAG" \
    --set dapr_sidecar_injector.sidecarImagePullPolicy=Never \
    --set dapr_scheduler.cluster.inMemoryStorage=true \
    --set dapr_placement.cluster.forceInMemoryLog=true \
    >"$RUN_DIR/dapr.yaml"
kube create namespace "$DAPR_NAMESPACE" --dry-run=client -o yaml | kube apply -f - >/dev/null
# Server-side: the CRDs are too large for client-side apply's last-applied annotation. The chart
# holds a Configuration, so its kind must be served before the rest is applied.
kube apply --server-side --force-conflicts -f "$RUN_DIR/dapr-crds.yaml" >/dev/null
kube wait --for condition=established --timeout=60s -f "$RUN_DIR/dapr-crds.yaml" >/dev/null
kube apply --server-side --force-conflicts -f "$RUN_DIR/dapr.yaml" >/dev/null
for workload in deployment/dapr-sentry deployment/dapr-operator deployment/dapr-sidecar-injector \
    statefulset/dapr-placement-server statefulset/dapr-scheduler-server; do
    kube -n "$DAPR_NAMESPACE" rollout status "$workload" --timeout=300s >/dev/null ||
        fail "Dapr's $workload did not become ready; see scripts/cluster/kubectl.sh -n $DAPR_NAMESPACE describe pods"
done
say "Dapr $DAPR_TAG control plane ready in namespace $DAPR_NAMESPACE"
