# shellcheck shell=bash
# shellcheck disable=SC2034  # the names are used by the scripts that source this file
# The single-node cluster's one home for names, paths and addresses; sourced by
# scripts/cluster/*.sh. Why the node lives in a network namespace: specs/deployment.md
# ("A single-node Kubernetes on this machine").
# shellcheck source=../lib/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/process.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

CLUSTER_CACHE="$PWD/.cache/cluster"
BIN="$CLUSTER_CACHE/bin"
IMAGES="$CLUSTER_CACHE/images"
PKI="$CLUSTER_CACHE/pki"
# Per-run state (logs, pid files, etcd data, configs): wiped by cluster-down.
RUN_DIR="$CLUSTER_CACHE/run"
SAVED_SYSCTLS="$CLUSTER_CACHE/sysctls.saved"
# containerd keeps snapshots (overlay mounts) and sockets here; both go at cluster-down.
CONTAINERD_ROOT=/var/lib/taskflow-cluster/containerd
CONTAINERD_STATE=/run/taskflow-cluster/containerd
CONTAINERD_SOCKET=$CONTAINERD_STATE/containerd.sock
# runc's state for the pods' containers (containerd's default is shared /run/containerd/runc).
RUNC_ROOT=/run/taskflow-cluster/runc
KUBELET_ROOT=/var/lib/kubelet

# Every process of the node runs in this network namespace: its own loopback, iptables and
# net.* sysctls, and no link to the outside (nothing in it can reach another machine).
NETNS=taskflow-k8s
# The node's address, on the namespace's loopback (the kernel here has no dummy links). The pod
# and service ranges exist only inside the namespace.
NODE_IP=10.201.0.1
NODE_NAME=taskflow-node
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/24
KUBERNETES_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
API_PORT=6443
API_SERVER="https://$NODE_IP:$API_PORT"

PAUSE_IMAGE=localhost/taskflow-cluster/pause:3.10.1
COREDNS_IMAGE=localhost/taskflow-cluster/coredns:v1.12.1
# Dapr's control plane and sidecar images (scripts/cluster/images.sh) carry the release of
# infra/dapr-build, the one home of the Dapr version; Dapr's chart names them
# $DAPR_REGISTRY/dapr:$DAPR_TAG and $DAPR_REGISTRY/daprd:$DAPR_TAG.
DAPR_REGISTRY=localhost/taskflow-cluster
DAPR_TAG=$(sed -n 's#^[[:space:]]*github.com/dapr/dapr v\([0-9.]*\).*#\1#p' infra/dapr-build/go.mod |
    head -n 1)
DAPR_NAMESPACE=dapr-system
# Knative Serving's images (scripts/cluster/images.sh, scripts/cluster/knative.sh):
# $KNATIVE_REGISTRY/knative-<command>:$KNATIVE_TAG, the release of infra/knative-build.
KNATIVE_REGISTRY=localhost/taskflow-cluster
KNATIVE_TAG=$(sed -n 's#^[[:space:]]*\(require \)\{0,1\}knative.dev/serving \(v[0-9.]*\).*#\2#p' \
    infra/knative-build/go.mod | head -n 1)
KNATIVE_NAMESPACE=knative-serving
# Knative Eventing (scripts/cluster/eventing.sh): $EVENTING_REGISTRY/knative-eventing-<command>:
# $EVENTING_TAG, the release of infra/knative-eventing-build, and the Kafka broker's control plane:
# $KAFKA_BROKER_REGISTRY/knative-<command>:$KAFKA_BROKER_TAG (infra/knative-kafka-build).
EVENTING_REGISTRY=localhost/taskflow-cluster
EVENTING_TAG=$(sed -n 's#^[[:space:]]*\(require \)\{0,1\}knative.dev/eventing \(v[0-9.]*\).*#\2#p' \
    infra/knative-eventing-build/go.mod | head -n 1)
EVENTING_NAMESPACE=knative-eventing
KAFKA_BROKER_REGISTRY=localhost/taskflow-cluster
# The KIngress (scripts/cluster/ingress.sh): Traefik's Knative provider, the release of
# infra/traefik-build, serving the Ingress objects of this class. Routes are named
# <service>.<namespace>.$KNATIVE_DOMAIN (.test: a name reserved never to resolve anywhere).
TRAEFIK_TAG=$(sed -n 's#^[[:space:]]*\(require \)\{0,1\}github.com/traefik/traefik/v3 \(v[0-9.]*\).*#\2#p' \
    infra/traefik-build/go.mod | head -n 1)
TRAEFIK_IMAGE=localhost/taskflow-cluster/traefik:$TRAEFIK_TAG
INGRESS_NAMESPACE=traefik-system
KNATIVE_INGRESS_CLASS=traefik.ingress.networking.knative.dev
KNATIVE_DOMAIN=taskflow.test
# Kafka (scripts/cluster/kafka.sh): `just images infra`'s image, named by taskflow_dev.local.images
# (POSTGRES_IMAGE/KAFKA_IMAGE there), at the address the chart expects from Strimzi
# (values kafka.strimzi: namespace kafka, cluster taskflow -> taskflow-kafka-bootstrap.kafka:9092).
KAFKA_IMAGE=localhost/taskflow-local/kafka:dev
KAFKA_NAMESPACE=kafka
KAFKA_BOOTSTRAP=taskflow-kafka-bootstrap.$KAFKA_NAMESPACE.svc.cluster.local:9092
# The Kafka broker's data plane (scripts/cluster/data-plane.sh): the images the release names
# knative-kafka-broker-{receiver,dispatcher}-loom, tagged with the module deploy/versions.env pins.
KAFKA_BROKER_TAG=$(sed -n 's/^KNATIVE_KAFKA_MODULE=//p' deploy/versions.env)
KAFKA_RECEIVER_IMAGE=localhost/taskflow-cluster/knative-kafka-broker-receiver-loom:$KAFKA_BROKER_TAG
KAFKA_DISPATCHER_IMAGE=localhost/taskflow-cluster/knative-kafka-broker-dispatcher-loom:$KAFKA_BROKER_TAG

# The host-wide (not per-namespace) kernel settings kubelet writes at start
# (pkg/kubelet/cm/container_manager_linux.go setupKernelTunables); cluster-up saves them and
# cluster-down puts them back.
HOST_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
    kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

# in_node COMMAND...: run COMMAND in the node's network namespace but the host's mount
# namespace (`ip netns exec` would give each process a private mount namespace, and then the
# volumes kubelet mounts would be invisible to containerd).
in_node() {
    nsenter --net="/run/netns/$NETNS" -- "$@"
}

# kubectl as the cluster's admin.
kube() {
    in_node "$BIN/kubectl" --kubeconfig "$PKI/admin.kubeconfig" "$@"
}

require_root() {
    [ "$(id -u)" = 0 ] || fail "needs root (network namespaces, mounts, cgroups)"
}
