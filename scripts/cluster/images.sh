#!/usr/bin/env bash
# The images the cluster itself needs, built here (no registry is reachable) FROM scratch with
# podman and saved as archives in .cache/cluster/images for `ctr images import`:
#   pause    k8s' build/pause/linux/pause.c from the pinned k8s.io/kubernetes module, static
#   coredns  the CoreDNS binary of scripts/cluster/build.sh
#   knative-*  Knative Serving's controller, webhook, activator, autoscaler and queue-proxy
#   eventing-*  Knative Eventing's controller, webhook and mtping (the PingSource adapter)
#   kafka-controller, webhook-kafka  the Kafka broker's control plane (its data plane's images
#            come from scripts/cluster/data-plane.sh)
#   traefik  the KIngress (scripts/cluster/ingress.sh)
#   dapr, daprd  Dapr's control plane (scripts/cluster/build.sh) and sidecar (scripts/dapr.sh),
#            made as `just images` makes TaskFlow's: scripts/podman.sh (this checkout's store),
#            infra/containers/dapr.Containerfile, on the debootstrap Python base
#   kafka    `just images infra`'s Kafka image (scripts/cluster/kafka.sh runs it)
# An archive is rebuilt only when what goes into it changes.
set -euo pipefail
source "$(dirname "$0")/common.sh"

command -v podman >/dev/null || fail "podman is not installed (apt-get install podman runc)"
command -v gcc >/dev/null || fail "gcc is not installed"
mkdir -p "$IMAGES"
# podman as root here needs cgroupfs and runc (crun refuses the hybrid cgroups), see
# specs/deployment.md.
export CONTAINERS_CONF="$CLUSTER_CACHE/containers.conf"
printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' \
    >"$CONTAINERS_CONF"

# build_image NAME IMAGE CONTEXT [BUILD ARGS...]: podman build CONTEXT (holding a Containerfile)
# into IMAGE and save it as $IMAGES/NAME.tar, unless the archive of this very context (and these
# arguments) exists. The podman command is ${podman[@]}.
podman=(podman)
build_image() {
    local name=$1 image=$2 context=$3 stamp
    shift 3
    stamp=$({ cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum
        echo "$*"; } | sha256sum | cut -c1-16)
    if [ -f "$IMAGES/$name.tar" ] && [ -f "$IMAGES/.$name-$stamp" ]; then
        return
    fi
    rm -f "$IMAGES/.$name-"*
    say "building image $image"
    "${podman[@]}" build -q -t "$image" "$@" "$context" >/dev/null
    rm -f "$IMAGES/$name.tar"
    "${podman[@]}" save -q --format docker-archive -o "$IMAGES/$name.tar" "$image" >/dev/null
    touch "$IMAGES/.$name-$stamp"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

k8s_version=$(sed -n 's#^[[:space:]]*k8s.io/kubernetes \(v[0-9.]*\).*#\1#p' infra/k8s-build/go.mod)
pause_source=$(cd infra/k8s-build && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' \
    "k8s.io/kubernetes@$k8s_version")/build/pause/linux/pause.c
[ -f "$pause_source" ] || fail "no $pause_source"
mkdir "$work/pause"
# VERSION is printed by `pause -v`; the tag names the same version.
gcc -Os -static -DVERSION="${PAUSE_IMAGE##*:}" -o "$work/pause/pause" "$pause_source"
strip "$work/pause/pause"
printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' \
    >"$work/pause/Containerfile"
build_image pause "$PAUSE_IMAGE" "$work/pause"

mkdir "$work/coredns"
cp "$BIN/coredns" "$work/coredns/coredns"
printf 'FROM scratch\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]\n' \
    >"$work/coredns/Containerfile"
build_image coredns "$COREDNS_IMAGE" "$work/coredns"

# Knative Serving: one image per command (its deployments name one each, as ko builds them), at
# /ko-app/<name> as ko puts it, user 65532 (they demand runAsNonRoot).
for component in controller webhook activator autoscaler queue; do
    mkdir "$work/knative-$component"
    cp "$BIN/knative-$component" "$work/knative-$component/$component"
    printf 'FROM scratch\nCOPY %s /ko-app/%s\nUSER 65532:65532\nENTRYPOINT ["/ko-app/%s"]\n' \
        "$component" "$component" "$component" >"$work/knative-$component/Containerfile"
    build_image "knative-$component" "$KNATIVE_REGISTRY/knative-$component:$KNATIVE_TAG" \
        "$work/knative-$component"
done

# Knative Eventing's controller, webhook and mtping (the PingSource adapter), and the Kafka
# broker's control plane, the same way (their deployments demand runAsNonRoot as well).
for component in controller webhook mtping; do
    mkdir "$work/eventing-$component"
    cp "$BIN/eventing-$component" "$work/eventing-$component/$component"
    printf 'FROM scratch\nCOPY %s /ko-app/%s\nUSER 65532:65532\nENTRYPOINT ["/ko-app/%s"]\n' \
        "$component" "$component" "$component" >"$work/eventing-$component/Containerfile"
    build_image "eventing-$component" "$EVENTING_REGISTRY/knative-eventing-$component:$EVENTING_TAG" \
        "$work/eventing-$component"
done
for component in kafka-controller webhook-kafka; do
    mkdir "$work/$component"
    cp "$BIN/$component" "$work/$component/$component"
    printf 'FROM scratch\nCOPY %s /ko-app/%s\nUSER 65532:65532\nENTRYPOINT ["/ko-app/%s"]\n' \
        "$component" "$component" "$component" >"$work/$component/Containerfile"
    build_image "$component" "$KAFKA_BROKER_REGISTRY/knative-$component:$KAFKA_BROKER_TAG" \
        "$work/$component"
done

# Traefik, the KIngress: FROM scratch as well (it serves plain HTTP inside the node: no CA bundle).
mkdir "$work/traefik"
cp "$BIN/traefik" "$work/traefik/traefik"
printf 'FROM scratch\nCOPY traefik /traefik\nUSER 65532:65532\nENTRYPOINT ["/traefik"]\n' \
    >"$work/traefik/Containerfile"
build_image traefik "$TRAEFIK_IMAGE" "$work/traefik"

# Dapr: daprd from scripts/dapr.sh (its pin and its .cache/dapr; a no-op when built), the control
# plane from scripts/cluster/build.sh; the base through taskflow_dev.local.images (imported from its
# archive, or made with debootstrap the first time).
scripts/dapr.sh build
[ -x .venv/bin/python ] || fail "no .venv: run scripts/bootstrap.sh"
podman=(scripts/podman.sh)
base=$(.venv/bin/python -c \
    'from taskflow_dev.local.images import PYTHON_BASE, ensure_base; print(ensure_base(PYTHON_BASE))')
mkdir "$work/dapr"
cp infra/containers/dapr.Containerfile "$work/dapr/Containerfile"
for component in operator injector sentry placement scheduler; do
    ln "$BIN/dapr-$component" "$work/dapr/$component" 2>/dev/null ||
        cp "$BIN/dapr-$component" "$work/dapr/$component"
done
ln .cache/dapr/bin/daprd "$work/dapr/daprd" 2>/dev/null || cp .cache/dapr/bin/daprd "$work/dapr/daprd"
build_image dapr "$DAPR_REGISTRY/dapr:$DAPR_TAG" "$work/dapr" --build-arg "BASE=$base" \
    --target control-plane
build_image daprd "$DAPR_REGISTRY/daprd:$DAPR_TAG" "$work/dapr" --build-arg "BASE=$base" \
    --target daprd

# Kafka: the image `just images infra` makes (Kafka's Maven jars on the debootstrap infra base, the
# same Kafka the tests run), saved for the node; the archive is remade when the image changes.
.venv/bin/python -m taskflow_dev.local.images infra
kafka_id=$(scripts/podman.sh image inspect --format '{{.Id}}' "$KAFKA_IMAGE" | cut -c1-16)
if [ ! -f "$IMAGES/kafka.tar" ] || [ ! -f "$IMAGES/.kafka-$kafka_id" ]; then
    rm -f "$IMAGES/.kafka-"* "$IMAGES/kafka.tar"
    say "saving image $KAFKA_IMAGE"
    scripts/podman.sh save -q --format docker-archive -o "$IMAGES/kafka.tar" "$KAFKA_IMAGE" >/dev/null
    touch "$IMAGES/.kafka-$kafka_id"
fi
