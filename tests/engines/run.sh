#!/usr/bin/env bash
# The engine end-to-end lane (issue 5): podman (through conmon), containerd (through its
# runc shim, driven by ctr) and Docker (through containerd) run the same scenarios twice,
# once with runc and once with berth as their low-level runtime, and each scenario passes
# when what the engine's user observes with berth (output, exit codes, states, cgroup
# values, reachability) equals what they observe with runc -- and runc's outcome is the
# expected one, so the lane cannot pass by both being wrong.
#
# Usage (as root):  tests/engines/run.sh [BERTH] [--direct] [--only LIST] [--logs DIR]
#   BERTH        the berth binary (default: target/debug/berth of this repository; build
#                it first with `cargo build`)
#   --direct     engines call the runtimes themselves, not through the logging wrapper
#   --only LIST  comma-separated subset of: podman,containerd,docker
#   --logs DIR   keep the runtime call logs, daemon logs and per-scenario outputs in DIR
#   --filter RE  run only the scenarios whose "engine: title" matches the regex RE
#
# It installs the Debian packages it needs if any is missing, builds a busybox image,
# runs containerd and dockerd with private directories under a temporary directory, and
# undoes everything it did to the host at the end (also on failure or interrupt).
# Output is TAP; the last line is "N passed, M failed"; the exit status is non-zero when
# anything failed. See tests/engines/README.md.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
berth_arg=""
direct=0
only="podman,containerd,docker"
keep_logs=""
filter=""
while [ $# -gt 0 ]; do
    case $1 in
        --direct) direct=1 ;;
        --only) only=${2:?--only needs a list}; shift ;;
        --only=*) only=${1#--only=} ;;
        --logs) keep_logs=${2:?--logs needs a directory}; shift ;;
        --filter) filter=${2:?--filter needs a regex}; shift ;;
        --filter=*) filter=${1#--filter=} ;;
        --logs=*) keep_logs=${1#--logs=} ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) [ -z "$berth_arg" ] || { echo "run.sh: one BERTH path only" >&2; exit 2; }
           berth_arg=$1 ;;
    esac
    shift
done
if [ -z "$berth_arg" ]; then
    BERTH=$top/target/debug/berth
else
    case $berth_arg in /*) BERTH=$berth_arg ;; *) BERTH=$(pwd)/$berth_arg ;; esac
fi
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (engines and containers need it)" >&2; exit 2; }
[ -x "$BERTH" ] || { echo "run.sh: no berth binary at $BERTH (cargo build first)" >&2; exit 2; }
RUNC=/usr/sbin/runc
DOCKER_CLI=/usr/bin/docker   # Debian's client, matching its daemon (not /usr/local/bin's)
TMO=90                       # seconds any single engine command may take
exec </dev/null

us() { echo "${EPOCHREALTIME/./}"; }                      # microseconds
secs() { local d=$(( ($2 - $1) / 10000 )); printf '%d.%02d' $((d / 100)) $((d % 100)); }
T0=$(us)
note() { echo "# $*"; }

# ---------------------------------------------------------------- packages
PKGS="podman containerd docker.io tini conmon runc crun busybox-static uidmap slirp4netns
fuse-overlayfs catatonit containernetworking-plugins netavark aardvark-dns
golang-github-containers-common iptables nftables jq curl util-linux bsdutils"
created_policy=0
install_packages() {
    local p missing=""
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    note "installing:$missing"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # keep docker.io's and containerd's maintainer scripts from starting daemons
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        trap 'exit 130' INT TERM
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
    local rc=$?
    if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; created_policy=0; trap - EXIT INT TERM; fi
    [ $rc = 0 ] || { echo "run.sh: apt-get install failed" >&2; exit 1; }
}
install_packages

# ---------------------------------------------------------------- one lane at a time
# (a directory, not flock: a lock fd would leak into every daemon and runtime)
LOCK=/run/berth-engines-lane.lock
if ! mkdir "$LOCK" 2>/dev/null; then
    other=$(cat "$LOCK/pid" 2>/dev/null)
    if [ -n "$other" ] && kill -0 "$other" 2>/dev/null; then
        echo "run.sh: another engine lane is running (pid $other, $LOCK)" >&2; exit 2
    fi
    rm -rf "$LOCK"; mkdir "$LOCK" || exit 2
fi
echo $$ > "$LOCK/pid"

T=$(mktemp -d /tmp/berth-engines.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/bin" "$T/logs" "$T/img" "$T/sc" "$T/base" "$T/pm" "$T/ctd" "$T/dk"

# ---------------------------------------------------------------- host baseline
# Everything the engines may create on the host outside $T; what did not exist before
# the run is removed after it.
HOST_PATHS="/run/containerd /run/containers /run/netns /run/docker /run/runc /run/berth
/var/lib/containers /etc/docker/key.json /etc/containers/networks /var/lib/cni /run/cni
/opt/containerd /var/lib/docker /var/lib/containerd /run/libpod"
BRIDGES="docker0 podman0"
CG_PARENTS="libpod_parent docker default moby"
SYSCTLS="net/ipv4/ip_forward net/ipv6/conf/all/forwarding net/ipv6/conf/default/forwarding
net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables"
MNT_PREFIXES="$T /run/netns /run/docker /run/containerd /run/containers /var/lib/containers /run/libpod"

cgroup_roots() {   # every mounted cgroup hierarchy (v1 controllers and the v2 tree)
    awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) ~ /^cgroup2?$/) print $5; break } }' \
        /proc/self/mountinfo | sort -u
}
mounts_under_prefixes() {
    local p
    awk '{print $5}' /proc/self/mountinfo | while read -r m; do
        for p in $MNT_PREFIXES; do
            case $m in "$p"|"$p"/*) echo "$m"; break ;; esac
        done
    done | sort -u
}
engine_cgroups() {   # the engines' cgroup parents and every cgroup below them, sorted
    local r n
    for r in $(cgroup_roots); do
        for n in $CG_PARENTS; do [ -d "$r/$n" ] && find "$r/$n" -type d; done
    done | sort
}
new_cgroups() {   # those the run made, deepest first
    engine_cgroups | grep -vxF -f "$T/base/cgroups" | awk '{ print length($0) " " $0 }' |
        sort -rn | cut -d' ' -f2-
}
host_snapshot() {   # DIR
    local d=$1 p t r n s
    mkdir -p "$d"
    for p in $HOST_PATHS; do [ -e "$p" ] && echo "$p"; done > "$d/paths"
    ip -o link | awk -F': ' '{print $2}' | sed 's/@.*//' | sort > "$d/links"
    for t in filter nat mangle raw; do
        iptables -t "$t" -S 2>/dev/null > "$d/ipt4.$t"
        ip6tables -t "$t" -S 2>/dev/null > "$d/ipt6.$t"
    done
    nft list tables 2>/dev/null | sort > "$d/nft"
    engine_cgroups > "$d/cgroups"
    for s in $SYSCTLS; do [ -f "/proc/sys/$s" ] && echo "$s $(cat "/proc/sys/$s")"; done > "$d/sysctl"
    mounts_under_prefixes > "$d/mounts"
}
host_snapshot "$T/base"

# ---------------------------------------------------------------- teardown
CTD_PID="" DKD_PID="" torn_down=0
stop_pid() {   # PID NAME: TERM, wait up to 20 s, then KILL
    local pid=$1 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    note "$2 (pid $pid) ignored SIGTERM for 20 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
our_pids() {   # processes whose command line names $T: conmon, shims, daemons, cleanups
    local p cmd
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = $$ ] && continue
        cmd=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null) || continue
        case $cmd in *"$T"*) echo "$p" ;; esac
    done
}
ipt_cleanup() {   # remove the rules and chains Docker and netavark added (not the baseline's)
    local fam=$1 cmd=$2 t line ch
    for t in filter nat mangle raw; do
        $cmd -t "$t" -S >/dev/null 2>&1 || continue
        $cmd -t "$t" -S | grep '^-A ' | grep -E 'DOCKER|NETAVARK|docker0|podman0' | while read -r line; do
            grep -qxF -- "$line" "$T/base/ipt$fam.$t" && continue
            eval "$cmd -t $t -D ${line#-A }" 2>/dev/null
        done
        for ch in $($cmd -t "$t" -S | awk '$1 == "-N" {print $2}' | grep -E '^(DOCKER|NETAVARK)'); do
            grep -qxF -- "-N $ch" "$T/base/ipt$fam.$t" || $cmd -t "$t" -F "$ch" 2>/dev/null
        done
        for ch in $($cmd -t "$t" -S | awk '$1 == "-N" {print $2}' | grep -E '^(DOCKER|NETAVARK)'); do
            grep -qxF -- "-N $ch" "$T/base/ipt$fam.$t" || $cmd -t "$t" -X "$ch" 2>/dev/null
        done
    done
}
nft_cleanup() {   # tables iptables-nft/netavark created, once they hold no rule
    local fam name
    nft list tables 2>/dev/null | sort | while read -r _ fam name; do
        grep -qxF "table $fam $name" "$T/base/nft" && continue
        if ! nft list table "$fam" "$name" 2>/dev/null |
            grep -vE '^\s*(table|chain|type|policy|\}|$)' | grep -q .; then
            nft delete table "$fam" "$name" 2>/dev/null
        fi
    done
}
teardown() {
    [ "$torn_down" = 1 ] && return 0
    torn_down=1
    local c ns p m b r d s v i
    # containers, then daemons
    if [ -n "$DKD_PID" ] && kill -0 "$DKD_PID" 2>/dev/null; then
        c=$(dk ps -aq 2>/dev/null)
        # shellcheck disable=SC2086
        [ -z "$c" ] || dk rm -f $c >/dev/null 2>&1
    fi
    stop_pid "$DKD_PID" dockerd
    if [ -n "$CTD_PID" ] && kill -0 "$CTD_PID" 2>/dev/null; then
        for ns in $(ctr --address "$T/ctd/containerd.sock" namespaces ls -q 2>/dev/null); do
            for c in $(ctr --address "$T/ctd/containerd.sock" -n "$ns" containers ls -q 2>/dev/null); do
                timeout 30 ctr --address "$T/ctd/containerd.sock" -n "$ns" task kill -a -s KILL "$c" >/dev/null 2>&1
                timeout 30 ctr --address "$T/ctd/containerd.sock" -n "$ns" task delete -f "$c" >/dev/null 2>&1
                timeout 30 ctr --address "$T/ctd/containerd.sock" -n "$ns" containers rm "$c" >/dev/null 2>&1
            done
        done
    fi
    stop_pid "$CTD_PID" containerd
    if [ -f "$T/pm/json.conf" ]; then
        CONTAINERS_CONF=$T/pm/json.conf timeout 60 "${PODMAN[@]}" pod rm -af -t 0 >/dev/null 2>&1
        CONTAINERS_CONF=$T/pm/json.conf timeout 60 "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1
    fi
    # anything of ours still running (conmon, shims, `podman container cleanup`)
    for i in 1 2 3; do
        p=$(our_pids)
        [ -z "$p" ] && break
        [ $i = 1 ] && note "teardown: ending leftover processes: $(echo $p)"
        # shellcheck disable=SC2086
        kill -KILL $p 2>/dev/null
        sleep 0.5
    done
    # processes left in cgroups the run created (containers whose runtime lost them)
    for d in $(new_cgroups); do
        p=$(sort -u "$d/cgroup.procs" 2>/dev/null)
        if [ -n "$p" ]; then
            note "teardown: killing processes left in $d: $(echo $p)"
            # shellcheck disable=SC2086
            kill -KILL $p 2>/dev/null
        fi
    done
    sleep 0.2
    # mounts (deepest first)
    for m in $(mounts_under_prefixes | sort -r); do
        grep -qxF "$m" "$T/base/mounts" && continue
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    # network
    for b in $BRIDGES; do
        grep -qxF "$b" "$T/base/links" || ip link del "$b" 2>/dev/null
    done
    ipt_cleanup 4 iptables
    ipt_cleanup 6 ip6tables
    nft_cleanup
    while read -r s v; do
        [ "$(cat "/proc/sys/$s" 2>/dev/null)" = "$v" ] || echo "$v" > "/proc/sys/$s"
    done < "$T/base/sysctl"
    # cgroups the engines created, also below parents that were there before (podman
    # leaves a pod's cgroup in the cgroup2 tree of a hybrid host after `pod rm`, with
    # runc and berth alike); what cannot be removed shows in the host check
    for d in $(new_cgroups); do rmdir "$d" 2>/dev/null; done
    # files and directories
    for p in $HOST_PATHS; do
        grep -qxF "$p" "$T/base/paths" && continue
        [ -e "$p" ] || continue
        case $p in
            /run/berth|/run/runc) rmdir "$p" 2>/dev/null ;;   # only if empty: see the host check
            *) rm -rf --one-file-system "$p" ;;
        esac
    done
}
host_leftovers() {   # what differs from the baseline (empty when the host is clean)
    local d=$T/after
    rm -rf "$d"
    host_snapshot "$d"
    local f
    for f in paths links nft cgroups sysctl mounts ipt4.filter ipt4.nat ipt4.mangle ipt4.raw \
        ipt6.filter ipt6.nat ipt6.mangle ipt6.raw; do
        diff "$T/base/$f" "$d/$f" | grep '^[<>]' | sed "s|^|$f: |"
    done
    local p
    p=$(our_pids)
    [ -z "$p" ] || echo "processes: $(echo $p)"
}
finish() {
    local rc=$?
    trap - EXIT INT TERM
    teardown
    if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    if [ -n "$keep_logs" ]; then
        mkdir -p "$keep_logs"
        cp -a "$T/logs/." "$keep_logs/" 2>/dev/null
        cp -a "$T/sc" "$keep_logs/scenarios" 2>/dev/null
    fi
    # nothing may still be mounted below $T before it goes
    if awk '{print $5}' /proc/self/mountinfo | grep -q "^$T"; then
        echo "run.sh: mounts left under $T; not removing it" >&2
    else
        rm -rf --one-file-system "$T"
    fi
    rm -rf "$LOCK"
    exit $rc
}
trap finish EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- runtimes as engines see them
# A logging wrapper per runtime, named like it (podman picks flags by the runtime's
# name): it appends argv, cwd, the environment (values of the relevant variables), the
# resources JSON of `update`, and the exit code to $T/logs/NAME.log, and passes
# everything else through unchanged (fds, stdin, environment).
make_wrapper() {   # NAME REAL
    local w=$T/bin/$1
    {
        echo '#!/bin/bash'
        printf 'real=%q\nlog=%q\n' "$2" "$T/logs/$1.log"
        cat <<'W'
mapfile -d '' -t __env < /proc/$$/environ
declare -A __had=()
for __e in "${__env[@]}"; do __had[${__e%%=*}]=1; done
# bash exports PWD, SHLVL and OLDPWD on its own: hide them unless the caller passed them
for __v in PWD SHLVL OLDPWD; do [[ ${__had[$__v]-} ]] || export -n "$__v"; done
rec="== ${EPOCHREALTIME} pid=$$ ppid=$PPID cwd=$PWD"$'\n'"   argv:"
for __a in "$@"; do printf -v __q ' %q' "$__a"; rec+=$__q; done
rec+=$'\n'"   env:"
for __e in "${__env[@]}"; do
    case ${__e%%=*} in
        PATH|HOME|XDG_RUNTIME_DIR|NOTIFY_SOCKET|LISTEN_FDS|TMPDIR|_OCI_*) printf -v __q ' %q' "$__e"; rec+=$__q ;;
        *) rec+=" ${__e%%=*}" ;;
    esac
done
[[ ${#__env[@]} == 0 ]] && rec+=" (empty)"
cap=0 prev=
for __a in "$@"; do
    f=
    case $prev in -r|--resources) if [[ $__a == - ]]; then cap=1; else f=$__a; fi ;; esac
    case $__a in --resources=-|-r=-) cap=1 ;; --resources=*) f=${__a#--resources=} ;; esac
    [[ -n $f && -f $f ]] && rec+=$'\n'"   resources file: $(<"$f")"
    prev=$__a
done
if ((cap)); then
    data=$(/bin/cat)
    rec+=$'\n'"   stdin: $data"
    printf '%s\n' "$rec" >> "$log"
    "$real" "$@" <<<"$data"; rc=$?
else
    printf '%s\n' "$rec" >> "$log"
    "$real" "$@"; rc=$?
fi
printf '<= %s pid=%s rc=%s\n' "$EPOCHREALTIME" "$$" "$rc" >> "$log"
exit $rc
W
    } > "$w"
    chmod 755 "$w"
    : > "$T/logs/$1.log"
}
if [ "$direct" = 1 ]; then
    declare -A RTBINS=([berth]=$BERTH [runc]=$RUNC)
else
    make_wrapper berth "$BERTH"
    make_wrapper runc "$RUNC"
    declare -A RTBINS=([berth]=$T/bin/berth [runc]=$T/bin/runc)
fi
declare -A RTREALS=([berth]=$BERTH [runc]=$RUNC)
declare -A DRTS=([berth]=berth [runc]=runc-ref)   # Docker runtime names ("runc" is reserved)

# ---------------------------------------------------------------- engine command helpers
IMG=localhost/busybox:latest
PODMAN=(podman --cgroup-manager=cgroupfs --events-backend=file --network-backend=netavark
    --root "$T/pm/root" --runroot "$T/pm/runroot" --tmpdir "$T/pm/tmp" --storage-driver overlay)
PM_CONF=$T/pm/json.conf
pm() { CONTAINERS_CONF=$PM_CONF timeout -k 5 "$TMO" "${PODMAN[@]}" --runtime "$RTBIN" "$@"; }
ct() { timeout -k 5 "$TMO" ctr --address "$T/ctd/containerd.sock" -n default "$@"; }
dk() { timeout -k 5 "$TMO" "$DOCKER_CLI" -H "unix://$T/dk/docker.sock" "$@"; }
ct_script() {   # ctr with a terminal on its stdin (script(1) makes one): ARGS...
    local cmd
    printf -v cmd '%q ' timeout --foreground -k 5 "$TMO" ctr --address "$T/ctd/containerd.sock" -n default "$@"
    script -qec "$cmd" /dev/null
}

# ---------------------------------------------------------------- observation helpers
cgroup_mount() {   # CONTROLLER -> mount point of its v1 hierarchy ("" when on v2)
    awk -v c="$1" '{ for (i = 1; i <= NF; i++) if ($i == "-") {
        if ($(i+1) == "cgroup") { n = split($(i+3), o, ","); for (j = 1; j <= n; j++) if (o[j] == c) { print $5; exit } }
        break } }' /proc/self/mountinfo
}
cgroup2_mount() { awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo; }
cgdir() {   # PID CONTROLLER -> host directory of PID's cgroup for it
    local m line
    m=$(cgroup_mount "$2")
    if [ -n "$m" ]; then
        line=$(grep -E "^[0-9]+:([^:]*,)?$2(,[^:]*)?:" "/proc/$1/cgroup") || return 1
        echo "$m${line#*:*:}"
    else
        line=$(grep '^0::' "/proc/$1/cgroup") || return 1
        echo "$(cgroup2_mount)${line#0::}"
    fi
}
MEM_V1=0; [ -n "$(cgroup_mount memory)" ] && MEM_V1=1
CPU_V1=0; [ -n "$(cgroup_mount cpu)" ] && CPU_V1=1
FRZ_V1=0; [ -n "$(cgroup_mount freezer)" ] && FRZ_V1=1
limits_of() {   # PID -> the memory, swap and cpu values of its cgroup, as the kernel has them
    local d
    d=$(cgdir "$1" memory) || { echo "memory: no cgroup"; return; }
    if [ "$MEM_V1" = 1 ]; then
        echo "memory.limit_in_bytes: $(cat "$d/memory.limit_in_bytes")"
        [ -f "$d/memory.memsw.limit_in_bytes" ] && echo "memory.memsw.limit_in_bytes: $(cat "$d/memory.memsw.limit_in_bytes")"
    else
        echo "memory.max: $(cat "$d/memory.max")"
        [ -f "$d/memory.swap.max" ] && echo "memory.swap.max: $(cat "$d/memory.swap.max")"
    fi
    d=$(cgdir "$1" cpu)
    if [ "$CPU_V1" = 1 ]; then echo "cpu.shares: $(cat "$d/cpu.shares")"
    else echo "cpu.weight: $(cat "$d/cpu.weight")"; fi
}
freezer_of() {   # PID -> frozen | thawed | ?
    local d
    d=$(cgdir "$1" freezer) || { echo "no cgroup"; return; }
    if [ "$FRZ_V1" = 1 ]; then
        case $(cat "$d/freezer.state") in FROZEN) echo frozen ;; THAWED) echo thawed ;; *) cat "$d/freezer.state" ;; esac
    else
        case $(awk '$1 == "frozen" {print $2}' "$d/cgroup.events") in 1) echo frozen ;; 0) echo thawed ;; *) echo "?" ;; esac
    fi
}
rt_state() {   # ID [ROOT] -> the runtime's own status of ID, or "absent"
    local out root=()
    [ -n "${2-}" ] && root=(--root "$2")
    if out=$("$RTREAL" "${root[@]}" state "$1" 2>/dev/null); then jq -r .status <<<"$out"; else echo absent; fi
}
alive() { kill -0 "$1" 2>/dev/null && echo alive || echo gone; }
ns_shared() {   # PID PID NS... -> "net shared, pid separate, ..."
    local a=$1 b=$2 ns out=()
    shift 2
    for ns in "$@"; do
        if [ "$(readlink "/proc/$a/ns/$ns")" = "$(readlink "/proc/$b/ns/$ns")" ]; then out+=("$ns shared"); else out+=("$ns separate"); fi
    done
    (IFS=,; echo "${out[*]}" | sed 's/,/, /g')
}
present() { [ -e "$1" ] && echo present || echo removed; }
waitfor() {   # SECONDS CMD...: until CMD succeeds
    local n=$(( $1 * 10 )); shift
    while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
words() {   # FILE -> the error words engines map to exit codes, as found in FILE
    grep -o -E 'no such file or directory|executable file not found|permission denied' "$1" | sort -u | paste -sd, -
}
ip2int() { local IFS=.; set -- $1; echo $(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 )); }
in_subnet() {   # IP CIDR
    local len=${2#*/} mask
    mask=$(( len == 0 ? 0 : (0xffffffff << (32 - len)) & 0xffffffff ))
    [ -n "$1" ] && (( ($(ip2int "$1") & mask) == ($(ip2int "${2%/*}") & mask) ))
}
http_get() { curl -s --noproxy '*' --max-time 3 "http://$1:8080/"; }   # only container addresses
host_ping() { busybox ping -c 1 -W 2 "$1" >/dev/null 2>&1 && echo ok || echo fail; }
crlf() { tr -d '\r\000'; }

# ---------------------------------------------------------------- the scenario harness
NUM=0 PASSED=0 FAILED=0 SKIPPED=0
declare -a FAILS=()
use_runtime() {
    RT=$1 RTBIN=${RTBINS[$1]} RTREAL=${RTREALS[$1]} DRT=${DRTS[$1]}
    NAME=e2e-$NUM-$RT
    W=$T/sc/$NUM/$RT.work
    mkdir -p "$W"
}
indent() { sed 's/^/#     /'; }
failed_calls() {   # CALLS-LOG -> "rc N: argv" of every call that exited non-zero
    awk '/^== / { match($0, /pid=[0-9]+/); p = substr($0, RSTART + 4, RLENGTH - 4); getline; a[p] = substr($0, 10) }
         /^<= / { match($0, /pid=[0-9]+/); p = substr($0, RSTART + 4, RLENGTH - 4); rc = $NF; sub(/rc=/, "", rc)
                  if (rc != 0) { print "rc " rc ": " a[p]; n++ } }
         END { if (!n) print "(none)" }' "$1"
}
# EXPECTED is runc's exact outcome, or "*LINE": runc is the reference (its outcome must
# hold LINE, e.g. "exit code: 0", so that a scenario broken for both cannot pass).
scenario() {   # ENGINE TITLE FUNCTION EXPECTED [SKIP-REASON]
    local engine=$1 title=$2 fn=$3 expected=$4 skip=${5-} rt t0 t1 l0
    [ -z "$filter" ] || [[ "$engine: $title" =~ $filter ]] || return 0
    NUM=$((NUM + 1))
    local label="$engine: $title" sd=$T/sc/$NUM
    if [ -n "$skip" ]; then
        echo "ok $NUM - $label # SKIP $skip"
        PASSED=$((PASSED + 1)) SKIPPED=$((SKIPPED + 1))
        return
    fi
    mkdir -p "$sd"
    printf '%s\n' "$expected" > "$sd/expected"
    declare -A took=()
    for rt in runc berth; do
        use_runtime "$rt"
        l0=0
        [ -f "$T/logs/$rt.log" ] && l0=$(wc -l < "$T/logs/$rt.log")
        t0=$(us)
        ( "$fn" ) > "$sd/$rt.out" 2> "$sd/$rt.err"
        t1=$(us)
        took[$rt]=$(secs "$t0" "$t1")
        [ -f "$T/logs/$rt.log" ] && tail -n +"$((l0 + 1))" "$T/logs/$rt.log" > "$sd/$rt.calls"
    done
    if [ "${expected:0:1}" != "*" ] && ! diff -q "$sd/expected" "$sd/runc.out" >/dev/null; then
        echo "not ok $NUM - $label (runc did not give the expected outcome: the lane or the machine is wrong)"
        echo "#   expected vs runc:"; diff "$sd/expected" "$sd/runc.out" | indent
        echo "#   runc stderr:"; tail -n 15 "$sd/runc.err" | indent
        FAILED=$((FAILED + 1)); FAILS+=("$NUM $label")
    elif [ "${expected:0:1}" = "*" ] && ! grep -qxF -- "${expected:1}" "$sd/runc.out"; then
        echo "not ok $NUM - $label (runc's outcome lacks \"${expected:1}\": the lane or the machine is wrong)"
        tail -n 5 "$sd/runc.out" | indent
        echo "#   runc stderr:"; tail -n 15 "$sd/runc.err" | indent
        FAILED=$((FAILED + 1)); FAILS+=("$NUM $label")
    elif ! diff -q "$sd/runc.out" "$sd/berth.out" >/dev/null; then
        echo "not ok $NUM - $label (berth differs from runc)"
        echo "#   runc vs berth:"; diff "$sd/runc.out" "$sd/berth.out" | indent
        echo "#   berth stderr:"; tail -n 15 "$sd/berth.err" | indent
        if [ -s "$sd/berth.calls" ]; then
            echo "#   berth calls that failed (of $(grep -c '^== ' "$sd/berth.calls"); all are in --logs DIR):"
            failed_calls "$sd/berth.calls" | indent
        fi
        FAILED=$((FAILED + 1)); FAILS+=("$NUM $label")
    else
        echo "ok $NUM - $label (berth matches runc)"
        PASSED=$((PASSED + 1))
    fi
    [ -s "$sd/berth.work/notes" ] && sort -u "$sd/berth.work/notes" | sed 's/^/#   berth: /'
    echo "#   time: runc ${took[runc]}s, berth ${took[berth]}s"
}

# Expected values that depend on the cgroup version of the memory/cpu/freezer controllers.
if [ "$MEM_V1" = 1 ]; then
    EXP_LIMITS="memory.limit_in_bytes: 67108864"
    [ -n "$(find "$(cgroup_mount memory)" -maxdepth 1 -name memory.memsw.limit_in_bytes)" ] &&
        EXP_LIMITS+=$'\n'"memory.memsw.limit_in_bytes: 134217728"
else
    EXP_LIMITS="memory.max: 67108864"
    [ -n "$(find "$(cgroup2_mount)" -maxdepth 2 -name memory.swap.max -print -quit)" ] &&
        EXP_LIMITS+=$'\n'"memory.swap.max: 67108864"
fi
if [ "$CPU_V1" = 1 ]; then EXP_LIMITS+=$'\n'"cpu.shares: 512"; else EXP_LIMITS+=$'\n'"cpu.weight: 20"; fi
# podman and Docker: run -d, stop (the program exits 7 on SIGTERM), rm.
EXP_LIFECYCLE="status: running
runtime state: running
stop: exit code 0
after stop: exited 7
rm: exit code 0
after rm: removed
runtime state after rm: absent
cgroup after rm: removed
process after rm: gone"
EXP_SIGNALS="run: SigIgn: 0000000000000000 pipeline done
exec: SigIgn: 0000000000000000 pipeline done"
EXP_SECCOMP="Seccomp: 2"
grep -q '^Seccomp_filters:' /proc/self/status && EXP_SECCOMP+=$'\n'"Seccomp_filters: 1"
NO_SECCOMP=""; grep -q '^Seccomp:' /proc/self/status || NO_SECCOMP="this kernel has no seccomp"

NO_FREEZER=""; [ "$FRZ_V1" = 1 ] || [ -f "$(cgroup2_mount)/cgroup.freeze" ] || [ -n "$(find "$(cgroup2_mount)" -maxdepth 2 -name cgroup.freeze -print -quit 2>/dev/null)" ] || NO_FREEZER="no cgroup freezer on this machine"

# What a container sees of its own configuration, normalized so that only what the
# runtime decides remains (container ids and names are replaced): identity, caps,
# rlimits, fds, sysctls, cgroups, every mount with its flags and propagation, /dev, and
# the limits the engine asked for. Compared between runc and berth as a whole. pid 1's
# fds are listed into a file: inside $(...) the shell (pid 1) may still hold the
# pipe's write end when ls looks, a race that made the list differ by chance.
# shellcheck disable=SC2016
SNAP='
echo "id: $(id)"
echo "hostname: $(hostname)"
echo "cwd: $(pwd)"
echo "umask: $(umask)"
echo "env: $(env | grep -v -E "^(_|PWD|SHLVL)=" | sort | tr "\n" " ")"
grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):" /proc/1/status | sed "s/^/pid 1 /"
echo "oom_score_adj: $(cat /proc/self/oom_score_adj)"
ulimit -a | sed "s/^/rlimit /"
ls /proc/1/fd > /dev/shm/fds-of-pid-1
echo "fds of pid 1: $(sort -n /dev/shm/fds-of-pid-1 | tr "\n" " ")"
for s in net/ipv4/ping_group_range net/ipv4/ip_unprivileged_port_start kernel/domainname; do echo "sysctl $s: $(cat /proc/sys/$s 2>&1)"; done
sed -E "s/[0-9a-f]{64}/ID/g; s/e2e-[0-9]+-(runc|berth)/NAME/g; s/^/cgroup /" /proc/self/cgroup
awk "{ p = \"\"; for (i = 7; \$i != \"-\"; i++) { if (\$i ~ /^shared:/) p = p \" shared\"; if (\$i ~ /^master:/) p = p \" slave\" }; s = \$(i+3); if (\$(i+1) == \"overlay\") s = \"-\"; print \"mount\", \$5, \$(i+1), \$6, s p }" /proc/self/mountinfo | sed -E "s/[0-9a-f]{64}/ID/g" | sort
for f in /dev/* /dev/pts/* /dev/mqueue /dev/shm; do
  if [ -L "$f" ]; then echo "dev $f -> $(readlink "$f")"; else stat -c "dev %n %F %a %u %g %t:%T" "$f"; fi
done
for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu.weight; do
  [ -e "$f" ] && echo "limit $f: $(cat "$f")"
done
true'
SNAP_OPTS_NOTE="-w, -e, --hostname, caps, --sysctl, --ulimit, --oom-score-adj, --read-only, --tmpfs, -v rw/ro, limits"
# Where berth deliberately differs from runc 1.1 in what SNAP shows. Each is normalized
# away here and printed as a note under the scenario, so it stays visible; delete a line
# to make it fail the lane instead.
snap_norm() {   # stdin: SNAP output -> stdout: normalized; notes in $W/notes
    cat > "$W/snap.raw"
    grep -qE '^mount [^ ]+ tmpfs ro,[^ ]* ro,size=0k,mode=555$' "$W/snap.raw" &&
        echo "known divergence: masked directories are tmpfs with size=0k,mode=555 (runc 1.1: no options, so mode 1777)" >> "$W/notes"
    grep -qE '^mount /sys/fs/cgroup/unified cgroup2 ' "$W/snap.raw" &&
        echo "known divergence: on this hybrid host berth also mounts the cgroup2 hierarchy at /sys/fs/cgroup/unified (runc 1.1 mounts the v1 hierarchies only)" >> "$W/notes"
    grep -qE '^mount /sys/fs/cgroup tmpfs ro,' "$W/snap.raw" &&
        echo "known divergence: the v1 cgroup tmpfs at /sys/fs/cgroup is read-only as the config's cgroup mount asks (runc 1.1 leaves it rw)" >> "$W/notes"
    sed -E 's/\b[0-9a-f]{64}\b/<id>/g; s/\b[0-9a-f]{12}\b/<id12>/g
        s/^(mount [^ ]+ tmpfs ro,[^ ]* ro),size=0k,mode=555$/\1/
        /^mount \/sys\/fs\/cgroup\/unified cgroup2 /d
        s/^(mount \/sys\/fs\/cgroup tmpfs )ro,/\1rw,/' "$W/snap.raw"
}
# Signal dispositions a container process starts with (run and exec): nothing ignored,
# so `yes | head -n 1` ends quietly by SIGPIPE.
SIG_PROBE='grep SigIgn /proc/self/status; yes | head -n 1 > /dev/null; echo pipeline done'
sig_norm() { tr -s '\t' ' ' | paste -sd' ' -; }

# ================================================================ podman scenarios
pm_run_exit() {
    local out rc
    out=$(pm run --rm --name "$NAME" "$IMG" sh -c 'echo out; echo err >&2; exit 3' 2> "$W/stderr"); rc=$?
    echo "stdout: $out"
    echo "stderr: $(grep -x err "$W/stderr")"
    echo "exit code: $rc"
    echo "after --rm: $(pm container exists "$NAME" && echo present || echo removed)"
    echo "run -i: $(echo from-stdin | pm run --rm -i "$IMG" cat)"
}
pm_errors() {
    local cmd rc
    for cmd in /nonexistent /etc/passwd nosuchcmd; do
        pm run --rm "$IMG" "$cmd" > /dev/null 2> "$W/stderr"; rc=$?
        echo "run $cmd: exit code $rc, error says: $(words "$W/stderr")"
        cat "$W/stderr" >&2
    done
}
pm_tty() {
    pm run --rm -t "$IMG" sh -c 'tty; exit 2' > "$W/out"; echo "exit code: $?"
    echo "tty: $(crlf < "$W/out")"
}
pm_lifecycle() {
    local id pid cg
    id=$(pm run -d --name "$NAME" "$IMG" sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done') || { echo "run -d failed"; return; }
    echo "status: $(pm inspect -f '{{.State.Status}}' "$NAME")"
    pid=$(pm inspect -f '{{.State.Pid}}' "$NAME")
    cg=$(cgdir "$pid" pids)
    echo "runtime state: $(rt_state "$id")"
    pm stop -t 10 "$NAME" > /dev/null; echo "stop: exit code $?"
    echo "after stop: $(pm inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$NAME")"
    pm rm "$NAME" > /dev/null; echo "rm: exit code $?"
    echo "after rm: $(pm container exists "$NAME" && echo present || echo removed)"
    echo "runtime state after rm: $(rt_state "$id")"
    echo "cgroup after rm: $(present "$cg")"
    echo "process after rm: $(alive "$pid")"
}
pm_stop_kill() {
    pm run -d --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    pm stop -t 1 "$NAME" > /dev/null; echo "stop -t 1: exit code $?"
    echo "after stop: $(pm inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$NAME")"
    pm rm "$NAME" > /dev/null
}
pm_pidhost() {
    local id
    id=$(pm run -d --pid host --name "$NAME" "$IMG" sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done') || { echo "run -d failed"; return; }
    echo "status: $(pm inspect -f '{{.State.Status}}' "$NAME")"
    pm stop -t 10 "$NAME" > /dev/null; echo "stop: exit code $?"
    echo "after stop: $(pm inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$NAME")"
    pm rm "$NAME" > /dev/null; echo "rm: exit code $?"
    echo "runtime state after rm: $(rt_state "$id")"
}
pm_exec() {
    local out rc
    pm run -d --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    out=$(pm exec "$NAME" sh -c 'echo $((1+2)); exit 5'); rc=$?
    echo "exec: $out, exit code $rc"
    echo "exec -u -w -e: $(pm exec -u nobody -w /tmp -e FOO=bar "$NAME" sh -c 'echo $(id -u) $(pwd) $FOO')"
    echo "exec -i: $(echo from-stdin | pm exec -i "$NAME" cat)"
    pm exec "$NAME" /nonexistent 2> "$W/stderr"; rc=$?
    echo "exec /nonexistent: exit code $rc, error says: $(words "$W/stderr")"
    cat "$W/stderr" >&2
    pm exec -d "$NAME" sleep 777 > /dev/null; echo "exec -d: exit code $?"
    waitfor 5 pm exec "$NAME" sh -c 'ps -o args | grep -q "^sleep 777"'
    echo "exec -d process: $(pm exec "$NAME" sh -c 'ps -o args | grep -c "^sleep 777"')"
    pm rm -f -t 0 "$NAME" > /dev/null
}
pm_exec_tty() {
    pm run -d --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    pm exec -t "$NAME" sh -c 'tty; exit 4' > "$W/out"; echo "exec -t: exit code $?"
    echo "tty: $(crlf < "$W/out")"
    pm rm -f -t 0 "$NAME" > /dev/null
}
pm_pause() {
    local id pid
    id=$(pm run -d --name "$NAME" "$IMG" sh -c 'while :; do sleep 0.1; done') || { echo "run -d failed"; return; }
    pid=$(pm inspect -f '{{.State.Pid}}' "$NAME")
    pm pause "$NAME" > /dev/null; echo "pause: exit code $?"
    echo "paused: podman says $(pm inspect -f '{{.State.Status}}' "$NAME"), freezer $(freezer_of "$pid"), runtime state $(rt_state "$id")"
    pm unpause "$NAME" > /dev/null; echo "unpause: exit code $?"
    echo "unpaused: podman says $(pm inspect -f '{{.State.Status}}' "$NAME"), freezer $(freezer_of "$pid"), runtime state $(rt_state "$id")"
    echo "exec after unpause: $(pm exec "$NAME" echo alive)"
    pm rm -f -t 0 "$NAME" > /dev/null
}
pm_kill() {
    pm run -d --name "$NAME" "$IMG" sh -c 'trap "echo usr1 >> /tmp/got" USR1; while :; do sleep 0.1; done' > /dev/null || { echo "run -d failed"; return; }
    pm kill -s USR1 "$NAME" > /dev/null; echo "kill -s USR1: exit code $?"
    waitfor 5 pm exec "$NAME" grep -q usr1 /tmp/got
    echo "USR1 handled: $(pm exec "$NAME" cat /tmp/got)"
    pm kill "$NAME" > /dev/null; echo "kill: exit code $?"
    echo "wait: $(pm wait "$NAME")"
    echo "after kill: $(pm inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$NAME")"
    pm rm "$NAME" > /dev/null
}
pm_update() {
    local pid
    pm run -d --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    pid=$(pm inspect -f '{{.State.Pid}}' "$NAME")
    pm update --memory 64m --cpu-shares 512 "$NAME" > /dev/null; echo "update: exit code $?"
    limits_of "$pid"
    pm rm -f -t 0 "$NAME" > /dev/null
}
pm_top() {
    pm run -d --name "$NAME" "$IMG" sh -c 'sleep 1000 & sleep 2000 & wait' > /dev/null || { echo "run -d failed"; return; }
    waitfor 5 pm exec "$NAME" sh -c '[ $(ps -o args | grep -c "^sleep [12]000") = 2 ]'
    pm top "$NAME" args > "$W/top"; echo "top: exit code $?"
    tail -n +2 "$W/top" | sed 's/ *$//' | sort | sed 's/^/process: /'
    pm rm -f -t 0 "$NAME" > /dev/null
}
pm_net_none() {
    pm run --rm --network none "$IMG" sh -c 'echo links: $(ls /sys/class/net); ip -o -4 addr | awk "{print \"ipv4:\", \$2, \$4}"'
    echo "exit code: $?"
}
pm_bridge() {
    local ip subnet
    pm run -d --name "$NAME" "$IMG" sh -c 'mkdir -p /www && echo "hello from the container" > /www/index.html && exec httpd -f -p 8080 -h /www' > /dev/null || { echo "run -d failed"; return; }
    ip=$(pm inspect -f '{{.NetworkSettings.IPAddress}}' "$NAME")
    subnet=$(pm network inspect podman -f '{{range .Subnets}}{{.Subnet}}{{end}}')
    echo "address: $(in_subnet "$ip" "$subnet" && echo "in the podman network $subnet" || echo "'$ip' not in $subnet")"
    echo "links in the container: $(pm exec "$NAME" ls /sys/class/net | sort | paste -sd' ' -)"
    echo "eth0: $(pm exec "$NAME" ip -o -4 addr show eth0 | grep -q " $ip/" && echo "has the address" || echo "lacks $ip")"
    waitfor 5 http_get "$ip"
    echo "http from the host: $(http_get "$ip")"
    echo "ping from the host: $(host_ping "$ip")"
    pm rm -f -t 0 "$NAME" > /dev/null
}
pm_snapshot() { pm run --rm "$IMG" sh -c "$SNAP" | snap_norm; echo "exit code: ${PIPESTATUS[0]}"; }
pm_snapshot_opts() {
    mkdir -p "$W/vol" && echo from-host > "$W/vol/file"
    pm run --rm -w /tmp -e FOO=bar --hostname snap --cap-drop NET_RAW --cap-add SYS_TIME \
        --sysctl net.ipv4.ping_group_range="0 0" --ulimit nofile=1024:2048 --ulimit "nproc=$nproc:$nproc" \
        --oom-score-adj 100 --read-only --tmpfs /scratch:size=1m -v "$W/vol:/vol:ro" -v "$W/vol:/rwvol" \
        --memory 32m --pids-limit 50 --cpu-shares 512 "$IMG" \
        sh -c "$SNAP"'; echo "read /vol: $(cat /vol/file)"; touch /vol/x 2>&1; echo written > /rwvol/out; touch /x 2>&1; touch /scratch/x && echo scratch writable' |
        snap_norm
    echo "exit code: ${PIPESTATUS[0]}"
    echo "host sees: $(cat "$W/vol/out")"
}
pm_signals() {
    pm run -d --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    echo "run: $(pm run --rm "$IMG" sh -c "$SIG_PROBE" 2>&1 | sig_norm)"
    echo "exec: $(pm exec "$NAME" sh -c "$SIG_PROBE" 2>&1 | sig_norm)"
    pm rm -f -t 0 "$NAME" > /dev/null
}
pm_log_flags() {   # what podman passes to the runtime for error reporting, from the call log
    local l0
    l0=$(wc -l < "$T/logs/$RT.log")
    pm run --rm "$IMG" true; echo "run: exit code $?"
    if tail -n +"$((l0 + 1))" "$T/logs/$RT.log" | grep -E '^   argv:.* create ' | grep -q -- '--log-format=json --log '; then
        echo "create gets --log-format=json --log FILE: yes"
    else
        echo "create gets --log-format=json --log FILE: no"
    fi
}
pm_user() {
    pm run --rm -u nobody "$IMG" sh -c 'echo "$(id -u) $(id -g) $(id -G)"'; echo "exit code: $?"
}
pm_restart() {
    local id p1 p2
    id=$(pm run -d --name "$NAME" "$IMG" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done') || { echo "run -d failed"; return; }
    p1=$(pm inspect -f '{{.State.Pid}}' "$NAME")
    pm restart -t 5 "$NAME" > /dev/null; echo "restart: exit code $?"
    p2=$(pm inspect -f '{{.State.Pid}}' "$NAME")
    echo "after restart: $(pm inspect -f '{{.State.Status}}' "$NAME"), new process: $([ "$p1" != "$p2" ] && [ "$p2" != 0 ] && echo yes || echo no), old process $(alive "$p1"), runtime state $(rt_state "$id")"
    echo "exec: $(pm exec "$NAME" echo alive)"
    pm rm -f -t 0 "$NAME" > /dev/null
}
pm_pod() {
    local pa pb pi infra
    pm pod create --name "$NAME-pod" > /dev/null || { echo "pod create failed"; return; }
    pm run -d --pod "$NAME-pod" --name "$NAME-a" "$IMG" sleep 1000 > /dev/null || echo "run a failed"
    pm run -d --pod "$NAME-pod" --name "$NAME-b" "$IMG" sleep 1000 > /dev/null || echo "run b failed"
    infra=$(pm pod inspect -f '{{.InfraContainerID}}' "$NAME-pod")
    pa=$(pm inspect -f '{{.State.Pid}}' "$NAME-a"); pb=$(pm inspect -f '{{.State.Pid}}' "$NAME-b")
    pi=$(pm inspect -f '{{.State.Pid}}' "$infra")
    echo "a and b: $(ns_shared "$pa" "$pb" net uts ipc pid mnt)"
    echo "a and the infra container: $(ns_shared "$pa" "$pi" net uts ipc pid mnt)"
    echo "hostname in b: $([ "$(pm exec "$NAME-b" hostname)" = "$NAME-pod" ] && echo the pod name || pm exec "$NAME-b" hostname)"
    pm pod rm -f -t 0 "$NAME-pod" > /dev/null; echo "pod rm: exit code $?"
    echo "after pod rm: a $(alive "$pa"), b $(alive "$pb"), infra $(alive "$pi"), infra runtime state $(rt_state "$infra")"
}
pm_userns() {
    pm run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMG" \
        sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id; touch /tmp/x && stat -c "owner %u %g" /tmp/x' |
        tr -s '\t ' ' ' | sed 's/^ //'
    echo "exit code: ${PIPESTATUS[0]}"
}
pm_preserve_fds() {
    echo from-fd-3 > "$W/fd3"
    local rc
    pm run --rm --preserve-fds 1 "$IMG" sh -c 'cat <&3; echo "fds of ls: $(ls /proc/self/fd | sort -n | tr "\n" " ")"' 3< "$W/fd3"
    rc=$?
    echo "exit code: $rc"
}
pm_seccomp() {
    pm run --rm "$IMG" grep -E '^Seccomp(_filters)?:' /proc/self/status | tr -s '\t ' ' '
}
podman_scenarios() {   # MODE: json | text
    local tag=podman[$1] yn=no
    PM_CONF=$T/pm/$1.conf
    [ "$1" = json ] && yn=yes
    scenario "$tag" "runtime_supports_json decides --log-format=json" pm_log_flags \
"run: exit code 0
create gets --log-format=json --log FILE: $yn" "$([ "$direct" = 1 ] && echo "--direct: there is no call log to read")"
    scenario "$tag" "run --rm: output and exit code" pm_run_exit \
"stdout: out
stderr: err
exit code: 3
after --rm: removed
run -i: from-stdin"
    scenario "$tag" "run: command errors map to 127/126" pm_errors \
"run /nonexistent: exit code 127, error says: no such file or directory
run /etc/passwd: exit code 126, error says: permission denied
run nosuchcmd: exit code 127, error says: executable file not found"
    scenario "$tag" "run -t (console socket)" pm_tty \
"exit code: 2
tty: /dev/pts/0"
    scenario "$tag" "run -d, stop, rm" pm_lifecycle "$EXP_LIFECYCLE"
    scenario "$tag" "stop escalates to SIGKILL" pm_stop_kill \
"stop -t 1: exit code 0
after stop: exited 137"
    scenario "$tag" "stop with --pid host (kill --all)" pm_pidhost \
"status: running
stop: exit code 0
after stop: exited 7
rm: exit code 0
runtime state after rm: absent"
    scenario "$tag" "exec" pm_exec \
"exec: 3, exit code 5
exec -u -w -e: 65534 /tmp bar
exec -i: from-stdin
exec /nonexistent: exit code 127, error says: no such file or directory
exec -d: exit code 0
exec -d process: 1"
    scenario "$tag" "exec -t (console socket)" pm_exec_tty \
"exec -t: exit code 4
tty: /dev/pts/0"
    scenario "$tag" "pause, unpause" pm_pause \
"pause: exit code 0
paused: podman says paused, freezer frozen, runtime state paused
unpause: exit code 0
unpaused: podman says running, freezer thawed, runtime state running
exec after unpause: alive" "$NO_FREEZER"
    scenario "$tag" "kill -s USR1, kill" pm_kill \
"kill -s USR1: exit code 0
USR1 handled: usr1
kill: exit code 0
wait: 137
after kill: exited 137"
    scenario "$tag" "update --memory --cpu-shares" pm_update \
"update: exit code 0
$EXP_LIMITS"
    scenario "$tag" "top" pm_top \
"top: exit code 0
process: sh -c sleep 1000 & sleep 2000 & wait
process: sleep 1000
process: sleep 2000"
    scenario "$tag" "--network none" pm_net_none \
"links: lo
ipv4: lo 127.0.0.1/8
exit code: 0"
    scenario "$tag" "default bridge network (netavark)" pm_bridge \
"address: in the podman network 10.88.0.0/16
links in the container: eth0 lo
eth0: has the address
http from the host: hello from the container
ping from the host: ok"
    scenario "$tag" "run -u nobody" pm_user \
"65534 65534 65534
exit code: 0"
    scenario "$tag" "restart" pm_restart \
"restart: exit code 0
after restart: running, new process: yes, old process gone, runtime state running
exec: alive"
    scenario "$tag" "pod: containers join the infra container's namespaces" pm_pod \
"a and b: net shared, uts shared, ipc shared, pid separate, mnt separate
a and the infra container: net shared, uts shared, ipc shared, pid separate, mnt separate
hostname in b: the pod name
pod rm: exit code 0
after pod rm: a gone, b gone, infra gone, infra runtime state absent"
    scenario "$tag" "user namespace (--uidmap, --gidmap)" pm_userns \
"0 100000 65536
0 100000 65536
uid=0(root) gid=0(root)
owner 0 0
exit code: 0"
    scenario "$tag" "--preserve-fds" pm_preserve_fds \
"from-fd-3
fds of ls: 0 1 2 3 4 
exit code: 0"
    scenario "$tag" "signal dispositions of run and exec processes" pm_signals "$EXP_SIGNALS"
    scenario "$tag" "what the container sees of its config (defaults)" pm_snapshot "*exit code: 0"
    scenario "$tag" "what the container sees of its config ($SNAP_OPTS_NOTE)" pm_snapshot_opts "*exit code: 0"
    scenario "$tag" "the engine's seccomp profile is applied" pm_seccomp "$EXP_SECCOMP" "$NO_SECCOMP"
}

# ================================================================ containerd scenarios
CT_ROOT=/run/containerd/runc/default   # the shim's --root for namespace "default"
ct_task_status() { ct task ls | awk -v id="$1" '$1 == id {print $3}'; }
ct_task_pid() { ct task ls | awk -v id="$1" '$1 == id {print $2}'; }
ct_status_is() { [ "$(ct_task_status "$1")" = "$2" ]; }           # ID STATUS
ct_nprocs_is() { [ "$(ct task ps "$1" | tail -n +2 | wc -l)" = "$2" ]; }   # ID N
ct_run_exit() {
    local out rc
    out=$(ct run --rm --runc-binary "$RTBIN" "$IMG" "$NAME" sh -c 'echo out; echo err >&2; exit 3' 2> "$W/stderr"); rc=$?
    echo "stdout: $out"
    echo "stderr: $(grep -x err "$W/stderr")"
    echo "exit code: $rc"
    echo "after --rm: $(ct containers info "$NAME" > /dev/null 2>&1 && echo present || echo removed)"
}
ct_errors() {
    local cmd rc i=0
    for cmd in /nonexistent /etc/passwd nosuchcmd; do
        i=$((i + 1))
        ct run --rm --runc-binary "$RTBIN" "$IMG" "$NAME-$i" "$cmd" > /dev/null 2> "$W/stderr"; rc=$?
        echo "run $cmd: exit code $rc, error says: $(words "$W/stderr"), runtime state after: $(rt_state "$NAME-$i" "$CT_ROOT")"
        cat "$W/stderr" >&2
        ct containers rm "$NAME-$i" > /dev/null 2>&1
    done
}
ct_tty() {
    ct_script run --rm -t --runc-binary "$RTBIN" "$IMG" "$NAME" sh -c 'tty; exit 6' > "$W/out"; echo "exit code: $?"
    echo "tty: $(grep -ao '/dev/pts/[0-9]*' "$W/out" | head -n 1)"
}
ct_lifecycle() {
    local pid cg
    ct run -d --runc-binary "$RTBIN" "$IMG" "$NAME" sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done' > /dev/null || { echo "run -d failed"; return; }
    echo "status: $(ct_task_status "$NAME")"
    pid=$(ct_task_pid "$NAME")
    cg=$(cgdir "$pid" pids)
    echo "runtime state: $(rt_state "$NAME" "$CT_ROOT")"
    ct task kill "$NAME"; echo "task kill: exit code $?"
    waitfor 10 ct_status_is "$NAME" STOPPED
    echo "after kill: $(ct_task_status "$NAME")"
    ct task delete "$NAME" > "$W/del" 2>&1; echo "task delete: exit code $?"
    echo "exit status reported: $(grep -o 'exit code [0-9]*' "$W/del")"
    echo "runtime state after delete: $(rt_state "$NAME" "$CT_ROOT")"
    echo "cgroup after delete: $(present "$cg")"
    echo "process after delete: $(alive "$pid")"
    ct containers rm "$NAME"; echo "containers rm: exit code $?"
}
ct_kill_all() {
    local pids p
    ct run -d --runc-binary "$RTBIN" "$IMG" "$NAME" sh -c 'sleep 1000 & sleep 1000 & wait' > /dev/null || { echo "run -d failed"; return; }
    waitfor 5 ct_nprocs_is "$NAME" 3
    pids=$(ct task ps "$NAME" | awk 'NR > 1 {print $1}')
    ct task kill -a -s KILL "$NAME"; echo "task kill -a -s KILL: exit code $?"
    waitfor 10 ct_status_is "$NAME" STOPPED
    echo "after kill -a: $(ct_task_status "$NAME")"
    for p in $pids; do kill -0 "$p" 2>/dev/null && echo "process $p survived"; done
    ct task delete "$NAME" > /dev/null 2>&1; echo "task delete: exit code $?"
    ct containers rm "$NAME" > /dev/null
    # task delete -f on a running task
    ct run -d --runc-binary "$RTBIN" "$IMG" "$NAME-f" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    p=$(ct_task_pid "$NAME-f")
    ct task delete -f "$NAME-f" > /dev/null 2>&1; echo "task delete -f (running): exit code $?"
    echo "after delete -f: task $(ct_task_status "$NAME-f" | grep -q . && echo listed || echo gone), process $(alive "${p:-0}"), runtime state $(rt_state "$NAME-f" "$CT_ROOT")"
    ct containers rm "$NAME-f" > /dev/null
}
ct_exec() {
    local out rc
    ct run -d --runc-binary "$RTBIN" "$IMG" "$NAME" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    out=$(ct task exec --exec-id e1 "$NAME" sh -c 'echo $((2+3)); exit 4'); rc=$?
    echo "exec: $out, exit code $rc"
    echo "exec --user --cwd: $(ct task exec --exec-id e2 --user 65534 --cwd /tmp "$NAME" sh -c 'echo $(id -u) $(pwd)')"
    echo "exec stdin: $(echo from-stdin | ct task exec --exec-id e3 "$NAME" cat)"
    ct task exec --exec-id e4 "$NAME" /nonexistent > /dev/null 2> "$W/stderr"; rc=$?
    echo "exec /nonexistent: exit code $rc, error says: $(words "$W/stderr")"
    cat "$W/stderr" >&2
    ct_script task exec -t --exec-id e5 "$NAME" sh -c 'tty; exit 9' > "$W/out"; rc=$?
    echo "exec -t: exit code $rc, tty $(grep -ao '/dev/pts/[0-9]*' "$W/out" | head -n 1)"
    ct task kill -s KILL "$NAME" > /dev/null
    waitfor 10 ct_status_is "$NAME" STOPPED
    ct task delete "$NAME" > /dev/null 2>&1
    ct containers rm "$NAME" > /dev/null
}
ct_pause() {
    local pid
    ct run -d --runc-binary "$RTBIN" "$IMG" "$NAME" sh -c 'while :; do sleep 0.1; done' > /dev/null || { echo "run -d failed"; return; }
    pid=$(ct_task_pid "$NAME")
    ct task pause "$NAME"; echo "task pause: exit code $?"
    echo "paused: ctr says $(ct_task_status "$NAME"), freezer $(freezer_of "$pid"), runtime state $(rt_state "$NAME" "$CT_ROOT")"
    ct task resume "$NAME"; echo "task resume: exit code $?"
    echo "resumed: ctr says $(ct_task_status "$NAME"), freezer $(freezer_of "$pid"), runtime state $(rt_state "$NAME" "$CT_ROOT")"
    ct task delete -f "$NAME" > /dev/null 2>&1
    ct containers rm "$NAME" > /dev/null
}
ct_ps() {
    local pids p init cg n=0 same=0
    ct run -d --runc-binary "$RTBIN" "$IMG" "$NAME" sh -c 'sleep 1000 & sleep 2000 & wait' > /dev/null || { echo "run -d failed"; return; }
    waitfor 5 ct_nprocs_is "$NAME" 3
    ct task ps "$NAME" > "$W/ps"; echo "task ps: exit code $?"
    init=$(ct_task_pid "$NAME")
    cg=$(cgdir "$init" pids)
    for p in $(awk 'NR > 1 {print $1}' "$W/ps"); do
        n=$((n + 1))
        [ "$(cgdir "$p" pids 2>/dev/null)" = "$cg" ] && same=$((same + 1))
    done
    echo "pids: $n, in the container's cgroup: $same"
    echo "commands: $(for p in $(awk 'NR > 1 {print $1}' "$W/ps"); do tr '\0' ' ' < "/proc/$p/cmdline"; echo; done | sed 's/ $//' | sort | paste -sd'|' -)"
    ct task delete -f "$NAME" > /dev/null 2>&1
    ct containers rm "$NAME" > /dev/null
}
ct_signals() {
    ct run -d --runc-binary "$RTBIN" "$IMG" "$NAME" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    echo "run: $(ct run --rm --runc-binary "$RTBIN" "$IMG" "$NAME-r" sh -c "$SIG_PROBE" 2>&1 | sig_norm)"
    echo "exec: $(ct task exec --exec-id s1 "$NAME" sh -c "$SIG_PROBE" 2>&1 | sig_norm)"
    ct task delete -f "$NAME" > /dev/null 2>&1
    ct containers rm "$NAME" > /dev/null
}
ct_snapshot() { ct run --rm --runc-binary "$RTBIN" "$IMG" "$NAME" sh -c "$SNAP" | snap_norm; echo "exit code: ${PIPESTATUS[0]}"; }
containerd_scenarios() {
    scenario containerd "ctr run --rm: output and exit code" ct_run_exit \
"stdout: out
stderr: err
exit code: 3
after --rm: removed"
    scenario containerd "ctr run: command errors" ct_errors \
"run /nonexistent: exit code 1, error says: no such file or directory, runtime state after: absent
run /etc/passwd: exit code 1, error says: permission denied, runtime state after: absent
run nosuchcmd: exit code 1, error says: executable file not found, runtime state after: absent"
    scenario containerd "ctr run -t (console socket)" ct_tty \
"exit code: 6
tty: /dev/pts/0"
    scenario containerd "ctr run -d, task kill, task delete" ct_lifecycle \
"status: RUNNING
runtime state: running
task kill: exit code 0
after kill: STOPPED
task delete: exit code 0
exit status reported: exit code 7
runtime state after delete: absent
cgroup after delete: removed
process after delete: gone
containers rm: exit code 0"
    scenario containerd "task kill -a, task delete -f" ct_kill_all \
"task kill -a -s KILL: exit code 0
after kill -a: STOPPED
task delete: exit code 0
task delete -f (running): exit code 0
after delete -f: task gone, process gone, runtime state absent"
    scenario containerd "task exec" ct_exec \
"exec: 5, exit code 4
exec --user --cwd: 65534 /tmp
exec stdin: from-stdin
exec /nonexistent: exit code 1, error says: no such file or directory
exec -t: exit code 9, tty /dev/pts/0"
    scenario containerd "task pause, task resume" ct_pause \
"task pause: exit code 0
paused: ctr says PAUSED, freezer frozen, runtime state paused
task resume: exit code 0
resumed: ctr says RUNNING, freezer thawed, runtime state running" "$NO_FREEZER"
    scenario containerd "signal dispositions of run and exec processes" ct_signals "$EXP_SIGNALS"
    scenario containerd "what the container sees of its config (defaults)" ct_snapshot "*exit code: 0"
    scenario containerd "task ps" ct_ps \
"task ps: exit code 0
pids: 3, in the container's cgroup: 3
commands: sh -c sleep 1000 & sleep 2000 & wait|sleep 1000|sleep 2000"
}

# ================================================================ Docker scenarios
DK_ROOT=$T/dk/exec/runtime-runc/moby   # the shim's --root for Docker's containers
dk_gone() { ! dk container inspect "$1" > /dev/null 2>&1; }
dk_run_exit() {
    local out rc
    out=$(dk run --rm --runtime "$DRT" --name "$NAME" "$IMG" sh -c 'echo out; echo err >&2; exit 3' 2> "$W/stderr"); rc=$?
    echo "stdout: $out"
    echo "stderr: $(grep -x err "$W/stderr")"
    echo "exit code: $rc"
    waitfor 5 dk_gone "$NAME"
    echo "after --rm: $(dk container inspect "$NAME" > /dev/null 2>&1 && echo present || echo removed)"
    echo "run -i: $(echo from-stdin | dk run --rm -i --runtime "$DRT" "$IMG" cat)"
}
dk_errors() {
    local cmd rc
    for cmd in /nonexistent /etc/passwd nosuchcmd; do
        dk run --rm --runtime "$DRT" "$IMG" "$cmd" > /dev/null 2> "$W/stderr"; rc=$?
        echo "run $cmd: exit code $rc, error says: $(words "$W/stderr")"
        cat "$W/stderr" >&2
    done
}
dk_tty() {
    dk run --rm -t --runtime "$DRT" "$IMG" sh -c 'tty; exit 4' > "$W/out"; echo "exit code: $?"
    echo "tty: $(crlf < "$W/out")"
}
dk_lifecycle() {
    local id pid cg
    id=$(dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done') || { echo "run -d failed"; return; }
    echo "status: $(dk inspect -f '{{.State.Status}}' "$NAME")"
    pid=$(dk inspect -f '{{.State.Pid}}' "$NAME")
    cg=$(cgdir "$pid" pids)
    echo "runtime state: $(rt_state "$id" "$DK_ROOT")"
    dk stop -t 10 "$NAME" > /dev/null; echo "stop: exit code $?"
    echo "after stop: $(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$NAME")"
    dk rm "$NAME" > /dev/null; echo "rm: exit code $?"
    echo "after rm: $(dk container inspect "$NAME" > /dev/null 2>&1 && echo present || echo removed)"
    echo "runtime state after rm: $(rt_state "$id" "$DK_ROOT")"
    echo "cgroup after rm: $(present "$cg")"
    echo "process after rm: $(alive "$pid")"
}
dk_stop_kill() {
    dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    dk stop -t 1 "$NAME" > /dev/null; echo "stop -t 1: exit code $?"
    echo "after stop: $(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$NAME")"
    dk rm "$NAME" > /dev/null
}
dk_exec() {
    local out rc
    dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    out=$(dk exec "$NAME" sh -c 'echo $((1+2)); exit 5'); rc=$?
    echo "exec: $out, exit code $rc"
    echo "exec -u -w -e: $(dk exec -u nobody -w /tmp -e FOO=bar "$NAME" sh -c 'echo $(id -u) $(pwd) $FOO')"
    echo "exec -i: $(echo from-stdin | dk exec -i "$NAME" cat)"
    dk exec "$NAME" /nonexistent > "$W/stderr" 2>&1; rc=$?   # docker prints this error on stdout
    echo "exec /nonexistent: exit code $rc, error says: $(words "$W/stderr")"
    cat "$W/stderr" >&2
    dk exec -t "$NAME" sh -c 'tty; exit 4' > "$W/out"; rc=$?
    echo "exec -t: exit code $rc, tty $(crlf < "$W/out")"
    dk exec -d "$NAME" sleep 777; echo "exec -d: exit code $?"
    waitfor 5 dk exec "$NAME" sh -c 'ps -o args | grep -q "^sleep 777"'
    echo "exec -d process: $(dk exec "$NAME" sh -c 'ps -o args | grep -c "^sleep 777"')"
    dk rm -f "$NAME" > /dev/null
}
dk_pause() {
    local id pid
    id=$(dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sh -c 'while :; do sleep 0.1; done') || { echo "run -d failed"; return; }
    pid=$(dk inspect -f '{{.State.Pid}}' "$NAME")
    dk pause "$NAME" > /dev/null; echo "pause: exit code $?"
    echo "paused: docker says $(dk inspect -f '{{.State.Status}}' "$NAME"), freezer $(freezer_of "$pid"), runtime state $(rt_state "$id" "$DK_ROOT")"
    dk unpause "$NAME" > /dev/null; echo "unpause: exit code $?"
    echo "unpaused: docker says $(dk inspect -f '{{.State.Status}}' "$NAME"), freezer $(freezer_of "$pid"), runtime state $(rt_state "$id" "$DK_ROOT")"
    dk rm -f "$NAME" > /dev/null
}
dk_bridge() {
    local ip
    dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sh -c 'mkdir -p /www && echo "hello from the container" > /www/index.html && exec httpd -f -p 8080 -h /www' > /dev/null || { echo "run -d failed"; return; }
    ip=$(dk inspect -f '{{.NetworkSettings.IPAddress}}' "$NAME")
    echo "address: $(in_subnet "$ip" "$DK_SUBNET" && echo "in the docker0 network $DK_SUBNET" || echo "'$ip' not in $DK_SUBNET")"
    echo "links in the container: $(dk exec "$NAME" ls /sys/class/net | sort | paste -sd' ' -)"
    echo "eth0: $(dk exec "$NAME" ip -o -4 addr show eth0 | grep -q " $ip/" && echo "has the address" || echo "lacks $ip")"
    waitfor 5 http_get "$ip"
    echo "http from the host: $(http_get "$ip")"
    echo "ping from the host: $(host_ping "$ip")"
    dk rm -f "$NAME" > /dev/null
}
dk_net_host() {
    dk run --rm --runtime "$DRT" --network host "$IMG" ls /sys/class/net > "$W/links"; echo "exit code: $?"
    echo "links: $(if diff -q <(sort "$W/links") <(ls /sys/class/net | sort) > /dev/null; then echo "the host's"; else sort "$W/links" | paste -sd' ' -; fi)"
}
dk_update() {
    local pid
    dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    pid=$(dk inspect -f '{{.State.Pid}}' "$NAME")
    dk update --memory 64m --memory-swap 128m --cpu-shares 512 "$NAME" > /dev/null; echo "update: exit code $?"
    limits_of "$pid"
    dk rm -f "$NAME" > /dev/null
}
dk_top() {
    dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sh -c 'sleep 1000 & sleep 2000 & wait' > /dev/null || { echo "run -d failed"; return; }
    waitfor 5 dk exec "$NAME" sh -c '[ $(ps -o args | grep -c "^sleep [12]000") = 2 ]'
    dk top "$NAME" -o pid,args > "$W/top"; echo "top: exit code $?"
    tail -n +2 "$W/top" | sed -E 's/^ *[0-9]+ +//; s/ *$//' | sort | sed 's/^/process: /'
    dk rm -f "$NAME" > /dev/null
}
dk_signals() {
    dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sleep 1000 > /dev/null || { echo "run -d failed"; return; }
    echo "run: $(dk run --rm --runtime "$DRT" "$IMG" sh -c "$SIG_PROBE" 2>&1 | sig_norm)"
    echo "exec: $(dk exec "$NAME" sh -c "$SIG_PROBE" 2>&1 | sig_norm)"
    dk rm -f "$NAME" > /dev/null
}
dk_snapshot() { dk run --rm --runtime "$DRT" "$IMG" sh -c "$SNAP" | snap_norm; echo "exit code: ${PIPESTATUS[0]}"; }
dk_snapshot_opts() {
    mkdir -p "$W/vol" && echo from-host > "$W/vol/file"
    dk run --rm --runtime "$DRT" -w /tmp -e FOO=bar --hostname snap --cap-drop NET_RAW --cap-add SYS_TIME \
        --sysctl net.ipv4.ping_group_range="0 0" --ulimit nofile=1024:2048 --oom-score-adj 100 \
        --read-only --tmpfs /scratch:size=1m -v "$W/vol:/vol:ro" -v "$W/vol:/rwvol" \
        --memory 32m --pids-limit 50 --cpu-shares 512 "$IMG" \
        sh -c "$SNAP"'; echo "read /vol: $(cat /vol/file)"; touch /vol/x 2>&1; echo written > /rwvol/out; touch /x 2>&1; touch /scratch/x && echo scratch writable' |
        snap_norm
    echo "exit code: ${PIPESTATUS[0]}"
    echo "host sees: $(cat "$W/vol/out")"
}
dk_user() {
    dk run --rm --runtime "$DRT" -u nobody --group-add 5 "$IMG" sh -c 'echo "$(id -u) $(id -g) $(id -G)"'; echo "exit code: $?"
}
dk_restart() {
    local id p1 p2
    id=$(dk run -d --runtime "$DRT" --name "$NAME" "$IMG" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done') || { echo "run -d failed"; return; }
    p1=$(dk inspect -f '{{.State.Pid}}' "$NAME")
    dk restart -t 5 "$NAME" > /dev/null; echo "restart: exit code $?"
    p2=$(dk inspect -f '{{.State.Pid}}' "$NAME")
    echo "after restart: $(dk inspect -f '{{.State.Status}}' "$NAME"), new process: $([ "$p1" != "$p2" ] && [ "$p2" != 0 ] && echo yes || echo no), old process $(alive "$p1"), runtime state $(rt_state "$id" "$DK_ROOT")"
    echo "exec: $(dk exec "$NAME" echo alive)"
    dk rm -f "$NAME" > /dev/null
}
dk_join() {
    local pa pb
    dk run -d --runtime "$DRT" --ipc shareable --name "$NAME-a" "$IMG" sleep 1000 > /dev/null || { echo "run a failed"; return; }
    dk run -d --runtime "$DRT" --network "container:$NAME-a" --pid "container:$NAME-a" --ipc "container:$NAME-a" \
        --name "$NAME-b" "$IMG" sleep 1000 > /dev/null || echo "run b failed"
    pa=$(dk inspect -f '{{.State.Pid}}' "$NAME-a"); pb=$(dk inspect -f '{{.State.Pid}}' "$NAME-b")
    echo "a and b: $(ns_shared "$pa" "$pb" net pid ipc uts mnt)"
    echo "processes b sees: $(dk exec "$NAME-b" ps -o args | grep -c '^sleep 1000')"
    dk rm -f "$NAME-b" "$NAME-a" > /dev/null; echo "rm: exit code $?"
    echo "after rm: a $(alive "$pa"), b $(alive "$pb")"
}
dk_seccomp() {
    dk run --rm --runtime "$DRT" "$IMG" grep -E '^Seccomp(_filters)?:' /proc/self/status | tr -s '\t ' ' '
}
docker_scenarios() {
    scenario docker "run --rm: output and exit code" dk_run_exit \
"stdout: out
stderr: err
exit code: 3
after --rm: removed
run -i: from-stdin"
    scenario docker "run: command errors map to 127/126" dk_errors \
"run /nonexistent: exit code 127, error says: no such file or directory
run /etc/passwd: exit code 126, error says: permission denied
run nosuchcmd: exit code 127, error says: executable file not found"
    scenario docker "run -t (console socket)" dk_tty \
"exit code: 4
tty: /dev/pts/0"
    scenario docker "run -d, stop, rm" dk_lifecycle "$EXP_LIFECYCLE"
    scenario docker "stop escalates to SIGKILL" dk_stop_kill \
"stop -t 1: exit code 0
after stop: exited 137"
    scenario docker "exec" dk_exec \
"exec: 3, exit code 5
exec -u -w -e: 65534 /tmp bar
exec -i: from-stdin
exec /nonexistent: exit code 126, error says: no such file or directory
exec -t: exit code 4, tty /dev/pts/0
exec -d: exit code 0
exec -d process: 1"
    scenario docker "pause, unpause" dk_pause \
"pause: exit code 0
paused: docker says paused, freezer frozen, runtime state paused
unpause: exit code 0
unpaused: docker says running, freezer thawed, runtime state running" "$NO_FREEZER"
    scenario docker "default bridge network (prestart hook libnetwork-setkey)" dk_bridge \
"address: in the docker0 network $DK_SUBNET
links in the container: eth0 lo
eth0: has the address
http from the host: hello from the container
ping from the host: ok"
    scenario docker "--network host" dk_net_host \
"exit code: 0
links: the host's"
    scenario docker "update --memory --memory-swap --cpu-shares" dk_update \
"update: exit code 0
$EXP_LIMITS"
    scenario docker "top" dk_top \
"top: exit code 0
process: sh -c sleep 1000 & sleep 2000 & wait
process: sleep 1000
process: sleep 2000"
    scenario docker "run -u nobody --group-add" dk_user \
"65534 65534 65534 5
exit code: 0"
    scenario docker "restart" dk_restart \
"restart: exit code 0
after restart: running, new process: yes, old process gone, runtime state running
exec: alive"
    scenario docker "--network/--pid/--ipc container:NAME (join by path)" dk_join \
"a and b: net shared, pid shared, ipc shared, uts separate, mnt separate
processes b sees: 2
rm: exit code 0
after rm: a gone, b gone"
    scenario docker "signal dispositions of run and exec processes" dk_signals "$EXP_SIGNALS"
    scenario docker "what the container sees of its config (defaults)" dk_snapshot "*exit code: 0"
    scenario docker "what the container sees of its config ($SNAP_OPTS_NOTE)" dk_snapshot_opts "*exit code: 0"
    scenario docker "the engine's seccomp profile is applied" dk_seccomp "$EXP_SECCOMP" "$NO_SECCOMP"
}

# ================================================================ setup
engine_on() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
note "berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -n 1))"
note "runc: $RUNC ($("$RUNC" --version | head -n 1)); $(podman --version); containerd $(containerd --version | awk '{print $3}'); $("$DOCKER_CLI" --version)"
note "work dir: $T; runtimes called $([ "$direct" = 1 ] && echo directly || echo "through logging wrappers in $T/bin")"

t=$(us)
# the image: busybox-static and its applets, root and nobody, /tmp 1777
rootfs=$T/img/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
cp /bin/busybox "$rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
chmod 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$rootfs/etc/group"
tar --numeric-owner -cf "$T/img/busybox.tar" -C "$rootfs" .

# podman: two containers.conf, with and without berth (and runc) in runtime_supports_json
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
for mode in json text; do
    if [ $mode = json ]; then sj='["runc", "berth"]'; else sj='[]'; fi
    cat > "$T/pm/$mode.conf" <<EOF
[containers]
# CAP_SYS_RESOURCE may be missing: podman's default RLIMIT_NOFILE (1048576) would fail
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime_supports_json = $sj
events_logger = "file"
cgroup_manager = "cgroupfs"
[network]
network_backend = "netavark"
network_config_dir = "$T/pm/networks"
EOF
done
mkdir -p "$T/pm/networks"
if ! CONTAINERS_CONF=$T/pm/json.conf "${PODMAN[@]}" import --change 'CMD ["/bin/sh"]' \
        --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' "$T/img/busybox.tar" "$IMG" > "$T/logs/podman-import.log" 2>&1; then
    echo "Bail out! podman import failed: $(tail -n 3 "$T/logs/podman-import.log")"; exit 1
fi
CONTAINERS_CONF=$T/pm/json.conf "${PODMAN[@]}" save -q --format oci-archive -o "$T/img/busybox-oci.tar" "$IMG" || { echo "Bail out! podman save (oci) failed"; exit 1; }
CONTAINERS_CONF=$T/pm/json.conf "${PODMAN[@]}" save -q --format docker-archive -o "$T/img/busybox-docker.tar" "$IMG" || { echo "Bail out! podman save (docker) failed"; exit 1; }
note "setup: image built and imported into podman in $(secs "$t" "$(us)")s"

start_containerd() {
    cat > "$T/ctd/config.toml" <<EOF
version = 2
root = "$T/ctd/root"
state = "$T/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$T/ctd/containerd.sock"
[ttrpc]
  address = "$T/ctd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/ctd/opt"
EOF
    containerd --config "$T/ctd/config.toml" > "$T/logs/containerd.log" 2>&1 < /dev/null &
    CTD_PID=$!
    waitfor 30 ctr --address "$T/ctd/containerd.sock" version ||
        { echo "Bail out! containerd did not start: $(tail -n 5 "$T/logs/containerd.log")"; exit 1; }
}
start_dockerd() {
    cat > "$T/dk/daemon.json" <<EOF
{
  "data-root": "$T/dk/data",
  "exec-root": "$T/dk/exec",
  "pidfile": "$T/dk/docker.pid",
  "hosts": ["unix://$T/dk/docker.sock"],
  "containerd": "$T/ctd/containerd.sock",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "ip-forward": false,
  "runtimes": {
    "berth": {"path": "${RTBINS[berth]}"},
    "runc-ref": {"path": "${RTBINS[runc]}"}
  }
}
EOF
    dockerd --config-file "$T/dk/daemon.json" > "$T/logs/dockerd.log" 2>&1 < /dev/null &
    DKD_PID=$!
    waitfor 60 "$DOCKER_CLI" -H "unix://$T/dk/docker.sock" version ||
        { echo "Bail out! dockerd did not start: $(tail -n 5 "$T/logs/dockerd.log")"; exit 1; }
}

# ================================================================ run
declare -A PHASE=()
if engine_on podman; then
    t=$(us)
    podman_scenarios json
    podman_scenarios text
    PHASE[podman]=$(secs "$t" "$(us)")
fi
if engine_on containerd || engine_on docker; then
    t=$(us)
    start_containerd
    ct images import --base-name localhost/busybox "$T/img/busybox-oci.tar" > "$T/logs/ctr-import.log" 2>&1 ||
        { echo "Bail out! ctr images import failed: $(tail -n 3 "$T/logs/ctr-import.log")"; exit 1; }
    note "setup: containerd started, image imported in $(secs "$t" "$(us)")s"
fi
if engine_on containerd; then
    t=$(us)
    containerd_scenarios
    PHASE[containerd]=$(secs "$t" "$(us)")
fi
if engine_on docker; then
    t=$(us)
    start_dockerd
    dk load -i "$T/img/busybox-docker.tar" > "$T/logs/docker-load.log" 2>&1 ||
        { echo "Bail out! docker load failed: $(tail -n 3 "$T/logs/docker-load.log")"; exit 1; }
    DK_SUBNET=$(dk network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}')
    note "setup: dockerd started (bridge $DK_SUBNET), image loaded in $(secs "$t" "$(us)")s"
    t=$(us)
    docker_scenarios
    PHASE[docker]=$(secs "$t" "$(us)")
fi

t=$(us)
teardown
left=$(host_leftovers)
NUM=$((NUM + 1))
if [ -z "$left" ]; then
    echo "ok $NUM - host: nothing left behind (containers, processes, mounts, links, iptables, cgroups, files)"
    PASSED=$((PASSED + 1))
else
    echo "not ok $NUM - host: nothing left behind (containers, processes, mounts, links, iptables, cgroups, files)"
    printf '%s\n' "$left" | indent
    FAILED=$((FAILED + 1)); FAILS+=("$NUM host clean")
fi
note "teardown: $(secs "$t" "$(us)")s"
for e in podman containerd docker; do [ -n "${PHASE[$e]-}" ] && note "time: $e scenarios ${PHASE[$e]}s"; done
note "time: total $(secs "$T0" "$(us)")s"
[ "$SKIPPED" = 0 ] || note "skipped: $SKIPPED"
[ "$FAILED" = 0 ] || note "failed: $(printf '%s; ' "${FAILS[@]}")"
echo "1..$NUM"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
