#!/usr/bin/env bash
# `just cluster-up`: a single-node Kubernetes built here (scripts/cluster/build.sh), all of it in
# the network namespace $NETNS: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# containerd (Debian) with runc and the CNI bridge plugins, kubelet, kube-proxy, then CoreDNS as
# a Deployment, the Dapr control plane (scripts/cluster/dapr.sh), Kafka (scripts/cluster/kafka.sh),
# Knative Serving (scripts/cluster/knative.sh) with Traefik as its KIngress
# (scripts/cluster/ingress.sh), and Knative Eventing with the Kafka broker
# (scripts/cluster/eventing.sh; its data plane from scripts/cluster/data-plane.sh). Undo everything
# with `just cluster-down`. kubectl against it:
#   scripts/cluster/kubectl.sh get nodes
# What it changes on the host, and why the namespace: specs/deployment.md.
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_root
for tool in containerd ctr runc nsenter iptables openssl; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing (apt-get install containerd runc containernetworking-plugins iptables podman)"
done
[ -x /usr/lib/cni/bridge ] || fail "no CNI plugins (apt-get install containernetworking-plugins)"

started=$SECONDS
scripts/cluster/build.sh
scripts/cluster/images.sh
# The Kafka broker's data plane: its jars and images (.cache/cluster/images/kafka-*.tar).
scripts/cluster/data-plane.sh
scripts/cluster/pki.sh

if ip netns list | grep -qw "$NETNS"; then
    if pid_from_file "$RUN_DIR/kube-apiserver.pid" "$BIN/kube-apiserver" >/dev/null; then
        say "the cluster is already up"
        exit 0
    fi
    fail "namespace $NETNS exists from an earlier run; run \`just cluster-down\` first"
fi

# What cluster-down must put back: the host-wide sysctls kubelet writes, and which of the
# folders the node writes to existed before (only those created here are removed).
mkdir -p "$RUN_DIR"
if [ ! -f "$SAVED_SYSCTLS" ]; then
    for key in "${HOST_SYSCTLS[@]}"; do
        echo "$key=$(sysctl -n "$key")"
    done >"$SAVED_SYSCTLS.tmp"
    mv "$SAVED_SYSCTLS.tmp" "$SAVED_SYSCTLS"
fi
# (/run/containerd: containerd 1.6 puts its shims' sockets in /run/containerd/s whatever its
# configured state folder.)
# A record left by a cluster-down that could not finish is kept: it still tells what was there
# before the first cluster-up.
if [ ! -f "$CLUSTER_CACHE/created-dirs" ]; then
    for dir in "$KUBELET_ROOT" /var/lib/cni /var/log/pods /var/log/containers \
        /var/lib/taskflow-cluster /run/taskflow-cluster /run/containerd; do
        [ -e "$dir" ] || echo "$dir"
    done >"$CLUSTER_CACHE/created-dirs"
fi
# `ip netns add` makes /run/netns, and a mount point of it, the first time; cluster-down undoes
# what it made (as long as no other namespace lives there by then).
if [ ! -f "$CLUSTER_CACHE/created-netns-mount" ]; then
    {
        [ -d /run/netns ] || echo folder
        mountpoint -q /run/netns 2>/dev/null || echo mount
    } >"$CLUSTER_CACHE/created-netns-mount"
fi

# The node's network namespace: loopback plus the node address, no route anywhere else.
ip netns add "$NETNS"
in_node ip link set lo up
in_node ip addr add "$NODE_IP/32" dev lo
# Service addresses from the node itself (the API server calling Dapr's admission webhook through
# its Service): with no route at all connect() fails before kube-proxy's DNAT is reached; this
# route only lets the packet be made, and the DNAT sends it on to the pod's bridge.
in_node ip route add "$SERVICE_CIDR" dev lo src "$NODE_IP"
# Per-namespace settings (the host's are untouched): forwarding between the pods' bridge and the
# node, and bridged pod traffic through iptables so Service addresses work pod to pod.
in_node sysctl -q -w net.ipv4.ip_forward=1
in_node sysctl -q -w net.bridge.bridge-nf-call-iptables=1

mkdir -p "$RUN_DIR/cni" "$CONTAINERD_ROOT" "$CONTAINERD_STATE"
cat >"$RUN_DIR/cni/10-taskflow.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "taskflow-pods",
  "plugins": [{
    "type": "bridge",
    "bridge": "tfk8s0",
    "isGateway": true,
    "isDefaultGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": "$CONTAINERD_STATE/cni-ipam",
      "ranges": [[{"subnet": "$POD_CIDR"}]]
    }
  }]
}
EOF

# containerd 1.6 (Debian), its own root, state and socket. restrict_oom_score_adj: root here lacks
# CAP_SYS_RESOURCE, and runc fails without it; apparmor is not available here.
cat >"$RUN_DIR/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CONTAINERD_SOCKET"
[ttrpc]
  address = "$CONTAINERD_STATE/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_ROOT/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  # Each pod's network namespace is mounted under our state folder (cluster-down unmounts it),
  # not as /run/netns/cni-*: cluster-down kills the containers without the CRI's teardown, which
  # left one empty namespace per pod on the host.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$RUNC_ROOT"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN_DIR/cni"
EOF

cat >"$RUN_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has hybrid cgroups (v1 controllers), no systemd and no swap accounting.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
# No upstream resolver: nothing in the node may query a server off the machine.
resolvConf: ""
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
rotateCertificates: false
serializeImagePulls: true
# The disk is shared with everything else on the machine: kubelet's defaults (evict and taint the
# node below 10-15 % free, delete images above 85 % use) stopped every pod from being scheduled
# here, and image GC would delete images that no registry can give back (they are built here).
evictionHard: {memory.available: 100Mi, nodefs.available: 2Gi, imagefs.available: 2Gi}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF

cat >"$RUN_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# 0: leave the host-wide conntrack table size and timeouts alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF

# start NAME ARGS...: start $BIN/NAME (or the command NAME) in the node, logging to RUN_DIR.
start() {
    local name=$1 binary=$1
    shift
    [ -x "$BIN/$name" ] && binary="$BIN/$name"
    start_detached "$RUN_DIR/$name.pid" "$RUN_DIR/$name.log" \
        nsenter --net="/run/netns/$NETNS" -- "$binary" "$@"
}

etcd_is_healthy() { in_node curl -fsS -o /dev/null http://127.0.0.1:2379/health 2>/dev/null; }
api_is_ready() { kube get --raw /readyz >/dev/null 2>&1; }
containerd_is_up() { ctr --address "$CONTAINERD_SOCKET" version >/dev/null 2>&1; }
node_is_ready() {
    [ "$(kube get node "$NODE_NAME" \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

start etcd --name "$NODE_NAME" --data-dir "$RUN_DIR/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:2380"
wait_until_ready etcd "$RUN_DIR/etcd.pid" "$RUN_DIR/etcd.log" 60 etcd_is_healthy

start kube-apiserver --advertise-address "$NODE_IP" --bind-address 0.0.0.0 \
    --secure-port "$API_PORT" --etcd-servers http://127.0.0.1:2379 \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false
wait_until_ready kube-apiserver "$RUN_DIR/kube-apiserver.pid" "$RUN_DIR/kube-apiserver.log" 180 \
    api_is_ready

start kube-controller-manager --kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
start kube-scheduler --kubeconfig "$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
    --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false

start containerd --config "$RUN_DIR/containerd.toml"
wait_until_ready containerd "$RUN_DIR/containerd.pid" "$RUN_DIR/containerd.log" 60 containerd_is_up
for archive in "$IMAGES"/*.tar; do
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import "$archive" >/dev/null
done

start kubelet --config "$RUN_DIR/kubelet.yaml" --kubeconfig "$PKI/kubelet.kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
start kube-proxy --config "$RUN_DIR/kube-proxy.yaml"
wait_until_ready kubelet "$RUN_DIR/kubelet.pid" "$RUN_DIR/kubelet.log" 180 node_is_ready

sed -e "s#COREDNS_IMAGE#$COREDNS_IMAGE#" -e "s#DNS_SERVICE_IP#$DNS_SERVICE_IP#" \
    scripts/cluster/manifests/coredns.yaml | kube apply -f - >/dev/null
kube -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null ||
    fail "CoreDNS did not become ready; see scripts/cluster/kubectl.sh -n kube-system describe pods"
scripts/cluster/dapr.sh
scripts/cluster/kafka.sh
scripts/cluster/knative.sh
scripts/cluster/ingress.sh
scripts/cluster/eventing.sh
say "cluster up in $((SECONDS - started))s: scripts/cluster/kubectl.sh get nodes"
