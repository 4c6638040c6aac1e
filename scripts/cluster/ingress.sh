#!/usr/bin/env bash
# Knative Serving's KIngress on the `just cluster-up` cluster (called by scripts/cluster/up.sh after
# scripts/cluster/knative.sh): Traefik (infra/traefik-build) with its Knative provider, from
# scripts/cluster/manifests/traefik.yaml, and Knative told to use it (config-network's
# ingress-class) and to name routes http://<service>.<namespace>.$KNATIVE_DOMAIN. Nothing resolves
# that domain: a request reaches a route through Traefik's Service with the route's Host header.
# Why Traefik's own provider and not net-gateway-api: specs/deployment.md.
set -euo pipefail
source "$(dirname "$0")/common.sh"

sed -e "s#TRAEFIK_IMAGE#$TRAEFIK_IMAGE#" -e "s#INGRESS_NAMESPACE#$INGRESS_NAMESPACE#g" \
    scripts/cluster/manifests/traefik.yaml | kube apply -f - >/dev/null
kube -n "$KNATIVE_NAMESPACE" patch configmap config-network --type merge \
    -p "{\"data\":{\"ingress-class\":\"$KNATIVE_INGRESS_CLASS\"}}" >/dev/null
kube -n "$KNATIVE_NAMESPACE" patch configmap config-domain --type merge \
    -p "{\"data\":{\"$KNATIVE_DOMAIN\":\"\"}}" >/dev/null
kube -n "$INGRESS_NAMESPACE" rollout status deployment/traefik --timeout=180s >/dev/null ||
    fail "Traefik did not become ready; see scripts/cluster/kubectl.sh -n $INGRESS_NAMESPACE logs deployment/traefik"
say "KIngress ready: Traefik $TRAEFIK_TAG in namespace $INGRESS_NAMESPACE, routes at *.$KNATIVE_DOMAIN"
