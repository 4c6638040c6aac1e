#!/usr/bin/env bash
# `just cluster-down`: undo everything `just cluster-up` changed on the host, in this order:
# the node's processes and every container, the mounts under /var/lib/kubelet and containerd's
# folders, the kubepods cgroups, the network namespace (its bridge, veths, iptables chains and
# sysctls go with it), the host-wide sysctls kubelet wrote, and the folders created for the node.
# Safe to run twice, and after a cluster-up that failed half way.
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_root

# stop NAME: stop the node process NAME started by up.sh (its pid file names it).
stop() {
    local name=$1 pid
    pid=$(pid_from_file "$RUN_DIR/$name.pid" "$name") || return 0
    stop_process "$name" "$pid" "$RUN_DIR/$name.pid" 20
}

# pids_with ARGUMENT: processes whose command line holds ARGUMENT (our own socket path, so only
# the shims of this cluster's containerd match).
pids_with() {
    local proc
    for proc in /proc/[0-9]*; do
        tr '\0' ' ' 2>/dev/null <"$proc/cmdline" | grep -qF -- "$1" && echo "${proc#/proc/}"
    done
    return 0
}

# kubelet first, so that it does not restart what is stopped next.
for name in kubelet kube-proxy kube-scheduler kube-controller-manager; do
    stop "$name"
done

# Every container of every pod, through runc's own state for this cluster, then their shims.
if [ -d "$RUNC_ROOT/k8s.io" ]; then
    for id in $(runc --root "$RUNC_ROOT/k8s.io" list -q 2>/dev/null); do
        runc --root "$RUNC_ROOT/k8s.io" kill "$id" KILL 2>/dev/null || true
    done
    sleep 1
    for id in $(runc --root "$RUNC_ROOT/k8s.io" list -q 2>/dev/null); do
        runc --root "$RUNC_ROOT/k8s.io" delete --force "$id" 2>/dev/null || true
    done
fi
for pid in $(pids_with "-address $CONTAINERD_SOCKET"); do
    kill -KILL "$pid" 2>/dev/null || true
done
for name in containerd kube-apiserver etcd; do
    stop "$name"
done

# Mounts: pod volumes (kubelet), container root filesystems and sandbox shm (containerd),
# deepest first.
for prefix in "$KUBELET_ROOT" /var/lib/taskflow-cluster /run/taskflow-cluster; do
    awk -v p="$prefix" '$2 == p || index($2, p "/") == 1 {print $2}' /proc/self/mounts |
        sort -r | while read -r target; do
        umount "$target" 2>/dev/null || umount -l "$target"
    done
done

# The kubepods cgroups kubelet made in each hierarchy (cgroupfs driver), innermost first.
for hierarchy in /sys/fs/cgroup/*/; do
    [ -d "$hierarchy/kubepods" ] || continue
    find "$hierarchy/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null ||
        say "could not remove every cgroup under $hierarchy/kubepods"
done

# The namespace takes its bridge, the pods' veths, kube-proxy's and CNI's iptables chains and
# its net.* sysctls with it.
if ip netns list | grep -qw "$NETNS"; then
    ip netns del "$NETNS"
fi
if [ -f "$CLUSTER_CACHE/created-netns-mount" ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
    if grep -qx mount "$CLUSTER_CACHE/created-netns-mount"; then
        umount /run/netns 2>/dev/null || true
    fi
    if grep -qx folder "$CLUSTER_CACHE/created-netns-mount"; then
        rmdir /run/netns 2>/dev/null || true
    fi
    rm -f "$CLUSTER_CACHE/created-netns-mount"
fi

if [ -f "$SAVED_SYSCTLS" ]; then
    while IFS= read -r setting; do
        sysctl -q -w "$setting"
    done <"$SAVED_SYSCTLS"
    rm -f "$SAVED_SYSCTLS"
fi

rm -rf /var/lib/taskflow-cluster /run/taskflow-cluster "$RUN_DIR"
if [ -f "$CLUSTER_CACHE/created-dirs" ]; then
    while IFS= read -r dir; do
        rm -rf "$dir"
    done <"$CLUSTER_CACHE/created-dirs"
    rm -f "$CLUSTER_CACHE/created-dirs"
fi
say "cluster down"
