#!/bin/sh
# A busy loop under a CPU quota of 10000/100000 (10% of one CPU): the cgroup's own
# usage counter, read through `berth events --stats`, shows about 10%.
# Usage (as root): examples/cpu-limit/run.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
make_bundle "$here/config.json"
id="cpu-limit-$$"
b run --detach --bundle "$bundle" "$id"
usage() { b events --stats "$id" | sed 's/.*"usage":{[^}]*"total":\([0-9]*\).*/\1/'; }
sleep 0.5
u0=$(usage); t0=$(date +%s%N)
sleep 3
u1=$(usage); t1=$(date +%s%N)
pct=$(( (u1 - u0) * 100 / (t1 - t0) ))
echo "busy loop under a 10% quota used ${pct}% of a CPU over 3 s"
b delete --force "$id"
[ "$pct" -ge 5 ] && [ "$pct" -le 15 ]
