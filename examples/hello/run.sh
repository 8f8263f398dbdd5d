#!/bin/sh
# Build berth (release) and run the hello container from this bundle.
# Usage (as root): examples/hello/run.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ -x /bin/busybox ] || { apt-get update -qq && apt-get install -y -qq busybox-static; }
(cd "$top" && cargo build --release --quiet)
berth="$top/target/release/berth"
bundle=$(mktemp -d /tmp/berth-hello.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
cp "$here/config.json" "$bundle/"
"$top/examples/mkrootfs.sh" "$bundle/rootfs"
"$berth" run --bundle "$bundle" "hello-$$"
