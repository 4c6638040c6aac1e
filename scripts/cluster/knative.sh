#!/usr/bin/env bash
# Knative Serving on the `just cluster-up` cluster (called by scripts/cluster/up.sh): the release's
# own manifests from the modules of infra/knative-build (knative.dev/serving's config/core, and
# the CRDs and config-network it takes from knative.dev/networking and knative.dev/caching at the
# versions serving requires), each `ko://knative.dev/serving/cmd/<name>` image reference replaced
# by the image scripts/cluster/images.sh built here.
# The networking layer (KIngress) is scripts/cluster/ingress.sh's Traefik: Envoy has no binary
# here (Kourier, Istio, Contour are out).
set -euo pipefail
source "$(dirname "$0")/common.sh"

module_dir() { (cd infra/knative-build && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "$1"); }
serving=$(module_dir knative.dev/serving)/config/core
networking=$(module_dir knative.dev/networking)/config
caching=$(module_dir knative.dev/caching)/config

# render FILE...: the files as one multi-document stream, with our images.
render() {
    local file
    for file in "$@"; do
        cat "$file"
        printf '\n---\n'
    done | sed -E "s#ko://knative.dev/serving/cmd/([a-z-]+)#$KNATIVE_REGISTRY/knative-\\1:$KNATIVE_TAG#g"
}
render "$serving"/300-resources/*.yaml "$networking"/certificate.yaml \
    "$networking"/domain-claim.yaml "$networking"/ingress.yaml "$networking"/serverlessservice.yaml \
    "$caching"/image.yaml >"$RUN_DIR/knative-crds.yaml"
# shellcheck disable=SC2046  # one file name per line, none with spaces (a module's own files)
render $(find "$serving" -name '*.yaml' ! -path '*/300-resources/*' | sort) \
    "$networking"/config-network.yaml >"$RUN_DIR/knative-serving.yaml"

kube apply --server-side --force-conflicts -f "$RUN_DIR/knative-crds.yaml" >/dev/null
kube wait --for condition=established --timeout=60s -f "$RUN_DIR/knative-crds.yaml" >/dev/null
kube apply --server-side --force-conflicts -f "$RUN_DIR/knative-serving.yaml" >/dev/null
# No registry answers here, and the controller resolves each revision's image tag to a digest
# unless its registry is in config-deployment's registries-skipping-tag-resolving (default
# kind.local, ko.local, dev.local). A `localhost/...` name is no registry name to it
# (go-containerregistry's name.NewRepository takes a first part with no '.' or ':' as a path on
# the default registry), so the Knative Services here name their images dev.local/taskflow/<name>
# as the chart's values-minikube does (scripts/cluster/smoke.sh tags them so in the node), and
# this setting keeps its default.
for workload in webhook controller activator autoscaler; do
    kube -n "$KNATIVE_NAMESPACE" rollout status "deployment/$workload" --timeout=300s >/dev/null ||
        fail "Knative's $workload did not become ready; see scripts/cluster/kubectl.sh -n $KNATIVE_NAMESPACE describe pods"
done
say "Knative Serving $KNATIVE_TAG ready in namespace $KNATIVE_NAMESPACE"
