#!/bin/sh
# berth against crun and runc, side by side: see benches/bench.py for what is measured.
# Usage (as root, after `cargo build --release`):
#   benches/bench.sh [--iterations N] [--parallel N] [--smoke] [--only berth,crun] [--json F]
# crun refuses this kind of host's hybrid cgroups (v1 controllers plus a cgroup2 mount
# at /sys/fs/cgroup/unified): the benchmark runs in a private mount namespace where
# that mount is gone, so all three runtimes see plain cgroup v1. On a pure v2 host
# nothing is unmounted.
set -eu
cd "$(dirname "$0")/.."
exec unshare --mount --propagation private sh -c '
    if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
        umount /sys/fs/cgroup/unified
    fi
    exec python3 benches/bench.py "$@"' bench "$@"
