#!/usr/bin/env bash
# Run one command as root in a throwaway qemu guest with a pure cgroup v2 hierarchy
# (the host is cgroup v1 hybrid). Prints the command's output and exits with its exit
# status. Usage and exit codes: scripts/vm/README.md, or --help.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

usage() {
    cat <<'EOF'
usage: scripts/vm/run-in-vm.sh [options] -- CMD [ARG...]

Boots Debian's cloud kernel in qemu (TCG) with an initramfs, mounts cgroup2 (only) at
/sys/fs/cgroup with every controller enabled in the root's subtree_control, runs CMD
as root with / on tmpfs, prints its output (stdout and stderr, merged) and exits with
its exit status.

  --bin HOST[:GUEST]  put file HOST at GUEST (default: the same path) with the shared
                      libraries ldd lists for it and the dynamic loader (repeatable)
  --strip-debug       strip debug info from the --bin files in the guest (a debug
                      berth shrinks from 67 to 20 MB: a faster boot)
  --dir HOST:GUEST    copy directory HOST's contents to GUEST (repeatable)
  --env NAME=VALUE    set in CMD's environment (repeatable); PATH and HOME=/root are
                      set already
  --cwd DIR           CMD's working directory in the guest (default /)
  --cgroup PATH       run CMD in this cgroup (e.g. /test.slice) instead of the root
  --module NAME       insmod this kernel module (and the ones it depends on) before
                      CMD runs, e.g. loop (repeatable)
  --timeout SECS      kill the VM after SECS seconds, exit 124 (default 600)
  --mem MB            guest memory (default 2048)
  --smp N             guest CPUs (default 2)
  --kernel FILE       boot this bzImage instead of the cached Debian cloud kernel
                      (--module then looks in a modules/ dir beside FILE)
  --console FILE      save the whole serial console log to FILE
  --verbose           show the whole serial console (kernel log, markers) on stdout
  --help

Exit status: CMD's; 124 on timeout; 125 when the lane itself failed (VM did not
boot, guest setup failed, markers missing); 2 on a usage error.
Environment: BERTH_VM_CACHE (default <repo>/target/vm) holds the kernel.
EOF
}

die() {
    echo "run-in-vm: $*" >&2
    exit 125
}

usage_error() {
    echo "run-in-vm: $*" >&2
    echo "try: scripts/vm/run-in-vm.sh --help" >&2
    exit 2
}

# ---------------------------------------------------------------------------
# Options

bins=()
dirs=()
modules=()
envs=()
cwd=/
run_cgroup=
timeout_secs=600
mem=2048
smp=2
kernel=
console_out=
verbose=0
strip_debug=0
cache=${BERTH_VM_CACHE:-$repo/target/vm}

need_arg() { [ "$#" -ge 2 ] || usage_error "$1 needs an argument"; }

while [ "$#" -gt 0 ]; do
    case "$1" in
    --bin) need_arg "$@"; bins+=("$2"); shift 2 ;;
    --dir) need_arg "$@"; dirs+=("$2"); shift 2 ;;
    --env) need_arg "$@"; envs+=("$2"); shift 2 ;;
    --cwd) need_arg "$@"; cwd=$2; shift 2 ;;
    --cgroup) need_arg "$@"; run_cgroup=$2; shift 2 ;;
    --module) need_arg "$@"; modules+=("$2"); shift 2 ;;
    --timeout) need_arg "$@"; timeout_secs=$2; shift 2 ;;
    --mem) need_arg "$@"; mem=$2; shift 2 ;;
    --smp) need_arg "$@"; smp=$2; shift 2 ;;
    --kernel) need_arg "$@"; kernel=$2; shift 2 ;;
    --console) need_arg "$@"; console_out=$2; shift 2 ;;
    --verbose) verbose=1; shift ;;
    --strip-debug) strip_debug=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) usage_error "unknown option $1 (the command goes after --)" ;;
    esac
done
[ "$#" -gt 0 ] || usage_error "no command given after --"
for n in "$timeout_secs" "$mem" "$smp"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage_error "not a positive number: $n"
done
for e in "${envs[@]}"; do
    [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || usage_error "--env wants NAME=VALUE, got $e"
done
case "$cwd" in /*) ;; *) usage_error "--cwd wants an absolute path" ;; esac
case "$run_cgroup" in "" | /*) ;; *) usage_error "--cgroup wants an absolute path" ;; esac

# ---------------------------------------------------------------------------
# Host packages and the kernel

apt_updated=0
apt_update() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq >&2 || die "apt-get update failed"
        apt_updated=1
    fi
}

install_missing() {
    local missing=() p
    for p in qemu-system-x86 cpio busybox-static; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return
    [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}; install them or run as root"
    echo "run-in-vm: installing ${missing[*]}" >&2
    apt_update
    local out
    out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" 2>&1) || { echo "$out" >&2; die "apt-get install ${missing[*]} failed"; }
}

# The versioned package linux-image-cloud-amd64 depends on, e.g.
# linux-image-6.1.0-56-cloud-amd64.
cloud_kernel_package() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

# The cache holds, per package: vmlinuz, config and modules/ (its lib/modules/VERSION).
fetch_kernel() {
    local pkg dir tmp
    pkg=$(cloud_kernel_package)
    if [ -z "$pkg" ]; then
        apt_update
        pkg=$(cloud_kernel_package)
    fi
    if [ -z "$pkg" ]; then
        # No package lists (offline): any kernel fetched before will do.
        kernel=$(find "$cache/kernel" -mindepth 2 -maxdepth 2 -name vmlinuz 2>/dev/null |
            sort -V | tail -n1)
        [ -n "$kernel" ] || die "cannot resolve linux-image-cloud-amd64 and no cached kernel"
        return
    fi
    dir=$cache/kernel/$pkg
    kernel=$dir/vmlinuz
    [ -f "$kernel" ] && [ -f "$dir/modules/modules.order" ] && return
    echo "run-in-vm: fetching $pkg" >&2
    tmp=$(mktemp -d "$cache/kernel/fetch.XXXXXX")
    # apt downloads as _apt when it can write the directory (no "unsandboxed" warning).
    if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
    if ! (cd "$tmp" && apt-get download -qq "$pkg" >&2); then
        apt_update # stale lists name a version the mirror dropped
        (cd "$tmp" && apt-get download -qq "$pkg" >&2) || {
            rm -rf "$tmp"
            die "apt-get download $pkg failed"
        }
    fi
    dpkg-deb -x "$tmp"/*.deb "$tmp/x" || { rm -rf "$tmp"; die "dpkg-deb -x failed"; }
    rm -rf "$dir.part"
    mkdir -p "$dir.part"
    mv "$tmp"/x/boot/vmlinuz-* "$dir.part/vmlinuz"
    mv "$tmp"/x/boot/config-* "$dir.part/config"
    mv "$tmp"/x/lib/modules/* "$dir.part/modules"
    rm -rf "$tmp" "$dir"
    mv "$dir.part" "$dir"
}

mkdir -p "$cache/kernel"
install_missing
if [ -z "$kernel" ]; then
    exec 9>"$cache/kernel/.lock"
    flock 9
    fetch_kernel
    flock -u 9
fi
[ -f "$kernel" ] || die "no kernel at $kernel"

# ---------------------------------------------------------------------------
# The initramfs

work=$(mktemp -d "$cache/run.XXXXXX")
vm_job=
# Whoever stops this script stops the VM too (qemu writes its pid to $work/qemu.pid).
# shellcheck disable=SC2317 # called from the EXIT trap
stop_vm() {
    if [ -n "$vm_job" ] && kill -0 "$vm_job" 2>/dev/null; then
        [ -s "$work/qemu.pid" ] && kill "$(cat "$work/qemu.pid")" 2>/dev/null
        wait "$vm_job" 2>/dev/null
    fi
    return 0
}
trap 'stop_vm; rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,vm}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

# busybox-static and its applets (the tests copy /bin/busybox into container rootfs).
cp /bin/busybox "$root/bin/busybox"
while read -r applet; do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done < <(/bin/busybox --list-full)
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnobody:x:65534:\n' >"$root/etc/group"

# Copy $1 to $root$2, following symlinks, replacing an applet link that is in the way.
put() {
    mkdir -p "$(dirname "$root$2")"
    rm -f "$root$2"
    cp -L --preserve=mode "$1" "$root$2"
}

# The libraries and the loader ldd lists for $1 ("=> /path" or a bare absolute path).
libs_of() {
    ldd "$1" 2>/dev/null | awk '
        $2 == "=>" && $3 ~ /^\// { print $3; next }
        $1 ~ /^\// { print $1 }' || true
}

for spec in "${bins[@]}"; do
    host=${spec%%:*}
    guest=${spec#*:}
    [ -f "$host" ] || usage_error "--bin: no such file: $host"
    [ "$guest" = "$spec" ] && guest=$(realpath "$host")
    case "$guest" in /*) ;; *) usage_error "--bin: guest path must be absolute: $guest" ;; esac
    put "$host" "$guest"
    if [ "$strip_debug" = 1 ] && [ "$(head -c 4 "$host" | tr -d '\177')" = ELF ]; then
        strip --strip-debug "$root$guest" || die "strip --strip-debug $host failed"
    fi
    while read -r lib; do
        [ -e "$root$lib" ] || put "$lib" "$lib"
    done < <(libs_of "$host")
done

for spec in "${dirs[@]}"; do
    host=${spec%%:*}
    guest=${spec#*:}
    [ "$guest" != "$spec" ] || usage_error "--dir wants HOST:GUEST, got $spec"
    [ -d "$host" ] || usage_error "--dir: no such directory: $host"
    case "$guest" in /*) ;; *) usage_error "--dir: guest path must be absolute: $guest" ;; esac
    mkdir -p "$root$guest"
    cp -a "$host/." "$root$guest/"
done

# Kernel modules: each after the ones it depends on (the .ko's modinfo "depends="), at
# the path the kernel package has them; /vm/modules lists them in insmod order.
mdir=$(dirname "$kernel")/modules
added=" "
add_module() {
    local name=${1//-/_} rel dep
    case "$added" in *" $name "*) return ;; esac
    [ -f "$mdir/modules.order" ] || die "--module $1: no modules/ beside $kernel"
    rel=$(awk -v n="$name" '{ b = $0; sub(/.*\//, "", b); sub(/\.ko.*$/, "", b)
        gsub(/-/, "_", b); if (b == n) { print; exit } }' "$mdir/modules.order")
    if [ -z "$rel" ]; then
        grep -q "/$name\.ko\$" "$mdir/modules.builtin" 2>/dev/null && return
        die "--module $1: no such module in $mdir"
    fi
    case "$rel" in *.ko) ;; *) die "--module $1: compressed modules are not supported" ;; esac
    for dep in $(tr '\0' '\n' <"$mdir/$rel" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$dep"
    done
    added+="$name "
    mkdir -p "$(dirname "$root/lib/modules/$rel")"
    cp "$mdir/$rel" "$root/lib/modules/$rel"
    echo "/lib/modules/$rel" >>"$root/vm/modules"
}
for m in "${modules[@]}"; do add_module "$m"; done

# Single-quote $1 for the guest's sh.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

token=$(tr -d '-' </proc/sys/kernel/random/uuid)
cp "$here/init.sh" "$root/init"
chmod 0755 "$root/init"
{
    echo "TOKEN=$token"
    echo "VERBOSE=$verbose"
    echo "CGROUP2_OPTS=nosuid,nodev,noexec,nsdelegate,memory_recursiveprot"
} >"$root/vm/config"
{
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "export HOME=/root"
    for e in "${envs[@]}"; do
        echo "export ${e%%=*}=$(q "${e#*=}")"
    done
    if [ -n "$run_cgroup" ]; then
        echo "mkdir -p $(q "/sys/fs/cgroup$run_cgroup") &&"
        echo "    echo \$\$ >$(q "/sys/fs/cgroup$run_cgroup/cgroup.procs") || exit 125"
    fi
    echo "cd $(q "$cwd") || exit 125"
    # busybox sh would run its own applet for a bare name like "sh": look in PATH first.
    cat <<'EOF'
resolve() {
    case "$1" in */*) echo "$1"; return ;; esac
    IFS=:
    for d in $PATH; do
        [ -f "$d/$1" ] && [ -x "$d/$1" ] && { echo "$d/$1"; return; }
    done
    echo "$1"
}
EOF
    # shellcheck disable=SC2016 # expanded by the guest's shell
    printf 'exec "$(resolve %s)"' "$(q "$1")"
    shift
    for a in "$@"; do printf ' %s' "$(q "$a")"; done
    echo
} >"$root/vm/run.sh"

# Uncompressed: decompressing under TCG costs more than reading the bigger file.
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --quiet) >"$work/initramfs.cpio"

# ---------------------------------------------------------------------------
# Boot

begin="=== berth-vm $token begin"
end="=== berth-vm $token end"
console=$work/console.log
start=$(date +%s.%N)
boot() {
    set +e
    timeout -k 10 "$timeout_secs" qemu-system-x86_64 \
        -accel tcg -cpu max -m "$mem" -smp "$smp" \
        -nodefaults -nographic -no-reboot -serial stdio -net none \
        -kernel "$kernel" -initrd "$work/initramfs.cpio" \
        -append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init" \
        -pidfile "$work/qemu.pid" </dev/null 2>"$work/qemu.err" |
        sed -u 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' | tee "$console" |
        if [ "$verbose" = 1 ]; then
            cat
        else
            # The guest's setup lines go to stderr; the command's output, to stdout.
            awk -v b="$begin" -v e="$end" '
                on == 0 && index($0, b) { on = 1; next }
                on == 0 && (i = index($0, "berth-vm: ")) {
                    print substr($0, i) > "/dev/stderr"; next
                }
                on == 1 && (i = index($0, e)) {
                    if (i > 1) print substr($0, 1, i - 1)
                    on = 2; fflush(); next
                }
                on == 1 { print; fflush() }'
        fi
    echo "${PIPESTATUS[0]}" >"$work/qemu.rc"
}
# In the background, so that a signal to this script runs its traps at once.
boot &
vm_job=$!
wait "$vm_job" || true
vm_job=
qemu_rc=$(cat "$work/qemu.rc")
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ -n "$console_out" ] && cp "$console" "$console_out"

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
    echo "run-in-vm: timed out after ${timeout_secs}s; last console lines:" >&2
    tail -n 20 "$console" >&2
    exit 124
fi
end_line=$(grep -a -o "$end rc=[0-9]* uptime=[0-9.]*" "$console" | tail -n1 || true)
if [ -z "$end_line" ]; then
    echo "run-in-vm: no end marker (qemu exit $qemu_rc); last console lines:" >&2
    tail -n 30 "$console" >&2
    [ -s "$work/qemu.err" ] && cat "$work/qemu.err" >&2
    exit 125
fi
rc=$(sed -n 's/.* rc=\([0-9]*\) .*/\1/p' <<<"$end_line")
up_end=${end_line##*uptime=}
up_begin=$(grep -a -o "$begin uptime=[0-9.]*" "$console" | tail -n1 | sed 's/.*uptime=//')
awk -v k="$(basename "$(dirname "$kernel")")" -v b="$up_begin" -v e="$up_end" \
    -v t="$elapsed" -v rc="$rc" 'BEGIN {
        printf "run-in-vm: %s: boot %.1fs, command %.1fs, qemu total %.1fs, exit %d\n",
            k, b, e - b, t, rc }' >&2
exit "$rc"
