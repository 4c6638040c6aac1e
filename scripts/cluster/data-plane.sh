#!/usr/bin/env bash
# Build the Knative Kafka broker's data plane (Java, the receiver and the dispatcher) for the
# single-node cluster, into .cache/kafka-data-plane/jars/{receiver,dispatcher}.jar.
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
# shellcheck source=../lib/process.sh
source "$(dirname "$0")/../lib/process.sh"
cd "$(dirname "$0")/../.."

ROOT=$PWD/.cache/kafka-data-plane
JDK_ROOT=$PWD/.cache/jdk21
APT_ROOT=$PWD/.cache/jdk21-apt
JAVA_HOME_21=$JDK_ROOT/usr/lib/jvm/java-21-openjdk-amd64
# The Debian 13 packages the JDK and its loader need; the JDK's other dependencies (NSS, lcms,
# libjpeg, PC/SC, the certificates) are optional at run time or already on Debian 12.
JDK_PACKAGES="openjdk-21-jre-headless openjdk-21-jdk-headless libc6 libstdc++6 libgcc-s1 zlib1g"
JDK_SUITE=trixie
# Modules the release images are built from (and, through -am, contract, core, receiver and
# dispatcher); their shaded jars are what the images run.
MODULES=receiver-loom,dispatcher-loom

version=$(sed -n 's/^KNATIVE_KAFKA_MODULE=//p' deploy/versions.env)
[ -n "$version" ] || fail "no KNATIVE_KAFKA_MODULE in deploy/versions.env"

# jdk21: unpack Debian 13's JDK 21 and the libraries it needs into $JDK_ROOT.
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
    rm -rf "$APT_ROOT" "$JDK_ROOT"
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
    mkdir -p "$JDK_ROOT"
    local deb
    for deb in "$APT_ROOT"/debs/*.deb; do
        dpkg -x "$deb" "$JDK_ROOT"
    done
    # Debian's JDK keeps its configuration in /etc/java-21-openjdk (absolute links), which is
    # not installed here: copy the unpacked files in place of the links (relocatable, and the
    # images copy the tree). cacerts keeps pointing at /etc/ssl/certs/java/cacerts (Debian 12's
    # ca-certificates-java).
    local link target
    while IFS= read -r link; do
        target=$(readlink "$link")
        cp --remove-destination "$JDK_ROOT$target" "$link"
    done < <(find "$JDK_ROOT" -type l -lname '/etc/java-21-openjdk/*')
    # bin/java and bin/javac through Debian 13's loader (glibc 2.41). The launcher finds its
    # home from libjli.so's path when /proc/self/exe is the loader, so java.home stays the JDK.
    local tool
    for tool in java javac; do
        mv "$JAVA_HOME_21/bin/$tool" "$JAVA_HOME_21/bin/$tool.bin"
        cat >"$JAVA_HOME_21/bin/$tool" <<EOF
#!/bin/sh
# Debian 13's $tool on Debian 12: through Debian 13's loader and libraries (scripts/cluster/data-plane.sh).
root=\$(cd "\$(dirname "\$0")/../../../../.." && pwd)
exec "\$root/usr/lib64/ld-linux-x86-64.so.2" \\
    --library-path "\$root/usr/lib/x86_64-linux-gnu:\$root/usr/lib/jvm/java-21-openjdk-amd64/lib" \\
    "\$root/usr/lib/jvm/java-21-openjdk-amd64/bin/$tool.bin" "\$@"
EOF
        chmod +x "$JAVA_HOME_21/bin/$tool"
    done
    "$JAVA_HOME_21/bin/java" -version 2>&1 | head -n 1 | grep -q '"21\.' ||
        fail "the unpacked JDK does not run: $("$JAVA_HOME_21/bin/java" -version 2>&1 | head -n 3)"
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

jdk21
sources
settings
build
