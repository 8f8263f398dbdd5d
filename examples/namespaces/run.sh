#!/bin/sh
# The same script (show.sh: processes, hostname, network interfaces, mounts and
# namespace ids, all read from /proc) run on the host and in a container with its own
# pid, uts, network, mount, ipc and cgroup namespaces, side by side: the container
# sees only itself (its shell is pid 1), its own hostname, only lo, its own mounts.
# Usage (as root): examples/namespaces/run.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
make_bundle "$here/config.json"
cp "$here/show.sh" "$bundle/rootfs/show.sh"
sh "$here/show.sh" > "$bundle/host.txt"
b run --bundle "$bundle" "namespaces-$$" > "$bundle/container.txt"

echo "== host ==================================== == container ==============================="
pr -m -t -w 100 "$bundle/host.txt" "$bundle/container.txt"
echo

# value FILE KEY: the value of "KEY: value" in FILE.
value() { sed -n "s/^$2: //p" "$1"; }
h() { value "$bundle/host.txt" "$1"; }
c() { value "$bundle/container.txt" "$1"; }
own_hostname() { [ "$(c hostname)" = berth-ns ] && [ "$(h hostname)" != berth-ns ]; }
only_lo() { [ "$(c interfaces)" = "lo " ] && [ "$(h interfaces)" != "lo " ]; }
mounts_of() { sed -n '/^mounts:/,/^ns /p' "$bundle/$1.txt"; }
check "the container's shell is pid 1 of its own pid namespace" [ "$(c 'my pid')" = 1 ]
check "it sees fewer processes than the host ($(c processes) < $(h processes))" \
    [ "$(c processes)" -lt "$(h processes)" ]
check "its hostname is berth-ns, the host's is $(h hostname)" own_hostname
check "its only network interface is lo (the host has: $(h interfaces))" only_lo
check "its mounts are its own ($(c mounts) against the host's $(h mounts))" \
    [ "$(mounts_of container)" != "$(mounts_of host)" ]
for ns in pid uts net mnt ipc; do
    check "its $ns namespace is not the host's" [ "$(c "ns $ns")" != "$(h "ns $ns")" ]
done
checks_passed
