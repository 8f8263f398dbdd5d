#!/bin/sh
# A process that allocates 300 MB under a 100 MB memory limit is OOM-killed, and
# `berth events` reports the kill.
# Usage (as root): examples/memory-limit/run.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
make_bundle "$here/config.json"
id="memory-limit-$$"
b create --bundle "$bundle" "$id"
b events --interval 60s "$id" > "$bundle/events" &
events=$!
sleep 0.5
b start "$id"
while [ "$(b state "$id" | sed -n 's/.*"status": "\(.*\)".*/\1/p')" != stopped ]; do sleep 0.1; done
kill "$events" 2>/dev/null || true
wait "$events" 2>/dev/null || true
echo "berth events said:"; grep '"oom"' "$bundle/events"
b delete "$id"
