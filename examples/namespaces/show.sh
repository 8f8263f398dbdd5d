# What a process sees of the system, read from /proc only, so that the same script
# runs on the host and in the container. Each line is "key: value".
echo "my pid: $$"
set -- /proc/[0-9]*
echo "processes: $#"
n=0
for p in "$@"; do
    comm=$(cat "$p/comm" 2>/dev/null) || continue
    echo "  pid ${p#/proc/}: $comm"
    n=$((n + 1)); [ $n -lt 3 ] || break
done
while [ $n -lt 3 ]; do echo "  -"; n=$((n + 1)); done   # same line count on both sides
echo "hostname: $(cat /proc/sys/kernel/hostname)"
echo "interfaces: $(sed -n 's/^ *\([^:]*\):.*/\1/p' /proc/net/dev | sort | tr '\n' ' ')"
echo "mounts: $(wc -l < /proc/self/mounts)"
for m in $(awk '{print $2}' /proc/self/mounts | head -3); do echo "  $m"; done
for ns in pid uts net mnt ipc; do echo "ns $ns: $(readlink /proc/self/ns/$ns)"; done
