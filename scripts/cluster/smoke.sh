#!/usr/bin/env bash
# `just cluster-smoke`: what a user of the `just cluster-up` cluster would notice first.
#   1. the node is Ready and CoreDNS answers;
#   2. a TaskFlow image (from `just images`, in podman's store) runs as a pod: it is imported into
#      the node's containerd, scheduled, started, and its readiness probe (/healthz) passes;
#   3. /healthz answers on the pod's address from the node;
#   4. from inside the pod (kubectl exec: API server -> kubelet -> containerd), the Service name
#      resolves through CoreDNS and /healthz answers through the Service's ClusterIP (kube-proxy);
#   5. kubectl logs shows the pod's output.
# TASKFLOW_CLUSTER_SMOKE_IMAGE names another image (it must serve GET /healthz on $PORT, 8080).
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_root

NAMESPACE=taskflow-smoke
started=$SECONDS
check() { echo "  ok: $*"; }

[ "$(kube get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] ||
    fail "node $NODE_NAME is not Ready (is the cluster up? just cluster-up)"
kube get nodes
check "node $NODE_NAME Ready"
kube -n kube-system rollout status deployment/coredns --timeout=60s >/dev/null
check "CoreDNS ready"

# `just images` keeps its images in this checkout's own store, reached through scripts/podman.sh;
# without that script, podman's default store (or the one CONTAINERS_STORAGE_CONF names).
podman=(podman)
[ -x scripts/podman.sh ] && podman=(scripts/podman.sh)
image=${TASKFLOW_CLUSTER_SMOKE_IMAGE:-}
if [ -z "$image" ]; then
    for name in localhost/taskflow/api localhost/taskflow/write-audit; do
        image=$("${podman[@]}" images --format '{{.Repository}}:{{.Tag}}' \
            --filter "reference=$name" | head -n 1)
        [ -n "$image" ] && break
    done
fi
[ -n "$image" ] || fail "no TaskFlow image in podman's store: run \`just images\` first"
"${podman[@]}" save -q --format docker-archive "$image" |
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import - >/dev/null
check "imported $image into the node's containerd"

kube delete namespace "$NAMESPACE" --ignore-not-found --wait=true >/dev/null
kube create namespace "$NAMESPACE" >/dev/null
kube -n "$NAMESPACE" apply -f - >/dev/null <<EOF_MANIFEST
apiVersion: v1
kind: Pod
metadata:
  name: taskflow-api
  labels: {app: taskflow-smoke}
spec:
  containers:
  - name: taskflow
    image: $image
    imagePullPolicy: Never
    ports: [{containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: taskflow
spec:
  selector: {app: taskflow-smoke}
  ports: [{port: 80, targetPort: 8080}]
EOF_MANIFEST
kube -n "$NAMESPACE" wait --for=condition=Ready pod/taskflow-api --timeout=180s >/dev/null ||
    { kube -n "$NAMESPACE" describe pod taskflow-api >&2; fail "the TaskFlow pod did not become Ready"; }
check "pod running $image is Ready (its /healthz readiness probe passed)"

pod_ip=$(kube -n "$NAMESPACE" get pod taskflow-api -o jsonpath='{.status.podIP}')
in_node curl -fsS "http://$pod_ip:8080/healthz" >/dev/null
check "GET http://$pod_ip:8080/healthz from the node: 200"

# The image has Python (every TaskFlow image runs it); no curl or nslookup needed in it.
# kube-proxy programs the new Service a moment after the pod turns Ready: retried for 60 s.
kube -n "$NAMESPACE" exec taskflow-api -- python -c '
import socket, time, urllib.request
name = "taskflow.taskflow-smoke.svc.cluster.local"
deadline = time.monotonic() + 60
while True:
    try:
        address = socket.gethostbyname(name)
        # The full name: the pod'"'"'s own /etc/hosts would answer a bare host name.
        with urllib.request.urlopen(f"http://{name}/healthz", timeout=5) as answer:
            assert answer.status == 200, answer.status
        break
    except OSError as error:
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: {error}")
        time.sleep(0.5)
print(f"    {name} -> {address}; GET http://{name}/healthz -> {answer.status}")
'
check "inside the pod: the Service name resolves (CoreDNS) and answers through its ClusterIP"

[ -n "$(kube -n "$NAMESPACE" logs taskflow-api)" ] || fail "kubectl logs showed nothing"
check "kubectl logs shows the pod's output"

kube delete namespace "$NAMESPACE" --wait=false >/dev/null
say "smoke passed in $((SECONDS - started))s"
