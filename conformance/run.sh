#!/bin/sh
# Build the conformance harness and the static in-container probe, then run every
# case against RUNTIME (default: berth's debug build). Prints TAP; the last line is
# "N passed, M failed". Run as root from anywhere.
# Usage: conformance/run.sh [RUNTIME] [harness args...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runtime=${1:-$top/target/debug/berth}
[ $# -gt 0 ] && shift
case $runtime in /*) ;; *) runtime=$(pwd)/$runtime ;; esac
cd "$top"
cargo build --quiet -p berth-conformance --bin berth-conformance
RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release -p berth-conformance \
    --bin berth-probe --target x86_64-unknown-linux-gnu --target-dir target/static
exec target/debug/berth-conformance --runtime "$runtime" \
    --probe target/static/x86_64-unknown-linux-gnu/release/berth-probe "$@"
