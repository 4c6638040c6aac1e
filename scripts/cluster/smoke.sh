#!/usr/bin/env bash
# `just cluster-smoke`: what a user of the `just cluster-up` cluster would notice first.
#   1. the node is Ready and CoreDNS answers;
#   2. a TaskFlow image (from `just images`, in podman's store) runs as a pod: it is imported into
#      the node's containerd, scheduled, started, and its readiness probe (/healthz) passes;
#   3. /healthz answers on the pod's address from the node;
#   4. from inside the pod (kubectl exec: API server -> kubelet -> containerd), the Service name
#      resolves through CoreDNS and /healthz answers through the Service's ClusterIP (kube-proxy);
#   5. kubectl logs shows the pod's output;
#   6. Dapr: the control plane is ready, annotated pods get a daprd sidecar that turns Ready, the
#      apps read their JWT secret from the Kubernetes secret store through it, two sidecars call
#      each other over mTLS, a job scheduled through a sidecar fires back into its app (the
#      scheduler), and sentry counts the certificates it signed;
#   7. Kafka: the broker is ready, and a client pod in another namespace finds the chart's topics,
#      writes a record and reads it back, all through the bootstrap Service;
#   8. Knative Serving with Traefik as KIngress: a public and a cluster-local Knative Service turn
#      Ready, answer through the ingress (by Host header; by cluster name), the cluster-local one
#      not publicly, and the public one scales to zero and wakes for a request through the ingress;
#   9. Knative Eventing with the Kafka broker: a Kafka-class Broker (on the topic task-events) and
#      a Trigger to TaskFlow's dead-letter function (OIDC on, as the chart runs); an event sent to
#      the Broker's ingress wakes the zero-scaled function and reaches it, which verifies the
#      broker's token and logs it; an event its subscriber refuses reaches the dead-letter sink;
#  10. func: `func deploy --build=false` of the dead-letter function's func.yaml turns Ready;
#  11. the chart's objects (but Strimzi's) and the Brokers and Triggers pass admission (dry run);
#  12. the chart installed and running, scripts/deploy/smoke.sh passing against it through the
#      ingress (scripts/cluster/taskflow.sh, which also runs alone on an up cluster).
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
# Knative Services name their images dev.local/taskflow/<name> (as values-minikube does): a
# registry Knative never resolves tags at (scripts/cluster/knative.sh says why).
knative_name() { # knative_name IMAGE: the dev.local name of a localhost/taskflow/<name>:<tag> image
    local name=${1##*/}
    echo "dev.local/taskflow/${name%%:*}:dev"
}
knative_image=$(knative_name "$image")
ctr --address "$CONTAINERD_SOCKET" -n k8s.io images tag --force "$image" "$knative_image" >/dev/null

kube delete namespace "$NAMESPACE" --ignore-not-found --wait=true >/dev/null
kube create namespace "$NAMESPACE" >/dev/null
# The API refuses to start without a JWT secret: one made for this run, from a Kubernetes Secret.
jwt_secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
kube -n "$NAMESPACE" apply -f - >/dev/null <<EOF_MANIFEST
apiVersion: v1
kind: Secret
metadata: {name: taskflow-jwt}
stringData: {JWT_SECRET: $jwt_secret}
---
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
    envFrom: [{secretRef: {name: taskflow-jwt}}]
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

# Dapr (scripts/cluster/dapr.sh): two pods of the same image, annotated for Dapr, each get a
# daprd sidecar from the injector. Configured as the chart configures TaskFlow in a cluster, the
# app reads its JWT secret from the Kubernetes secret store through its sidecar (it refuses to
# start without one). Then one pod calls the other's /healthz through both sidecars: a gRPC call
# between them that needs the certificates sentry signed (mTLS is on).
for workload in deployment/dapr-sentry deployment/dapr-operator deployment/dapr-sidecar-injector \
    statefulset/dapr-placement-server statefulset/dapr-scheduler-server; do
    kube -n "$DAPR_NAMESPACE" rollout status "$workload" --timeout=60s >/dev/null ||
        fail "Dapr's $workload is not ready"
done
check "Dapr control plane ready: sentry, operator, sidecar injector, placement, scheduler"

# A Deployment, not a bare pod: Dapr's operator makes the <app-id>-dapr Service that sidecars find
# each other by only for Deployments and StatefulSets.
dapr_app() { # dapr_app NAME APP-ID
    cat <<EOF_APP
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata:
      labels: {app: $1}
      annotations:
        dapr.io/enabled: "true"
        dapr.io/app-id: $2
        dapr.io/app-port: "8080"
    spec:
      containers:
      - name: taskflow
        image: $image
        imagePullPolicy: Never
        env:
        - {name: TASKFLOW_SECRET_STORE, value: kubernetes}
        - {name: TASKFLOW_SECRET_NAME, value: taskflow-secrets}
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 2
---
EOF_APP
}
{
    cat <<EOF_MANIFEST
apiVersion: v1
kind: Secret
metadata: {name: taskflow-secrets}
stringData: {JWT_SECRET: $jwt_secret}
---
# daprd's Kubernetes secret store reads with the pod's service account: that one Secret only.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: taskflow-secrets-reader}
rules:
- {apiGroups: [""], resources: [secrets], resourceNames: [taskflow-secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: taskflow-secrets-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: taskflow-secrets-reader}
subjects: [{kind: ServiceAccount, name: default, namespace: $NAMESPACE}]
---
EOF_MANIFEST
    dapr_app taskflow-dapr-a smoke-a
    dapr_app taskflow-dapr-b smoke-b
    # The Jobs API's callback (what send-reminder receives, without its database): a server in
    # the same image that answers POST /job/<name> and lists the names it got at GET /fired.
    cat <<'EOF_APP'
apiVersion: apps/v1
kind: Deployment
metadata: {name: taskflow-dapr-jobs}
spec:
  replicas: 1
  selector: {matchLabels: {app: taskflow-dapr-jobs}}
  template:
    metadata:
      labels: {app: taskflow-dapr-jobs}
      annotations:
        dapr.io/enabled: "true"
        dapr.io/app-id: smoke-jobs
        dapr.io/app-port: "8080"
    spec:
      containers:
      - name: jobs
        image: IMAGE
        imagePullPolicy: Never
        command: [python, -c]
        args:
        - |
          import http.server
          fired = []
          class Handler(http.server.BaseHTTPRequestHandler):
              def answer(self, body):
                  self.send_response(200)
                  self.end_headers()
                  self.wfile.write(body.encode())
              def do_GET(self):
                  self.answer("\n".join(fired) if self.path == "/fired" else "ok")
              def do_POST(self):
                  self.rfile.read(int(self.headers.get("Content-Length") or 0))
                  if self.path.startswith("/job/"):
                      fired.append(self.path[len("/job/"):])
                  self.answer("")
          http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 2
EOF_APP
} | sed "s#image: IMAGE#image: $image#" | kube -n "$NAMESPACE" apply -f - >/dev/null
for app in taskflow-dapr-a taskflow-dapr-b taskflow-dapr-jobs; do
    kube -n "$NAMESPACE" rollout status "deployment/$app" --timeout=180s >/dev/null ||
        { kube -n "$NAMESPACE" describe pod -l "app=$app" >&2; fail "$app did not become Ready"; }
    containers=$(kube -n "$NAMESPACE" get pod -l "app=$app" -o jsonpath='{.items[0].spec.containers[*].name}')
    [[ " $containers " == *" daprd "* ]] || fail "no daprd sidecar was injected into $app ($containers)"
    ready=$(kube -n "$NAMESPACE" get pod -l "app=$app" \
        -o jsonpath='{.items[0].status.containerStatuses[?(@.name=="daprd")].ready}')
    [ "$ready" = true ] || fail "the daprd sidecar of $app is not Ready"
done
check "daprd sidecars injected into the annotated Deployments' pods, and Ready (their readiness probes passed)"

kube -n "$NAMESPACE" exec deployment/taskflow-dapr-a -c taskflow -- python -c '
import json, sys, urllib.request
def get(path):
    with urllib.request.urlopen(f"http://127.0.0.1:3500{path}", timeout=10) as answer:
        return answer.status, answer.read()
status, body = get("/v1.0/invoke/smoke-b.taskflow-smoke/method/healthz")
assert status == 200, (status, body)
print(f"    smoke-a -> daprd -> daprd (mTLS) -> smoke-b /healthz: {status} {body[:60]!r}")
status, body = get("/v1.0/secrets/kubernetes/taskflow-secrets")
if json.loads(body).get("JWT_SECRET") != sys.argv[1]:
    raise SystemExit("the secret store did not answer the JWT secret stored")
print(f"    GET /v1.0/secrets/kubernetes/taskflow-secrets through daprd: {status}, the value stored")
' "$jwt_secret"
check "the apps started on their JWT secret from the Kubernetes store (through daprd), and one called the other through both sidecars"

# A job due in 2 s, scheduled through the sidecar: the scheduler fires it back through the same
# sidecar to the app's /job/<name> (retried for 60 s: the scheduler is the slowest part).
kube -n "$NAMESPACE" exec deployment/taskflow-dapr-jobs -c jobs -- python -c '
import json, time, urllib.request
request = urllib.request.Request(
    "http://127.0.0.1:3500/v1.0-alpha1/jobs/smoke-reminder",
    data=json.dumps({"dueTime": "2s", "data": {"task_id": 1}}).encode(),
    headers={"Content-Type": "application/json"}, method="POST")
with urllib.request.urlopen(request, timeout=10) as answer:
    print(f"    POST /v1.0-alpha1/jobs/smoke-reminder (due in 2 s): {answer.status}")
started = time.monotonic()
while True:
    with urllib.request.urlopen("http://127.0.0.1:8080/fired", timeout=5) as answer:
        if "smoke-reminder" in answer.read().decode().split():
            break
    if time.monotonic() - started > 60:
        raise SystemExit("the job did not fire within 60 s")
    time.sleep(0.5)
print(f"    the scheduler called back POST /job/smoke-reminder after {time.monotonic() - started:.1f} s")
'
check "a Dapr job fired: scheduled through daprd, called back by the scheduler"

# Sentry signed the sidecars' certificates: its own counters, read from the node.
sentry_ip=$(kube -n "$DAPR_NAMESPACE" get pod -l app=dapr-sentry -o jsonpath='{.items[0].status.podIP}')
signed=$(in_node curl -fsS "http://$sentry_ip:9090/metrics" |
    awk '/^dapr_sentry_cert_sign_success_total/ {sum += $2} END {print sum + 0}')
[ "${signed%.*}" -ge 2 ] || fail "sentry reports $signed certificates signed"
check "sentry signed $signed workload certificates (dapr_sentry_cert_sign_success_total)"

# Kafka (scripts/cluster/kafka.sh): the broker is ready, and a client pod of the same image in
# another namespace lists the chart's topics through the bootstrap Service, writes a record to
# task-events and reads it back (every address it is given is the Service's name).
kube -n "$KAFKA_NAMESPACE" rollout status statefulset/taskflow-kafka --timeout=60s >/dev/null ||
    fail "Kafka is not ready"
check "Kafka ready at $KAFKA_BOOTSTRAP"
marker=smoke-$RANDOM$RANDOM
kube -n "$NAMESPACE" run kafka-client --image="$KAFKA_IMAGE" --image-pull-policy=Never \
    --restart=Never --command -- sh -c "
run() { java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp '/opt/kafka/lib/*' \"\$@\"; }
run org.apache.kafka.tools.TopicCommand --bootstrap-server $KAFKA_BOOTSTRAP --list | sed 's/^/topic /'
echo $marker | run org.apache.kafka.tools.ConsoleProducer --bootstrap-server $KAFKA_BOOTSTRAP \
    --topic task-events
run org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server $KAFKA_BOOTSTRAP \
    --topic task-events --from-beginning --timeout-ms 15000 2>/dev/null | sed 's/^/record /'
" >/dev/null
kube -n "$NAMESPACE" wait --for=jsonpath='{.status.phase}'=Succeeded pod/kafka-client \
    --timeout=240s >/dev/null || { kube -n "$NAMESPACE" logs kafka-client >&2; fail "the Kafka client failed"; }
client_log=$(kube -n "$NAMESPACE" logs kafka-client)
read -r topics < <(.venv/bin/python -c '
import yaml
print(" ".join(yaml.safe_load(open("deploy/helm/taskflow/values.yaml"))["kafka"]["topics"]))')
for topic in $topics; do
    grep -qx "topic $topic" <<<"$client_log" || fail "topic $topic is missing: $client_log"
done
check "the chart's topics exist: $topics"
grep -qx "record $marker" <<<"$client_log" || fail "the record written was not read back: $client_log"
check "a client pod in $NAMESPACE wrote a record to task-events and read it back through the Service"

# Knative Serving (scripts/cluster/knative.sh) with Traefik as its KIngress
# (scripts/cluster/ingress.sh): two Knative Services of the same image, one public and one
# cluster-local as the chart makes the functions. Both routes turn Ready (Traefik configured their
# Ingress objects), the public one answers through Traefik's public Service by its Host header, the
# cluster-local one by its cluster name (Knative's ExternalName Service -> Traefik's local entry
# point) and not through the public entry point. Then the public revision scales to zero with no
# traffic, and a request through the ingress wakes it (Traefik -> activator -> a new pod).
for workload in webhook controller activator autoscaler; do
    kube -n "$KNATIVE_NAMESPACE" rollout status "deployment/$workload" --timeout=60s >/dev/null ||
        fail "Knative's $workload is not ready"
done
kube -n "$INGRESS_NAMESPACE" rollout status deployment/traefik --timeout=60s >/dev/null ||
    fail "Traefik (the KIngress) is not ready"
check "Knative Serving ready: webhook, controller, activator, autoscaler, and Traefik as KIngress"
knative_service() { # knative_service NAME [LABEL]
    cat <<EOF_KSVC
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: $1
  labels: {${2:-}}
spec:
  template:
    metadata:
      annotations:
        # The shortest stable window, so the smoke waits for scale to zero about 40 s, not 90.
        autoscaling.knative.dev/window: 6s
    spec:
      containers:
      - image: $knative_image
        envFrom: [{secretRef: {name: taskflow-jwt}}]
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz}
---
EOF_KSVC
}
{
    knative_service api
    # As the chart labels the functions (deploy/helm/taskflow/templates/services.yaml).
    knative_service api-local 'networking.knative.dev/visibility: cluster-local'
} | kube -n "$NAMESPACE" apply -f - >/dev/null
for ksvc in api api-local; do
    kube -n "$NAMESPACE" wait --for=condition=Ready "ksvc/$ksvc" --timeout=240s >/dev/null ||
        { kube -n "$NAMESPACE" get "ksvc/$ksvc" -o yaml >&2
          kube -n "$NAMESPACE" get ingresses.networking.internal.knative.dev -o yaml >&2
          fail "the Knative Service $ksvc did not become Ready"; }
done
public_url=$(kube -n "$NAMESPACE" get ksvc api -o jsonpath='{.status.url}')
local_url=$(kube -n "$NAMESPACE" get ksvc api-local -o jsonpath='{.status.url}')
[ "$public_url" = "http://api.$NAMESPACE.$KNATIVE_DOMAIN" ] || fail "api's URL is $public_url"
[ "$local_url" = "http://api-local.$NAMESPACE.svc.cluster.local" ] || fail "api-local's URL is $local_url"
containers=$(kube -n "$NAMESPACE" get pod -l serving.knative.dev/revision=api-00001 \
    -o jsonpath='{.items[0].spec.containers[*].name}')
[[ " $containers " == *" queue-proxy "* ]] || fail "no queue-proxy beside the app ($containers)"
check "Knative Services api ($public_url) and api-local ($local_url) Ready: routes configured by Traefik, the app beside queue-proxy"

# From inside the TaskFlow pod: what a browser (through the public entry point) and another
# service of the chart (through the cluster-local name) would see.
ingress_request() { # ingress_request URL HOST EXPECTED-STATUS: retried for 30 s until EXPECTED
    kube -n "$NAMESPACE" exec taskflow-api -- python -c '
import sys, time, urllib.error, urllib.request
url, host, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
headers = {"Host": host} if host else {}
started = time.monotonic()
while True:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        status = error
    if status == expected or time.monotonic() - started > 30:
        break
    time.sleep(0.5)
print(f"    GET {url}" + (f" (Host: {host})" if host else "") + f": {status} after {time.monotonic() - started:.1f} s")
if status != expected:
    raise SystemExit(f"expected {expected}")
' "$1" "$2" "$3"
}
traefik_public=http://traefik.$INGRESS_NAMESPACE.svc.cluster.local/healthz
ingress_request "$traefik_public" "api.$NAMESPACE.$KNATIVE_DOMAIN" 200
check "the public route answers through Traefik's public Service by its Host header"
ingress_request "$local_url/healthz" "" 200
check "the cluster-local route answers at its cluster name (Knative's ExternalName Service -> Traefik's local entry point)"
ingress_request "$traefik_public" "api-local.$NAMESPACE.svc.cluster.local" 404
check "the cluster-local route is not served on the public entry point (404)"

waited=$SECONDS
until [ -z "$(kube -n "$NAMESPACE" get pod -l serving.knative.dev/revision=api-00001 -o name)" ]; do
    [ $((SECONDS - waited)) -lt 240 ] || fail "the revision did not scale to zero within 240 s"
    sleep 2
done
check "api scaled to zero $((SECONDS - waited)) s after the last request"
ingress_request "$traefik_public" "api.$NAMESPACE.$KNATIVE_DOMAIN" 200
[ -n "$(kube -n "$NAMESPACE" get pod -l serving.knative.dev/revision=api-00001 -o name)" ] ||
    fail "no pod of the revision after the request"
check "a request through the ingress woke the revision from zero (Traefik -> activator), and its pod runs again"

# Knative Eventing with the Kafka broker (scripts/cluster/eventing.sh), as the chart uses it:
# a Broker of class Kafka on the repository's kafka-broker-config, and a Trigger to TaskFlow's
# dead-letter function (a Knative Service of its image from `just images`, cluster-local as the
# chart makes it), with the Trigger's subscriber audience and OIDC on (authentication-oidc, as
# scripts/deploy/deploy.sh sets it). The function's door verifies the broker's token against the
# cluster's issuer and JWKS (the chart's senderIdentity values), then logs the event. A CloudEvent
# sent to the Broker's ingress without a token is refused (401); with a service-account token
# for the Broker's audience it is taken (202), and the dispatcher delivers it to the function,
# whose revision has scaled to zero first: the delivery wakes it (through the activator).
for workload in eventing-webhook eventing-controller kafka-webhook-eventing kafka-controller \
    kafka-broker-receiver; do
    kube -n "$EVENTING_NAMESPACE" rollout status "deployment/$workload" --timeout=60s >/dev/null ||
        fail "$workload is not ready"
done
check "Knative Eventing ready: eventing-webhook, eventing-controller; the Kafka broker's kafka-webhook-eventing, kafka-controller, kafka-broker-receiver"
function_image=$("${podman[@]}" images --format '{{.Repository}}:{{.Tag}}' \
    --filter reference=localhost/taskflow/dead-letter | head -n 1)
[ -n "$function_image" ] ||
    fail "no dead-letter image in podman's store: run \`just images dead-letter\` first"
"${podman[@]}" save -q --format docker-archive "$function_image" |
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import - >/dev/null
function_knative_image=$(knative_name "$function_image")
ctr --address "$CONTAINERD_SOCKET" -n k8s.io images tag --force "$function_image" \
    "$function_knative_image" >/dev/null
read -r oidc_issuer oidc_jwks_url < <(.venv/bin/python -c '
import yaml
identity = yaml.safe_load(open("deploy/helm/taskflow/values.yaml"))["senderIdentity"]
print(identity["issuer"], identity["jwksUrl"])')
kube -n "$NAMESPACE" apply -f - >/dev/null <<EOF_MANIFEST
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: dead-letter
  labels: {networking.knative.dev/visibility: cluster-local}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/window: 6s}
    spec:
      containers:
      - image: $function_knative_image
        envFrom: [{secretRef: {name: taskflow-jwt}}]
        env:
        - {name: TASKFLOW_NAMESPACE, value: $NAMESPACE}
        - {name: TASKFLOW_OIDC_ISSUER, value: "$oidc_issuer"}
        - {name: TASKFLOW_OIDC_JWKS_URL, value: "$oidc_jwks_url"}
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz}
        # The chart's (deploy/helm/taskflow/templates/services.yaml).
        securityContext:
          runAsNonRoot: true
          runAsUser: 10001
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}
        volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {}}]
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: smoke
  # Bound to the chart's existing topic, as eventing/*.yaml binds every Broker.
  annotations:
    eventing.knative.dev/broker.class: Kafka
    kafka.eventing.knative.dev/external.topic: task-events
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: kafka-broker-config, namespace: $EVENTING_NAMESPACE}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: smoke-dead-letter
spec:
  broker: smoke
  filters:
  - exact: {type: com.taskflow.smoke.delivered}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter}
    audience: serving.knative.dev/service/$NAMESPACE/dead-letter
---
# A delivery that fails: the API takes no POST there (405: its frontend route answers GET only),
# so after one retry the dispatcher sends the event to the Trigger's dead-letter sink, the
# dead-letter function, as eventing/*.yaml configures every Trigger.
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: smoke-refused
spec:
  broker: smoke
  filters:
  - exact: {type: com.taskflow.smoke.refused}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: api-local}
    uri: /no-such-door
  delivery:
    retry: 1
    backoffPolicy: linear
    backoffDelay: PT0.2S
    deadLetterSink:
      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter}
      audience: serving.knative.dev/service/$NAMESPACE/dead-letter
EOF_MANIFEST
for resource in ksvc/dead-letter broker/smoke trigger/smoke-dead-letter trigger/smoke-refused; do
    kube -n "$NAMESPACE" wait --for=condition=Ready "$resource" --timeout=300s >/dev/null ||
        { kube -n "$NAMESPACE" get "$resource" -o yaml >&2; fail "$resource did not become Ready"; }
done
broker_url=$(kube -n "$NAMESPACE" get broker smoke -o jsonpath='{.status.address.url}')
broker_audience=$(kube -n "$NAMESPACE" get broker smoke -o jsonpath='{.status.address.audience}')
check "Broker smoke (class Kafka, bound to the topic task-events) Ready at $broker_url (audience $broker_audience), Triggers smoke-dead-letter and smoke-refused Ready"

waited=$SECONDS
until [ -z "$(kube -n "$NAMESPACE" get pod -l serving.knative.dev/service=dead-letter -o name)" ]; do
    [ $((SECONDS - waited)) -lt 240 ] || fail "dead-letter did not scale to zero within 240 s"
    sleep 2
done
check "the dead-letter function scaled to zero"

event_id=smoke-$RANDOM$RANDOM
send_event() { # send_event ID TYPE TOKEN EXPECTED-STATUS: POST a binary-mode CloudEvent to the Broker
    kube -n "$NAMESPACE" exec taskflow-api -- python -c '
import json, sys, urllib.error, urllib.request
url, event_id, event_type, token = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
expected = int(sys.argv[5])
headers = {"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": event_id,
           "ce-type": event_type, "ce-source": "/taskflow/cluster-smoke"}
if token:
    headers["Authorization"] = f"Bearer {token}"
request = urllib.request.Request(url, data=json.dumps({"smoke": event_id}).encode(),
                                 headers=headers, method="POST")
try:
    with urllib.request.urlopen(request, timeout=30) as answer:
        status = answer.status
except urllib.error.HTTPError as error:
    status = error.code
print(f"    POST {url} (ce-id {event_id}" + (", with a token" if token else ", no token")
      + f"): {status}")
if status != expected:
    raise SystemExit(f"expected {expected}")
' "$broker_url" "$@"
}
dead_letter_logged() { # dead_letter_logged ID: the dead-letter function's log line of event ID
    kube -n "$NAMESPACE" logs -l serving.knative.dev/service=dead-letter -c user-container \
        --tail=-1 2>/dev/null | grep "\"cloudevent_id\": *\"$1\""
}
send_event "$event_id" com.taskflow.smoke.delivered "" 401
check "the Broker's ingress refuses an event without a token (OIDC on)"
token=$(kube -n "$NAMESPACE" create token default --audience "$broker_audience" --duration 10m)
sent=$SECONDS
send_event "$event_id" com.taskflow.smoke.delivered "$token" 202
check "the Broker's ingress took the event with the namespace's service-account token"
until dead_letter_logged "$event_id" >/dev/null; do
    [ $((SECONDS - sent)) -lt 180 ] ||
        { kube -n "$NAMESPACE" logs -l serving.knative.dev/service=dead-letter -c user-container >&2
          fail "the event did not reach the dead-letter function within 180 s"; }
    sleep 2
done
check "the dispatcher woke dead-letter from zero and delivered the event $((SECONDS - sent)) s after it was sent; the function verified the broker's OIDC token and logged ce-id $event_id"

refused_id=smoke-refused-$RANDOM$RANDOM
sent=$SECONDS
send_event "$refused_id" com.taskflow.smoke.refused "$token" 202
until line=$(dead_letter_logged "$refused_id"); do
    [ $((SECONDS - sent)) -lt 180 ] ||
        { kube -n "$NAMESPACE" logs -l serving.knative.dev/service=dead-letter -c user-container >&2
          fail "the refused event did not reach the dead-letter sink within 180 s"; }
    sleep 2
done
# 405 with the API image (another TASKFLOW_CLUSTER_SMOKE_IMAGE may refuse with another 4xx).
error_code=$(sed -n 's/.*"error_code": *"\(4[0-9][0-9]\)".*/\1/p' <<<"$line")
[ -n "$error_code" ] || fail "the dead letter does not name the subscriber's refusal: $line"
grep -q "\"destination\": *\"[^\"]*api-local[^\"]*/no-such-door\"" <<<"$line" ||
    fail "the dead letter does not name the failed destination: $line"
check "an event the subscriber refused ($error_code) reached the Trigger's dead-letter sink $((SECONDS - sent)) s after it was sent, with knativeerrorcode $error_code and the failed destination"

# func (stage 5 groundwork): `func deploy --build=false` of TaskFlow's dead-letter function from
# its own knative/func/dead-letter/func.yaml (generated from the chart), into the namespace
# taskflow it names, with the image of `just images` (dev.local/..., imported above). What the
# func.yaml refers to comes first: the chart's ConfigMap taskflow-config and Dapr Configuration
# taskflow (helm template of values-minikube), and the two Secrets with values made for this run
# (the function reads no database). func then makes the Knative Service: it turns Ready with the
# func.yaml's Dapr annotations (a daprd sidecar injected) and answers /healthz at its cluster name.
FUNC_NAMESPACE=taskflow
helm=.cache/tools/bin/helm-$(sed -n 's/^HELM_VERSION=//p' deploy/versions.env)
kube delete namespace "$FUNC_NAMESPACE" --ignore-not-found --wait=true >/dev/null
kube create namespace "$FUNC_NAMESPACE" >/dev/null
"$helm" template taskflow deploy/helm/taskflow --namespace "$FUNC_NAMESPACE" \
    -f deploy/helm/taskflow/values-minikube.yaml \
    --show-only templates/configmap.yaml --show-only templates/dapr-configuration.yaml |
    kube -n "$FUNC_NAMESPACE" apply -f - >/dev/null
kube -n "$FUNC_NAMESPACE" create secret generic taskflow-secrets \
    --from-literal=JWT_SECRET="$jwt_secret" --from-literal=OPENAI_API_KEY= \
    --from-literal=DATABASE_URL=postgresql://unused.invalid/taskflow >/dev/null
kube -n "$FUNC_NAMESPACE" create secret generic taskflow-dapr-app-token \
    --from-literal=token="$(head -c 24 /dev/urandom | base64 | tr -d '\n/+=')" >/dev/null
func_work=$(mktemp -d)
trap 'rm -rf "$func_work"' EXIT
mkdir "$func_work/dead-letter" "$func_work/config"
cp knative/func/dead-letter/func.yaml "$func_work/dead-letter/"
deployed=$SECONDS
in_node env KUBECONFIG="$PKI/admin.kubeconfig" XDG_CONFIG_HOME="$func_work/config" \
    "$BIN/func" deploy --path "$func_work/dead-letter" --build=false --push=false \
    --image "$function_knative_image" --namespace "$FUNC_NAMESPACE" 2>&1 | sed 's/^/    func: /'
kube -n "$FUNC_NAMESPACE" wait --for=condition=Ready ksvc/dead-letter --timeout=240s >/dev/null ||
    { kube -n "$FUNC_NAMESPACE" get ksvc/dead-letter -o yaml >&2
      kube -n "$FUNC_NAMESPACE" describe pods >&2; fail "func's dead-letter did not become Ready"; }
containers=$(kube -n "$FUNC_NAMESPACE" get pod -l serving.knative.dev/service=dead-letter \
    -o jsonpath='{.items[0].spec.containers[*].name}')
[[ " $containers " == *" daprd "* ]] || fail "no daprd beside func's dead-letter ($containers)"
check "func deploy --build=false made the Knative Service dead-letter in $FUNC_NAMESPACE from its func.yaml: Ready in $((SECONDS - deployed)) s, containers: $containers"
ingress_request "http://dead-letter.$FUNC_NAMESPACE.svc.cluster.local/healthz" "" 200
check "func's dead-letter answers /healthz at its cluster name"

# The chart (stage 5 groundwork): every object of `helm template` with values-minikube but
# Strimzi's (its operator and CRDs are not on this cluster: Kafka runs without them), and the
# Brokers and Triggers of eventing/*.yaml, pass the cluster's own admission in a server-side dry
# run: the API server's validation, Knative Serving's webhook (which dry-runs each Service's pod),
# Eventing's and the Kafka broker's webhooks, Dapr's CRD schemas. The service accounts are made
# for real first (the pods' dry run looks them up).
"$helm" template taskflow deploy/helm/taskflow --namespace "$FUNC_NAMESPACE" \
    -f deploy/helm/taskflow/values-minikube.yaml --set "secrets.values.JWT_SECRET=$jwt_secret" \
    --set secrets.values.TASKFLOW_COMMAND_KEY=smoke --set secrets.values.APP_API_TOKEN=smoke \
    >"$func_work/chart.yaml"
.venv/bin/python - "$func_work" <<'EOF_PY'
import sys, yaml
folder = sys.argv[1]
documents = [d for d in yaml.safe_load_all(open(f"{folder}/chart.yaml")) if d]
accounts = [d for d in documents if d["kind"] == "ServiceAccount"]
rest = [d for d in documents
        if d["kind"] != "ServiceAccount" and not d["apiVersion"].startswith("kafka.strimzi.io/")]
yaml.safe_dump_all(accounts, open(f"{folder}/accounts.yaml", "w"))
yaml.safe_dump_all(rest, open(f"{folder}/chart-rest.yaml", "w"))
EOF_PY
for broker in eventing/task-events.yaml eventing/reminders.yaml eventing/task-updates.yaml; do
    printf -- '---\n'
    cat "$broker"
done >"$func_work/brokers.yaml"
kube apply -f "$func_work/accounts.yaml" >/dev/null
admitted=0
for file in chart-rest brokers; do
    kube apply --dry-run=server -f "$func_work/$file.yaml" >"$func_work/$file.out" 2>&1 ||
        { cat "$func_work/$file.out" >&2; fail "the cluster refused some of $file.yaml (above)"; }
    admitted=$((admitted + $(grep -c '(server dry run)$' "$func_work/$file.out")))
done
check "the chart's objects (values-minikube, all but Strimzi's) and eventing/*.yaml's Brokers and Triggers pass the cluster's admission in a server-side dry run: $admitted objects"
# What the func and dry-run steps made in namespace taskflow goes, object by object, before the
# chart is installed there: Helm refuses to adopt objects it did not make, and deleting the
# namespace would wait out the pods' termination grace (up to 600 s, scripts/cluster/taskflow.sh).
kube -n "$FUNC_NAMESPACE" delete ksvc/dead-letter configmap/taskflow-config \
    configurations.dapr.io/taskflow secret/taskflow-secrets secret/taskflow-dapr-app-token \
    --ignore-not-found --wait=true >/dev/null
kube delete -f "$func_work/accounts.yaml" --ignore-not-found --wait=true >/dev/null
kube delete namespace "$NAMESPACE" --wait=false >/dev/null

# 12. TaskFlow itself (stage 5): the chart installed, and scripts/deploy/smoke.sh against it.
"$(dirname "$0")/taskflow.sh"
say "smoke passed in $((SECONDS - started))s"
