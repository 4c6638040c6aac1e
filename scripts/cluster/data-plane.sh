#!/usr/bin/env bash
# Build the Knative Kafka broker's data plane (Java, the receiver and the dispatcher) for the
# single-node cluster: the jars into .cache/kafka-data-plane/jars/{receiver,dispatcher}.jar, and
# their images ($KAFKA_RECEIVER_IMAGE and $KAFKA_DISPATCHER_IMAGE of common.sh, from
# infra/containers/kafka-data-plane.Containerfile) saved as
# .cache/cluster/images/kafka-{receiver,dispatcher}.tar for the node.
#
# The sources are `data-plane/` of the knative.dev/eventing-kafka-broker module that
# deploy/versions.env pins (KNATIVE_KAFKA_MODULE; the module zip ships them). The release builds
# the `receiver-loom` and `dispatcher-loom` modules (the images its control plane's manifests
# name; the plain `receiver`/`dispatcher` are libraries of theirs) for Java 21: they use virtual
# threads and Java 21 APIs. Debian 12 has no JDK 21, so this script takes Debian 13's
# openjdk-21 packages with a private apt configuration (its own sources list, state and cache
# under .cache/jdk21-apt; the system's packages and apt sources are not touched) and unpacks them
# with `dpkg -x` into .cache/jdk21. That JDK needs glibc 2.38 (Debian 12 has 2.36), so Debian 13's
# libc6, libstdc++6, libgcc-s1 and zlib1g are unpacked beside it and bin/java and bin/javac become
# small scripts that start the real binaries through Debian 13's dynamic loader with
# --library-path: the library path reaches only the JDK's own process, never its children.
# See specs/deployment.md ("Knative Eventing and the Kafka broker").
#
# Each step is stamped, so a rerun takes a second. Maven runs under nice -n 19, offline once its
# repository (.cache/kafka-data-plane/m2) has everything, and resolves from Maven Central only.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROOT=$PWD/.cache/kafka-data-plane
JDK_ROOT=$PWD/.cache/jdk21
APT_ROOT=$PWD/.cache/jdk21-apt
JAVA_HOME_21=$JDK_ROOT/usr/lib/jvm/java-21-openjdk-amd64
# The Debian 13 packages the JDK and its loader need; the JDK's other dependencies (NSS, lcms,
# libjpeg, PC/SC, the certificates) are optional at run time or already on Debian 12. The images
# take the runtime ones only (no javac, no jmods).
RUNTIME_PACKAGES="openjdk-21-jre-headless libc6 libstdc++6 libgcc-s1 zlib1g"
JDK_PACKAGES="openjdk-21-jdk-headless $RUNTIME_PACKAGES"
JDK_SUITE=trixie
# Modules the release images are built from (and, through -am, contract, core, receiver and
# dispatcher); their shaded jars are what the images run.
MODULES=receiver-loom,dispatcher-loom

version=$KAFKA_BROKER_TAG
[ -n "$version" ] || fail "no KNATIVE_KAFKA_MODULE in deploy/versions.env"

# unpack_java DEST PACKAGE...: unpack the downloaded Debian 13 packages into DEST and make its
# java (and javac, when unpacked) run on Debian 12.
unpack_java() {
    local dest=$1 package deb
    shift
    rm -rf "$dest"
    mkdir -p "$dest"
    for package in "$@"; do
        deb=$(find "$APT_ROOT/debs" -name "${package}_*.deb" | head -n 1)
        [ -n "$deb" ] || fail "no $package in $APT_ROOT/debs"
        dpkg -x "$deb" "$dest"
    done
    # Debian's JDK keeps its configuration in /etc/java-21-openjdk (absolute links), which is
    # not installed here: copy the unpacked files in place of the links (relocatable, and the
    # images copy the tree). cacerts keeps pointing at /etc/ssl/certs/java/cacerts (Debian 12's
    # ca-certificates-java).
    local link target
    while IFS= read -r link; do
        target=$(readlink "$link")
        cp --remove-destination "$dest$target" "$link"
    done < <(find "$dest" -type l -lname '/etc/java-21-openjdk/*')
    # bin/java and bin/javac through Debian 13's loader (glibc 2.41). The launcher finds its
    # home from libjli.so's path when /proc/self/exe is the loader, so java.home stays the JDK.
    local home=$dest/usr/lib/jvm/java-21-openjdk-amd64 tool
    for tool in java javac; do
        [ -x "$home/bin/$tool" ] || continue
        mv "$home/bin/$tool" "$home/bin/$tool.bin"
        cat >"$home/bin/$tool" <<EOF
#!/bin/sh
# Debian 13's $tool on Debian 12: through Debian 13's loader and libraries (scripts/cluster/data-plane.sh).
root=\$(cd "\$(dirname "\$0")/../../../../.." && pwd)
exec "\$root/usr/lib64/ld-linux-x86-64.so.2" \\
    --library-path "\$root/usr/lib/x86_64-linux-gnu:\$root/usr/lib/jvm/java-21-openjdk-amd64/lib" \\
    "\$root/usr/lib/jvm/java-21-openjdk-amd64/bin/$tool.bin" "\$@"
EOF
        chmod +x "$home/bin/$tool"
    done
    "$home/bin/java" -version 2>&1 | head -n 1 | grep -q '"21\.' ||
        fail "the unpacked Java does not run: $("$home/bin/java" -version 2>&1 | head -n 3)"
}

# jdk21: fetch Debian 13's JDK 21 and the libraries it needs and unpack them into $JDK_ROOT.
jdk21() {
    local stamp
    stamp="$JDK_ROOT/.done-$(echo "$JDK_SUITE $JDK_PACKAGES" | sha256sum | cut -c1-16)"
    if [ -f "$stamp" ]; then
        return
    fi
    say "fetching openjdk-21 from Debian's $JDK_SUITE suite (private apt state in $APT_ROOT)"
    local uri
    # The same archive the machine's apt sources name, with another suite.
    uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
        head -n 1)
    [ -n "$uri" ] || uri=$(sed -n 's/^deb[[:space:]]\+\(http[^ ]*\).*/\1/p' /etc/apt/sources.list |
        head -n 1)
    [ -n "$uri" ] || fail "no Debian archive in the machine's apt sources"
    rm -rf "$APT_ROOT" "$JDK_ROOT" "$ROOT/image"
    mkdir -p "$APT_ROOT"/etc/{apt.conf.d,preferences.d,sources.list.d} \
        "$APT_ROOT"/state/lists/partial "$APT_ROOT"/cache/archives/partial "$APT_ROOT/debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $JDK_SUITE main" \
        >"$APT_ROOT/etc/sources.list"
    touch "$APT_ROOT/state/status"
    local apt_options=(-o "Dir::Etc::sourcelist=$APT_ROOT/etc/sources.list"
        -o "Dir::Etc::sourceparts=$APT_ROOT/etc/sources.list.d"
        -o "Dir::Etc::Parts=$APT_ROOT/etc/apt.conf.d"
        -o "Dir::Etc::preferencesparts=$APT_ROOT/etc/preferences.d"
        -o "Dir::State=$APT_ROOT/state" -o "Dir::State::status=$APT_ROOT/state/status"
        -o "Dir::Cache=$APT_ROOT/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
    apt-get -q "${apt_options[@]}" update >"$APT_ROOT/apt.log" 2>&1 ||
        fail "apt-get update failed, see $APT_ROOT/apt.log"
    # shellcheck disable=SC2086  # the package list splits on purpose
    (cd "$APT_ROOT/debs" && apt-get -q "${apt_options[@]}" download $JDK_PACKAGES) \
        >>"$APT_ROOT/apt.log" 2>&1 || fail "apt-get download failed, see $APT_ROOT/apt.log"
    # shellcheck disable=SC2086  # the package list splits on purpose
    unpack_java "$JDK_ROOT" $JDK_PACKAGES
    touch "$stamp"
}

# sources: a writable copy of the module's data-plane/ (the module cache is read-only).
sources() {
    local stamp="$ROOT/.src-$version"
    if [ -f "$stamp" ] && [ -d "$ROOT/src" ]; then
        return
    fi
    local dir
    dir=$(cd /tmp && go mod download -json "knative.dev/eventing-kafka-broker@$version" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir/data-plane" ] || fail "no data-plane/ in knative.dev/eventing-kafka-broker@$version"
    rm -rf "$ROOT/src" "$ROOT"/.src-*
    mkdir -p "$ROOT"
    cp -r "$dir/data-plane" "$ROOT/src"
    chmod -R u+w "$ROOT/src"
    touch "$stamp"
}

# settings.xml: Maven Central only. The poms also name a snapshots repository; every repository
# but Central goes to a path that does not exist, so it fails at once instead of waiting.
settings() {
    cat >"$ROOT/settings.xml" <<'EOF'
<settings>
  <mirrors>
    <!-- Maven Central only: every other repository the poms name fails here at once. -->
    <mirror>
      <id>central-only</id>
      <mirrorOf>*,!central</mirrorOf>
      <url>file:///nonexistent-repository</url>
    </mirror>
  </mirrors>
</settings>
EOF
}

build() {
    local stamp
    stamp="$ROOT/jars/.$version-$(echo "$MODULES" | sha256sum | cut -c1-16)"
    if [ -f "$stamp" ] && [ -f "$ROOT/jars/receiver.jar" ] && [ -f "$ROOT/jars/dispatcher.jar" ]; then
        return
    fi
    command -v mvn >/dev/null || fail "Maven is not installed (Debian's maven package)"
    local offline=()
    [ -f "$ROOT/m2/.complete" ] && offline=(-o)
    say "building the data plane ($MODULES) with Java 21, see $ROOT/build.log..."
    local started=$SECONDS
    # enforcer, spotless, license and jacoco only check the sources; tests are not run here.
    (cd "$ROOT/src" && JAVA_HOME=$JAVA_HOME_21 \
        nice -n 19 mvn -B "${offline[@]}" -s "$ROOT/settings.xml" -Dmaven.repo.local="$ROOT/m2" \
        -DskipTests -Denforcer.skip=true -Dspotless.check.skip=true -Dlicense.skip=true \
        -Djacoco.skip=true package -pl "$MODULES" -am) >"$ROOT/build.log" 2>&1 ||
        fail "building the data plane failed after $((SECONDS - started))s, see $ROOT/build.log"
    touch "$ROOT/m2/.complete"
    mkdir -p "$ROOT/jars"
    rm -f "$ROOT"/jars/.*-* 2>/dev/null || true
    local name jar
    for name in receiver dispatcher; do
        # The shaded jar (maven-shade-plugin replaces the module's jar, keeping original-*.jar).
        jar=$(find "$ROOT/src/$name-loom/target" -maxdepth 1 -name "$name-loom-*.jar" \
            ! -name 'original-*' ! -name '*-sources.jar' | head -n 1)
        [ -n "$jar" ] || fail "no $name-loom jar in $ROOT/src/$name-loom/target"
        cp "$jar" "$ROOT/jars/$name.jar"
    done
    say "built the data plane in $((SECONDS - started))s"
    touch "$stamp"
}

# images: the receiver and dispatcher images on the infra base (imported from its archive, or made
# with debootstrap the first time), saved for the node; remade when the jars, the runtime, the
# Containerfile or the base change.
images() {
    local context=$ROOT/image stamp base
    [ -x .venv/bin/python ] || fail "no .venv: run scripts/bootstrap.sh"
    base=$(.venv/bin/python -c \
        'from taskflow_dev.local.images import INFRA_BASE, ensure_base; print(ensure_base(INFRA_BASE))')
    stamp=$({ cat infra/containers/kafka-data-plane.Containerfile
        sha256sum "$ROOT/jars/receiver.jar" "$ROOT/jars/dispatcher.jar"; ls -a "$JDK_ROOT"
        echo "$base $KAFKA_RECEIVER_IMAGE $KAFKA_DISPATCHER_IMAGE"; } | sha256sum | cut -c1-16)
    if [ -f "$IMAGES/kafka-receiver.tar" ] && [ -f "$IMAGES/kafka-dispatcher.tar" ] &&
        [ -f "$IMAGES/.kafka-data-plane-$stamp" ]; then
        return
    fi
    local started=$SECONDS
    rm -f "$IMAGES/.kafka-data-plane-"*
    mkdir -p "$IMAGES" "$context"
    if [ ! -x "$context/jre21/usr/lib/jvm/java-21-openjdk-amd64/bin/java" ]; then
        # shellcheck disable=SC2086  # the package list splits on purpose
        unpack_java "$context/jre21" $RUNTIME_PACKAGES
    fi
    cp infra/containers/kafka-data-plane.Containerfile "$context/Containerfile"
    ln -f "$ROOT/jars/receiver.jar" "$ROOT/jars/dispatcher.jar" "$context/"
    local name image
    for name in receiver dispatcher; do
        image=$KAFKA_RECEIVER_IMAGE
        [ "$name" = dispatcher ] && image=$KAFKA_DISPATCHER_IMAGE
        say "building image $image"
        nice -n 19 scripts/podman.sh build -q -t "$image" --build-arg "BASE=$base" \
            --target "$name" "$context" >/dev/null
        rm -f "$IMAGES/kafka-$name.tar"
        nice -n 19 scripts/podman.sh save -q --format docker-archive \
            -o "$IMAGES/kafka-$name.tar" "$image" >/dev/null
    done
    touch "$IMAGES/.kafka-data-plane-$stamp"
    say "built and saved the data plane's images in $((SECONDS - started))s"
}

jdk21
sources
settings
build
images
