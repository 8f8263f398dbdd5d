#!/bin/sh
# berth against crun and runc, side by side: see benches/bench.py for what is measured.
# Usage (as root, after scripts/build-release):
#   benches/bench.sh [--install-missing] [--iterations N] [--parallel N] [--smoke]
#                    [--only berth,crun] [--extra NAME=PATH] [--skip-parallel] [--json F]
# crun refuses this kind of host's hybrid cgroups (v1 controllers plus a cgroup2 mount
# at /sys/fs/cgroup/unified): the benchmark runs in a private mount namespace where
# that mount is gone, so all three runtimes see plain cgroup v1. On a pure v2 host
# nothing is unmounted. It runs at nice -10 so that other load on the machine
# disturbs it less (all runtimes alike: they are interleaved).
# --install-missing: first apt-get install crun and runc if they are not there
# (otherwise a missing one is skipped with a note).
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = --install-missing ]; then
    shift
    command -v crun >/dev/null && command -v runc >/dev/null || {
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq crun runc >/dev/null
    }
fi
exec unshare --mount --propagation private sh -c '
    if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
        umount /sys/fs/cgroup/unified
    fi
    exec nice -n -10 python3 benches/bench.py "$@"' bench "$@"
