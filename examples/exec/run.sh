#!/bin/sh
# `berth exec` starts a new process inside a running container: in the container's
# namespaces (it sees the container's processes, hostname and files), with its own
# environment, working directory and user if asked, and its exit status comes back.
# Usage (as root): examples/exec/run.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
make_bundle "$here/config.json"
id="exec-$$"
b run --detach --bundle "$bundle" "$id"      # the container's own process: sleep 600
init=$(b state "$id" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')

say() { echo "\$ berth exec $*"; }
say "$id ps"
procs=$(b exec "$id" ps); echo "$procs"
say "$id hostname"
host=$(b exec "$id" hostname); echo "$host"
say "$id sh -c 'echo from the first exec > /tmp/note'  (then cat /tmp/note in a second one)"
b exec "$id" sh -c 'echo from the first exec > /tmp/note'
note=$(b exec "$id" cat /tmp/note); echo "$note"
say "--env GREETING=hello --cwd /tmp --user 65534 $id sh -c 'echo \$GREETING from \$(pwd) as uid \$(id -u)'"
custom=$(b exec --env GREETING=hello --cwd /tmp --user 65534 "$id" sh -c 'echo $GREETING from $(pwd) as uid $(id -u)')
echo "$custom"
say "$id sh -c 'exit 3'"
status=0; b exec "$id" sh -c 'exit 3' || status=$?
echo "exit status $status"
echo

same_ns() {
    for ns in pid uts net mnt ipc; do
        [ "$(b exec "$id" readlink "/proc/self/ns/$ns")" = "$(readlink "/proc/$init/ns/$ns")" ] || return 1
    done
}
init_is_sleep() { echo "$procs" | grep -Eq '^ *1 .*sleep 600'; }
check "the exec'd ps sees the container's sleep as pid 1" init_is_sleep
check "it runs on the container's hostname (exec-demo), not the host's ($(hostname))" [ "$host" = exec-demo ]
check "it is in the container's pid, uts, net, mnt and ipc namespaces" same_ns
check "a second exec sees the file the first one wrote" [ "$note" = "from the first exec" ]
check "--env, --cwd and --user apply" [ "$custom" = "hello from /tmp as uid 65534" ]
check "the exec'd process's exit status comes back" [ "$status" = 3 ]
b delete --force "$id"
exec_refused() { ! b exec "$id" true 2>/dev/null; }
check "there is nothing to exec into once the container is deleted" exec_refused
checks_passed
