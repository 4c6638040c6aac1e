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
#      this run, applies the Brokers and Triggers and waits for every Knative Service, Broker and
#      Trigger; then the Kafka broker's dispatcher has reconciled the contract those Triggers were
#      written into (their OIDC service accounts in it);
#   4. scripts/deploy/smoke.sh runs from the node's network namespace against
#      http://api.taskflow.taskflow.test, a name that resolves (in a private mount namespace's
#      /etc/hosts) to Traefik's public Service: sign-up, a task, its audit history through the
#      outbox, the Kafka broker and write-audit;
#   5. the chart's PingSources fire: Eventing's PingSource adapter (pingsource-mt-adapter, mtping)
#      is scaled to 1 by Eventing's controller and Ready, both PingSources turn Ready, and within
#      PING_TIMEOUT seconds (90: the one-minute schedule, a wake, the adapter's jitter)
#      send-reminder has handled a ping of reminder-sweep (a CloudEvent of type
#      dev.knative.sources.ping, which only a PingSource sends) and answered POST /sweep 202: the
#      adapter's OIDC token passed the function's timer door. Read from send-reminder's own
#      metrics (taskflow_event_handling_seconds_count by type and outcome,
#      taskflow_http_requests_total by route and status) through the API server's pod proxy;
#   6. with PING_FROM_ZERO=1 only (it can take 9 minutes): create-task scales to zero, and the
#      PingSource outbox-relay (every 5 minutes) wakes it: a new pod handles the ping. The Dapr
#      cron binding `relay` cannot wake a pod, and reminder-sweep never lets send-reminder reach
#      zero (a ping a minute, pods kept 2 minutes after the last request).
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
check "the chart is installed: every Knative Service, Broker and Trigger Ready, $((SECONDS - deployed)) s"
# A Trigger's Ready comes before the Kafka broker's dispatcher holds its OIDC service account
# (measured: Ready at 14:19:44, a delivery lost at 14:19:44.7, the consumer restarted with the
# account at 14:19:45.4), and an event dispatched before then is lost (scripts/deploy/deploy.sh
# says why). So the smoke waits until the dispatcher's contract (ConfigMap
# kafka-broker-dispatcher-0, the StatefulSet's one pod) names a service account for every Trigger
# of the namespace and the dispatcher has logged that contract generation as reconciled.
triggers=$(kube -n "$NAMESPACE" get trigger -o jsonpath='{.items[*].metadata.name}')
contract_generation() { # the contract's generation once every Trigger has its account in it
    # shellcheck disable=SC2086  # one word per Trigger name
    kube -n "$EVENTING_NAMESPACE" get configmap kafka-broker-dispatcher-0 \
        -o jsonpath='{.binaryData.data}' | base64 -d | .venv/bin/python -c '
import json, sys
contract = json.load(sys.stdin)
accounts = {
    egress["reference"]["name"]
    for resource in contract.get("resources", [])
    for egress in resource.get("egresses", [])
    if egress["reference"]["namespace"] == sys.argv[1] and egress.get("oidcServiceAccountName")
}
if set(sys.argv[2:]) <= accounts:
    print(contract["generation"])' "$NAMESPACE" $triggers
}
waited=$SECONDS
until generation=$(contract_generation) && [ -n "$generation" ] &&
    kube -n "$EVENTING_NAMESPACE" logs kafka-broker-dispatcher-0 --since=30m |
    grep -o 'Reconciled contract generation contractGeneration=[0-9]*' |
        awk -F= -v want="$generation" '$NF >= want {found = 1} END {exit !found}'; do
    [ $((SECONDS - waited)) -lt 120 ] ||
        fail "the Kafka broker's dispatcher did not hold every Trigger's OIDC service account within 120 s"
    sleep 1
done
check "the Kafka broker's dispatcher reconciled contract generation $generation (every Trigger's OIDC service account), $((SECONDS - waited)) s after the chart was Ready"

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

# 5. The chart's PingSources deliver. Eventing's controller scales the adapter (applied with 0
# replicas by scripts/cluster/eventing.sh, as the release ships it) to 1 when the first PingSource
# appears; a PingSource turns Ready once its OIDC service account exists, its sink resolves and
# that Deployment is Available.
pinged=$SECONDS
until [ "$(kube -n "$EVENTING_NAMESPACE" get deployment pingsource-mt-adapter \
    -o jsonpath='{.status.readyReplicas}')" = 1 ]; do
    [ $((SECONDS - pinged)) -lt 120 ] || {
        kube -n "$EVENTING_NAMESPACE" describe deployment pingsource-mt-adapter >&2
        fail "the PingSource adapter (pingsource-mt-adapter) was not Ready within 120 s"
    }
    sleep 2
done
kube -n "$NAMESPACE" wait --for condition=Ready --timeout=60s pingsource/reminder-sweep \
    pingsource/outbox-relay >/dev/null || {
    kube -n "$NAMESPACE" get pingsource -o yaml >&2
    fail "the chart's PingSources did not turn Ready"
}
sink=$(kube -n "$NAMESPACE" get pingsource reminder-sweep -o jsonpath='{.status.sinkUri}')
audience=$(kube -n "$NAMESPACE" get pingsource reminder-sweep -o jsonpath='{.status.sinkAudience}')
check "the PingSource adapter runs (scaled to 1 by Eventing's controller); PingSources reminder-sweep ($sink, audience $audience) and outbox-relay Ready, $((SECONDS - pinged)) s"

# pings_answered SERVICE ROUTE STATUS [POD...]: "PINGS ANSWERS", summed over SERVICE's Running
# pods but the PODs named (pod/<name>): PINGS the pings (CloudEvents of type
# dev.knative.sources.ping) it handled with outcome ok (below 400: through the timer door),
# ANSWERS its answers STATUS at ROUTE. Each pod serves its metrics on the chart's metrics port.
metrics_port=$(.venv/bin/python -c '
import yaml
print(yaml.safe_load(open("deploy/helm/taskflow/values.yaml"))["metrics"]["port"])')
pings_answered() {
    local service=$1 route=$2 status=$3 pod
    shift 3
    for pod in $(kube -n "$NAMESPACE" get pods -l "serving.knative.dev/service=$service" \
        --field-selector=status.phase=Running -o name); do
        case " $* " in *" $pod "*) continue ;; esac
        kube get --raw \
            "/api/v1/namespaces/$NAMESPACE/pods/${pod#pod/}:$metrics_port/proxy/metrics" 2>/dev/null
    done | awk -v route="route=\"$route\"" -v status="status=\"$status\"" '
        /^taskflow_event_handling_seconds_count[{]/ && /type="dev.knative.sources.ping"/ &&
            /outcome="ok"/ {pings += $NF}
        /^taskflow_http_requests_total[{]/ && index($0, route) && index($0, status) {answers += $NF}
        END {print pings + 0, answers + 0}'
}
waited=$SECONDS
until read -r pings answers < <(pings_answered send-reminder /sweep 202) &&
    [ "$pings" -ge 1 ] && [ "$answers" -ge 1 ]; do
    [ $((SECONDS - waited)) -lt "${PING_TIMEOUT:-90}" ] || {
        kube -n "$EVENTING_NAMESPACE" logs deployment/pingsource-mt-adapter --tail=30 >&2 || true
        fail "send-reminder handled no ping of the PingSource reminder-sweep within ${PING_TIMEOUT:-90} s (pings ok: $pings, POST /sweep 202: $answers)"
    }
    sleep 3
done
check "the PingSource reminder-sweep fired: send-reminder handled $pings ping(s) (type dev.knative.sources.ping, its OIDC token through the timer door) and answered POST /sweep 202 $answers time(s), $((SECONDS - waited)) s after the PingSources were Ready"

# 6. (PING_FROM_ZERO=1) The PingSource outbox-relay wakes create-task from zero.
if [ "${PING_FROM_ZERO:-0}" = 1 ]; then
    waited=$SECONDS
    # At zero: the revision's Deployment scaled to 0 replicas (its last pod may still terminate).
    until [ "$(kube -n "$NAMESPACE" get deployment -l serving.knative.dev/service=create-task \
        -o jsonpath='{.items[*].spec.replicas}')" = 0 ]; do
        [ $((SECONDS - waited)) -lt 420 ] || fail "create-task did not scale to zero within 420 s"
        sleep 5
    done
    zero_pods=$(kube -n "$NAMESPACE" get pods -l serving.knative.dev/service=create-task -o name |
        tr '\n' ' ')
    check "create-task scaled to zero $((SECONDS - waited)) s after the PingSource check ($(date -u +%H:%M:%S) UTC)"
    waited=$SECONDS
    # shellcheck disable=SC2086  # the pods of before, one word each
    until read -r pings answers < <(pings_answered create-task /relay 202 $zero_pods) &&
        [ "$pings" -ge 1 ]; do
        [ $((SECONDS - waited)) -lt 360 ] || {
            kube -n "$EVENTING_NAMESPACE" logs deployment/pingsource-mt-adapter --tail=30 >&2 || true
            fail "no create-task pod handled a ping of the PingSource outbox-relay within 360 s of its scaling to zero"
        }
        sleep 3
    done
    check "the PingSource outbox-relay woke create-task from zero: a new pod handled its ping (POST /relay 202: $answers, with the Dapr cron binding's) at $(date -u +%H:%M:%S) UTC, $((SECONDS - waited)) s after the scale to zero"
fi

say "TaskFlow's chart installed and smoke-tested in $((SECONDS - started))s"
