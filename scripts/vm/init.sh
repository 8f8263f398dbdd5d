#!/bin/busybox sh
# The guest's init (pid 1) for the cgroup v2 VM lane; run-in-vm.sh puts it at /init in
# the initramfs. See scripts/vm/README.md.
#
# Stage 1 runs on the initramfs root (rootfs). pivot_root(2) cannot leave rootfs, so a
# container runtime would fail there: copy everything onto a tmpfs and switch_root to
# it. Stage 2 then mounts a pure cgroup v2 system (no v1 hierarchy at all), runs the
# command from /vm/run.sh between markers on the serial console and powers off.
#
# /vm/config (written by the host) sets TOKEN, VERBOSE, CGROUP2_OPTS; /vm/modules lists
# the kernel modules to insmod. Only busybox is run as a shell here: the host may ship
# its own /bin/sh.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "berth-vm: $*"; }

# No end marker reaches the host, so it reports a lane failure with this message.
die() {
    say "setup failed: $*"
    poweroff -f
    exit 1
}

stage1() {
    mount -t devtmpfs devtmpfs /dev || die "mount devtmpfs"
    exec </dev/console >/dev/console 2>&1
    echo # the firmware leaves the cursor mid-line
    mkdir -p /newroot
    mount -t tmpfs -o mode=0755 tmpfs /newroot || die "mount tmpfs root"
    for p in /*; do
        case "$p" in
        /dev | /newroot | /proc | /sys) continue ;;
        esac
        cp -a "$p" /newroot/ || die "copy $p to the tmpfs root"
    done
    mkdir -p /newroot/dev /newroot/proc /newroot/sys
    mount --move /dev /newroot/dev || die "move /dev"
    exec switch_root /newroot /init stage2
}

stage2() {
    # shellcheck source=/dev/null
    . /vm/config
    mount -t proc proc /proc || die "mount /proc"
    mount -t sysfs sysfs /sys || die "mount /sys"
    mkdir -p /dev/pts /dev/shm /dev/mqueue
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts ||
        die "mount /dev/pts"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm || die "mount /dev/shm"
    mount -t mqueue mqueue /dev/mqueue || say "warning: no mqueue"
    ln -sf /proc/self/fd /dev/fd
    ln -sf /proc/self/fd/0 /dev/stdin
    ln -sf /proc/self/fd/1 /dev/stdout
    ln -sf /proc/self/fd/2 /dev/stderr
    mount -t tmpfs -o mode=1777 tmpfs /tmp || die "mount /tmp"
    mount -t tmpfs -o mode=0755 tmpfs /run || die "mount /run"

    # Like a systemd host's, but with no v1 hierarchy beside it.
    mount -t cgroup2 -o "$CGROUP2_OPTS" cgroup2 /sys/fs/cgroup ||
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || die "mount cgroup2"
    # shellcheck disable=SC2013 # one controller name per word
    for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
        echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control ||
            say "warning: cannot enable the $c controller"
    done
    say "kernel $(uname -r), cgroup2 mounted with $(grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f4)"
    say "subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
    if [ -f /vm/modules ]; then
        while read -r m; do
            insmod "$m" || say "warning: insmod $m failed"
        done </vm/modules
    fi
    hostname berth-vm
    ip link set lo up 2>/dev/null || say "warning: cannot bring lo up"

    # The command writes to a pipe, not to the console tty, as it would under CI; a
    # daemon it leaves behind holding the pipe gets 3 s before its output is cut off.
    mkfifo /run/vm-out
    cat /run/vm-out &
    catpid=$!
    echo "=== berth-vm $TOKEN begin uptime=$(cut -d' ' -f1 /proc/uptime) ==="
    env -i /bin/busybox sh /vm/run.sh >/run/vm-out 2>&1 </dev/null &
    wait $! 2>/dev/null # no "Killed" from this shell among the command's output
    rc=$?
    (
        sleep 3
        kill "$catpid" 2>/dev/null
    ) &
    wait "$catpid"
    echo "=== berth-vm $TOKEN end rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime) ==="
    if [ "$VERBOSE" = 1 ]; then
        say "kernel log:"
        dmesg
    fi
    sync
    poweroff -f
}

case "$1" in
stage2) stage2 ;;
*) stage1 ;;
esac
