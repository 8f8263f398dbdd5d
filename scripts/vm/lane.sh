#!/usr/bin/env bash
# The cgroup v2 VM lane: build berth and integration tests, then in ONE qemu guest with
# a pure cgroup v2 hierarchy run the smoke test (guest-smoke.sh) and each test binary
# with BERTH_TEST_RUNTIME=/berth. Exits non-zero if any part failed.
#
# usage: scripts/vm/lane.sh [--timeout SECS] [--threads N] [all | smoke | TEST...]
#   all (default)  smoke + every integration test (tests/*.rs)
#   smoke          the smoke test only
#   TEST...        smoke + these integration tests (names of tests/*.rs, e.g. cgroups)
#   --threads N    the tests' --test-threads (default 2, the guest's CPUs)
#   --timeout SECS for the whole guest run (default 900)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

timeout_secs=900
threads=2
while [ "$#" -gt 0 ]; do
    case "$1" in
    --timeout) timeout_secs=${2:?--timeout needs seconds}; shift 2 ;;
    --threads) threads=${2:?--threads needs a number}; shift 2 ;;
    *) break ;;
    esac
done
tests=()
case "${1:-all}" in
smoke) ;;
all)
    for f in "$repo"/tests/*.rs; do
        t=$(basename "$f" .rs)
        # network needs nft, ip, gcc and netfilter/bridge modules the guest lacks,
        # and nothing in it depends on the cgroup version: it runs on the host.
        # robustness runs no container (pure code, no root): the host covers it.
        case $t in network | robustness) ;; *) tests+=("$t") ;; esac
    done
    ;;
*) tests=("$@") ;;
esac

cd "$repo"
echo "== cgroup v2 VM lane: build"
# The executables cargo reports, by target kind ("bin" or "test").
executables() {
    grep "\"kind\":\[\"$1\"\]" | grep -o '"executable":"[^"]*"' | cut -d'"' -f4
}
berth=$(cargo build --quiet --message-format=json | executables bin |
    grep '/berth$' | head -n1)
[ -n "$berth" ] || { echo "lane: cargo build gave no berth binary" >&2; exit 1; }

# The guest is made to look like the host where the tests expect it: /bin/sh is the
# host's (hooks run it; busybox sh would add SHLVL and PATH to their environment) and
# the loop driver is loaded (a device cgroup test opens /dev/loop0), and overlayfs
# (the layered rootfs tests).
vm_args=(--timeout "$timeout_secs" --strip-debug --bin "$berth:/berth"
    --bin "$here/guest-smoke.sh:/lane/guest-smoke.sh" --env BERTH_TEST_RUNTIME=/berth
    --bin "$(readlink -f /bin/sh):/bin/sh" --module loop --module overlay)
# The seccomp tests' static probe, built here: the guest has no compiler.
mkdir -p target/tmp
gcc -static -O1 -o target/tmp/sysprobe.lane tests/data/sysprobe.c
vm_args+=(--bin "$repo/target/tmp/sysprobe.lane:/lane/sysprobe" --env BERTH_SYSPROBE=/lane/sysprobe)
# shellcheck disable=SC2016 # the guest's shell expands these
guest='status=0
part() { # $1: name, rest: command
    n=$1; shift
    echo "== lane: $n"
    "$@"; rc=$?
    [ "$rc" = 0 ] || status=1
    echo "$n: exit $rc" >>/tmp/lane-summary
}
part smoke sh /lane/guest-smoke.sh'
if [ "${#tests[@]}" -gt 0 ]; then
    test_args=()
    for t in "${tests[@]}"; do test_args+=(--test "$t"); done
    while read -r exe; do
        name=$(basename "$exe")
        name=${name%-*}
        vm_args+=(--bin "$exe:/tests/$name")
        guest+="
part $name /tests/$name --test-threads=$threads"
    done < <(cargo test --quiet --no-run "${test_args[@]}" --message-format=json |
        executables test)
fi
# shellcheck disable=SC2016
guest+='
echo "== lane: summary"
cat /tmp/lane-summary
exit $status'

echo "== cgroup v2 VM lane: run (tests: ${tests[*]:-none})"
exec "$here/run-in-vm.sh" "${vm_args[@]}" -- sh -c "$guest"
