#!/bin/sh
# The cgroup v2 VM lane's smoke test; lane.sh runs it in the guest, where / is tmpfs,
# cgroup2 alone is at /sys/fs/cgroup and berth is /berth. It shows the guest is pure
# v2, then `berth run`s two busybox containers (without and with a cgroup namespace,
# both with memory/pids/cpu limits), prints what each sees of its cgroup and checks it
# ("ok:"/"FAIL:" lines; the exit status is non-zero when anything failed).
set -u
echo "== guest cgroup mounts"
grep cgroup /proc/self/mountinfo
echo "== root cgroup.subtree_control"
cat /sys/fs/cgroup/cgroup.subtree_control

# $1: bundle dir, $2: "cgroupns" or "". The container runs /show.sh.
make_bundle() {
    mkdir -p "$1/rootfs/bin" "$1/rootfs/proc" "$1/rootfs/sys" "$1/rootfs/dev" "$1/rootfs/tmp"
    cp /bin/busybox "$1/rootfs/bin/busybox"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -s busybox "$1/rootfs/bin/$a"
    done
    cgroupns=
    [ "$2" = cgroupns ] && cgroupns=', {"type": "cgroup"}'
    cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh", "/show.sh"],
    "env": ["PATH=/bin"],
    "cwd": "/"
  },
  "root": {"path": "rootfs"},
  "hostname": "smoke",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}$cgroupns],
    "resources": {
      "memory": {"limit": 67108864},
      "pids": {"limit": 64},
      "cpu": {"quota": 50000, "period": 100000}
    }
  }
}
EOF
}

# What the container sees: its cgroup, the cgroup mount, and the limits in its cgroup dir.
cat >/tmp/show.sh <<'EOF'
echo "/proc/self/cgroup: $(cat /proc/self/cgroup)"
grep ' - cgroup' /proc/self/mountinfo
p=$(sed -n "s/^0:://p" /proc/self/cgroup)
# Without a cgroup namespace the container's own dir may be what is mounted there.
d=/sys/fs/cgroup${p%/}
[ -d "$d" ] || d=/sys/fs/cgroup
echo "in $d:"
for f in cgroup.controllers memory.max pids.max cpu.max; do
    echo "  $f: $(cat "$d/$f" 2>&1)"
done
EOF

status=0
check() { # $1: description, $2: file, $3: exact line expected in it
    if grep -qxF "$3" "$2"; then echo "ok: $1"; else echo "FAIL: $1 (want: $3)"; status=1; fi
}
for ns in "" cgroupns; do
    id=smoke${ns:+-$ns}
    echo "== berth run $id (${ns:-no cgroup namespace})"
    make_bundle "/tmp/$id" "$ns"
    cp /tmp/show.sh "/tmp/$id/rootfs/show.sh"
    /berth run -b "/tmp/$id" "$id" >"/tmp/$id.out" 2>&1
    rc=$?
    cat "/tmp/$id.out"
    echo "berth run exit status: $rc"
    [ "$rc" = 0 ] || status=1
    if [ -z "$ns" ]; then
        check "own cgroup" "/tmp/$id.out" "/proc/self/cgroup: 0::/berth-$id"
    else
        check "cgroup namespace root" "/tmp/$id.out" "/proc/self/cgroup: 0::/"
    fi
    check "memory limit" "/tmp/$id.out" "  memory.max: 67108864"
    check "pids limit" "/tmp/$id.out" "  pids.max: 64"
    check "cpu quota" "/tmp/$id.out" "  cpu.max: 50000 100000"
    if [ -e "/sys/fs/cgroup/berth-$id" ]; then
        echo "FAIL: /sys/fs/cgroup/berth-$id left behind"
        status=1
    else
        echo "ok: cgroup removed"
    fi
done
exit $status
