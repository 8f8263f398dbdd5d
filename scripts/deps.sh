#!/bin/sh
# Install the Debian packages berth's tests and examples need, if any is missing.
set -eu
# python3 and time: benches/bench.sh (its smoke run is in scripts/test-all).
need="busybox-static gcc libc6-dev libseccomp-dev runc nftables iproute2 python3 time"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
fi
