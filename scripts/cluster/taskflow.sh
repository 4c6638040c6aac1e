#!/usr/bin/env bash
# Stage 5 (issue 15): TaskFlow's chart installed and running on the `just cluster-up` cluster, and
# the product smoke (scripts/deploy/smoke.sh) passing against it through the Traefik ingress.
#   1. the images of every chart service (`just images`, podman's store) and PostgreSQL's
#      (`just images infra`) are imported into the node's containerd, the services' tagged
#      dev.local/taskflow/<name>:dev as values-minikube names them;
#   2. PostgreSQL's claim (the chart's StatefulSet, data-postgres-0) is bound to a hostPath
#      volume on the node (no provisioner runs here), owned by the image's postgres user;
#   3. scripts/deploy/deploy.sh installs the chart with values-minikube.yaml and
#      scripts/cluster/manifests/values-cluster.yaml (Strimzi's objects dropped by a
#      post-renderer: Kafka already runs at the address they would make), with secrets made for
#      this run, applies the Brokers and Triggers and waits for every Knative Service and Broker;
#   4. scripts/deploy/smoke.sh runs from the node's network namespace against
#      http://api.taskflow.taskflow.test, a name that resolves (in a private mount namespace's
#      /etc/hosts) to Traefik's public Service: sign-up, a task, its audit history through the
#      outbox, the Kafka broker and write-audit.
# kubectl and helm reach the API server only from inside the node's network namespace: deploy.sh
# runs with shims for both on its PATH.
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_root

NAMESPACE=taskflow
started=$SECONDS
check() { echo "  ok: $*"; }
podman=(podman)
[ -x scripts/podman.sh ] && podman=(scripts/podman.sh)
POSTGRES_IMAGE=localhost/taskflow-local/postgres:dev
POSTGRES_DATA=/var/lib/taskflow-cluster/postgres-data

# 1. Images: one archive for all (the services share the Python base's layers).
mapfile -t services < <(.venv/bin/python -c '
import yaml
print("\n".join(yaml.safe_load(open("deploy/helm/taskflow/values.yaml"))["services"]))')
images=()
for service in "${services[@]}"; do
    "${podman[@]}" image exists "localhost/taskflow/$service:dev" ||
        fail "no image localhost/taskflow/$service:dev in podman's store: run \`just images\` first"
    images+=("localhost/taskflow/$service:dev")
done
"${podman[@]}" image exists "$POSTGRES_IMAGE" ||
    fail "no image $POSTGRES_IMAGE in podman's store: run \`just images infra\` first"
loaded=$SECONDS
"${podman[@]}" save -q -m --format docker-archive "${images[@]}" "$POSTGRES_IMAGE" |
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import - >/dev/null
for service in "${services[@]}"; do
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io images tag --force \
        "localhost/taskflow/$service:dev" "dev.local/taskflow/$service:dev" >/dev/null
done
check "imported ${#services[@]} service images (dev.local/taskflow/<name>:dev) and $POSTGRES_IMAGE into the node's containerd in $((SECONDS - loaded)) s"

# 2. PostgreSQL's volume. The image runs as its postgres user, who must own the data folder.
postgres_ids=$("${podman[@]}" run --rm --network none --entrypoint id "$POSTGRES_IMAGE" -u)
postgres_ids+=:$("${podman[@]}" run --rm --network none --entrypoint id "$POSTGRES_IMAGE" -g)
# A former run's release goes first, by helm, not by deleting the namespace: that waits out the
# longest termination grace period of the Knative pods (600 s for mcp and broadcast-update).
shims=$RUN_DIR/shims
mkdir -p "$shims"
cat >"$shims/kubectl" <<EOF
#!/bin/sh
exec nsenter --net=/run/netns/$NETNS -- "$BIN/kubectl" --kubeconfig "$PKI/admin.kubeconfig" "\$@"
EOF
helm=$PWD/.cache/tools/bin/helm-$(sed -n 's/^HELM_VERSION=//p' deploy/versions.env)
[ -x "$helm" ] || fail "no helm at $helm"
cat >"$shims/helm" <<EOF
#!/bin/sh
KUBECONFIG="$PKI/admin.kubeconfig" exec nsenter --net=/run/netns/$NETNS -- "$helm" "\$@"
EOF
chmod +x "$shims/kubectl" "$shims/helm"
if "$shims/helm" status taskflow --namespace "$NAMESPACE" >/dev/null 2>&1; then
    "$shims/helm" uninstall taskflow --namespace "$NAMESPACE" --wait --timeout 5m >/dev/null
fi
kube -n "$NAMESPACE" delete persistentvolumeclaim data-postgres-0 --ignore-not-found \
    --wait=true >/dev/null
kube delete persistentvolume taskflow-postgres-data --ignore-not-found --wait=true >/dev/null
rm -rf "$POSTGRES_DATA"
install -d -o "${postgres_ids%%:*}" -g "${postgres_ids##*:}" -m 0700 "$POSTGRES_DATA"
size=$(.venv/bin/python -c '
import yaml
print(yaml.safe_load(open("deploy/helm/taskflow/values.yaml"))["postgres"]["storageSize"])')
kube apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: taskflow-postgres-data
spec:
  capacity: {storage: $size}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: $NAMESPACE, name: data-postgres-0}
  hostPath: {path: $POSTGRES_DATA, type: Directory}
EOF
check "hostPath volume $POSTGRES_DATA ($size, owner $postgres_ids) reserved for the claim $NAMESPACE/data-postgres-0"

# 3. The chart, through scripts/deploy/deploy.sh.
secret() { .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))'; }
deployed=$SECONDS
PATH="$shims:$PATH" scripts/deploy/deploy.sh deploy/helm/taskflow/values-minikube.yaml \
    scripts/cluster/manifests/values-cluster.yaml -- \
    --set "secrets.values.JWT_SECRET=$(secret)" \
    --set "secrets.values.TASKFLOW_COMMAND_KEY=$(secret)" \
    --set "secrets.values.APP_API_TOKEN=$(secret)" \
    --post-renderer "$PWD/scripts/cluster/without-strimzi.sh" --timeout 10m 2>&1 |
    sed -u 's/^/    deploy: /' || {
    kube -n "$NAMESPACE" get ksvc,pods,jobs,pvc,broker,trigger >&2 || true
    fail "scripts/deploy/deploy.sh failed (above)"
}
kube -n "$NAMESPACE" get ksvc,pods
check "the chart is installed: every Knative Service and Broker Ready, $((SECONDS - deployed)) s"

# 4. The product smoke through Traefik's public Service, by name.
traefik_ip=$(kube -n "$INGRESS_NAMESPACE" get service traefik -o jsonpath='{.spec.clusterIP}')
hosts=$RUN_DIR/taskflow-hosts
{
    cat /etc/hosts
    echo "$traefik_ip api.$NAMESPACE.$KNATIVE_DOMAIN"
} >"$hosts"
smoked=$SECONDS
# shellcheck disable=SC2016  # $1 and $@ belong to the inner shell
in_node unshare --mount sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$hosts" \
    env SMOKE_TIMEOUT="${SMOKE_TIMEOUT:-180}" scripts/deploy/smoke.sh \
    "http://api.$NAMESPACE.$KNATIVE_DOMAIN" 2>&1 | sed -u 's/^/    smoke: /' || {
    kube -n "$NAMESPACE" get ksvc,pods >&2 || true
    fail "scripts/deploy/smoke.sh failed against the chart (above)"
}
check "scripts/deploy/smoke.sh passed through Traefik (http://api.$NAMESPACE.$KNATIVE_DOMAIN -> $traefik_ip) in $((SECONDS - smoked)) s"
say "TaskFlow's chart installed and smoke-tested in $((SECONDS - started))s"
