#!/usr/bin/env bash
# Build the single-node cluster's binaries from the Go module proxy into .cache/cluster/bin:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl from
# infra/k8s-build (the one home of the Kubernetes and etcd versions), etcd from the same module,
# CoreDNS from infra/coredns-build, and the Dapr control plane (operator, sidecar injector, sentry,
# placement, scheduler) from infra/dapr-build, the release scripts/dapr.sh builds daprd from,
# Knative Serving from infra/knative-build, Traefik (the KIngress) from infra/traefik-build,
# Knative Eventing's controller and webhook from infra/knative-eventing-build and the Kafka
# broker's control plane from infra/knative-kafka-build, and the func CLI from infra/func-build.
# Each binary is rebuilt only when its wrapper module or link flags change (a stamp file per
# binary), so a rerun takes a second.
#
# One package and one thread at a time (the machine is shared): the first build takes about
# 15 minutes; see .cache/cluster/build.log.
set -euo pipefail
# shellcheck source=../lib/process.sh
source "$(dirname "$0")/../lib/process.sh"
cd "$(dirname "$0")/../.."

ROOT="$PWD/.cache/cluster"
BIN="$ROOT/bin"
K8S_MODULE=infra/k8s-build
COREDNS_MODULE=infra/coredns-build
DAPR_MODULE=infra/dapr-build

module_version() { # module_version DIR MODULE: the version DIR/go.mod requires
    sed -n "s#^\(require\)\{0,1\}[[:space:]]*$2 \(v[0-9][^ ]*\).*#\2#p" "$1/go.mod" | head -n 1
}

# The version stamped into the Kubernetes binaries, as hack/lib/version.sh does: without it they
# report v0.0.0-master and the node's kubelet version is meaningless.
k8s_link_flags() {
    local version=$1 minor
    minor=$(echo "$version" | cut -d. -f2)
    local flags="-s -w" key val
    for pair in "gitVersion=$version" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean" \
        "buildDate=1970-01-01T00:00:00Z"; do
        key=${pair%%=*}
        val=${pair#*=}
        flags+=" -X k8s.io/component-base/version.$key=$val"
        flags+=" -X k8s.io/client-go/pkg/version.$key=$val"
    done
    echo "$flags"
}

# build_one DIR NAME PACKAGE LDFLAGS: go build PACKAGE of the module in DIR into $BIN/NAME.
build_one() {
    local dir=$1 name=$2 package=$3 ldflags=$4 stamp
    # Comment lines of go.mod do not change the build.
    stamp="$BIN/.$name-$({ grep -v '^//' "$dir/go.mod"; cat "$dir/go.sum"
        echo "$package $ldflags"; } | sha256sum | cut -c1-16)"
    if [ -f "$stamp" ] && [ -x "$BIN/$name" ]; then
        return
    fi
    rm -f "$BIN/.$name-"*
    say "building $name ($package), see $ROOT/build.log..."
    local started=$SECONDS
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOMAXPROCS=${GOMAXPROCS:-1} nice -n 10 \
        go build -p "${TASKFLOW_GO_BUILD_JOBS:-1}" -trimpath -buildvcs=false \
        -ldflags "$ldflags" -o "$BIN/$name" "$package") >>"$ROOT/build.log" 2>&1 ||
        fail "building $name failed, see $ROOT/build.log"
    say "built $name in $((SECONDS - started))s"
    touch "$stamp"
}

command -v go >/dev/null || fail "Go is not installed"
mkdir -p "$BIN"
k8s_version=$(module_version "$K8S_MODULE" k8s.io/kubernetes)
etcd_version=$(module_version "$K8S_MODULE" go.etcd.io/etcd/server/v3)
coredns_version=$(module_version "$COREDNS_MODULE" github.com/coredns/coredns)
dapr_version=$(module_version "$DAPR_MODULE" github.com/dapr/dapr)
if [ -z "$k8s_version" ] || [ -z "$etcd_version" ] || [ -z "$coredns_version" ] ||
    [ -z "$dapr_version" ]; then
    fail "a version is missing from $K8S_MODULE, $COREDNS_MODULE or $DAPR_MODULE/go.mod"
fi

flags=$(k8s_link_flags "$k8s_version")
for component in kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl; do
    build_one "$K8S_MODULE" "$component" "k8s.io/kubernetes/cmd/$component" "$flags"
done
build_one "$K8S_MODULE" etcd go.etcd.io/etcd/server/v3 \
    "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd_version}"
build_one "$COREDNS_MODULE" coredns github.com/coredns/coredns \
    "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${coredns_version}"
# The Dapr control plane, stamped with its version as scripts/dapr.sh stamps daprd (the injector
# and sentry compare it with the sidecars'). No components tag: only daprd carries components.
dapr_flags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${dapr_version#v}"
dapr_flags+=" -X github.com/dapr/kit/logger.DaprVersion=${dapr_version#v}"
for component in operator injector sentry placement scheduler; do
    build_one "$DAPR_MODULE" "dapr-$component" "github.com/dapr/dapr/cmd/$component" "$dapr_flags"
done

# Knative Serving's commands from infra/knative-build, which must require the release
# deploy/versions.env pins (KNATIVE_SERVING_MODULE, the one home of the version).
KNATIVE_MODULE=infra/knative-build
serving_version=$(module_version "$KNATIVE_MODULE" knative.dev/serving)
pinned_serving=$(sed -n 's/^KNATIVE_SERVING_MODULE=//p' deploy/versions.env)
[ "$serving_version" = "$pinned_serving" ] ||
    fail "$KNATIVE_MODULE requires knative.dev/serving $serving_version, deploy/versions.env pins $pinned_serving"
for component in controller webhook activator autoscaler queue; do
    build_one "$KNATIVE_MODULE" "knative-$component" "knative.dev/serving/cmd/$component" "-s -w"
done

# Knative Eventing's core commands from infra/knative-eventing-build (the release deploy/versions.env
# pins as KNATIVE_EVENTING_MODULE): the controller and the webhook, all the Kafka broker needs of
# it, and mtping, the PingSource adapter that fires the chart's PingSources (outbox-relay,
# reminder-sweep). jobsink and requestreply serve JobSink and RequestReply, which the cluster
# does not run.
EVENTING_MODULE=infra/knative-eventing-build
eventing_version=$(module_version "$EVENTING_MODULE" knative.dev/eventing)
pinned_eventing=$(sed -n 's/^KNATIVE_EVENTING_MODULE=//p' deploy/versions.env)
[ "$eventing_version" = "$pinned_eventing" ] ||
    fail "$EVENTING_MODULE requires knative.dev/eventing $eventing_version, deploy/versions.env pins $pinned_eventing"
for component in controller webhook mtping; do
    build_one "$EVENTING_MODULE" "eventing-$component" "knative.dev/eventing/cmd/$component" "-s -w"
done

# The Kafka broker's control plane from infra/knative-kafka-build (KNATIVE_KAFKA_MODULE), a module
# of its own: see its go.mod for why it cannot share Eventing's.
KAFKA_BROKER_MODULE=infra/knative-kafka-build
kafka_broker_version=$(module_version "$KAFKA_BROKER_MODULE" knative.dev/eventing-kafka-broker)
pinned_kafka_broker=$(sed -n 's/^KNATIVE_KAFKA_MODULE=//p' deploy/versions.env)
[ "$kafka_broker_version" = "$pinned_kafka_broker" ] ||
    fail "$KAFKA_BROKER_MODULE requires knative.dev/eventing-kafka-broker $kafka_broker_version, deploy/versions.env pins $pinned_kafka_broker"
for component in kafka-controller webhook-kafka; do
    build_one "$KAFKA_BROKER_MODULE" "$component" \
        "knative.dev/eventing-kafka-broker/control-plane/cmd/$component" "-s -w"
done

# Traefik, the cluster's KIngress (its Knative provider; scripts/cluster/ingress.sh), from
# infra/traefik-build, stamped with its version as Traefik's release build does.
TRAEFIK_MODULE=infra/traefik-build
traefik_version=$(module_version "$TRAEFIK_MODULE" github.com/traefik/traefik/v3)
[ -n "$traefik_version" ] || fail "no Traefik version in $TRAEFIK_MODULE/go.mod"
build_one "$TRAEFIK_MODULE" traefik github.com/traefik/traefik/v3/cmd/traefik \
    "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${traefik_version}"

# Knative's func CLI (`func deploy --build=false` in scripts/cluster/smoke.sh) from
# infra/func-build (KNATIVE_FUNC_MODULE), stamped with its version as its Makefile does. Its
# module carries func's replace line and two more for modules the proxy does not serve (see its
# go.mod); the stamp covers the stand-in module's files too.
FUNC_MODULE=infra/func-build
func_version=$(module_version "$FUNC_MODULE" knative.dev/func)
pinned_func=$(sed -n 's/^KNATIVE_FUNC_MODULE=//p' deploy/versions.env)
func_release=$(sed -n 's/^KNATIVE_FUNC_VERSION=//p' deploy/versions.env)
[ "$func_version" = "$pinned_func" ] ||
    fail "$FUNC_MODULE requires knative.dev/func $func_version, deploy/versions.env pins $pinned_func"
stand_in=$(cat "$FUNC_MODULE"/func-operator-absent/go.mod "$FUNC_MODULE"/func-operator-absent/api/v1alpha1/*.go |
    sha256sum | cut -c1-16)
build_one "$FUNC_MODULE" func knative.dev/func/cmd/func \
    "-s -w -X knative.dev/func/pkg/version.Vers=$func_version -X knative.dev/func/pkg/version.Kver=knative-v$func_release -X knative.dev/func/pkg/version.Hash=$stand_in"

# helm renders Dapr's chart at cluster-up (scripts/cluster/dapr.sh): the version of
# deploy/versions.env, at the path tests/deploy's toolchain builds it to, so the two share it.
helm_version=$(sed -n 's/^HELM_VERSION=//p' deploy/versions.env)
helm=$PWD/.cache/tools/bin/helm-$helm_version
if [ ! -x "$helm" ]; then
    say "building helm $helm_version"
    gobin=$(mktemp -d)
    (CGO_ENABLED=0 GOBIN=$gobin GOMAXPROCS=${GOMAXPROCS:-1} nice -n 10 go install -trimpath \
        -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$helm_version") >>"$ROOT/build.log" 2>&1 ||
        fail "building helm failed, see $ROOT/build.log"
    mkdir -p "$(dirname "$helm")"
    mv "$gobin/helm" "$helm"
    rm -rf "$gobin"
fi
