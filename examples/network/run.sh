#!/bin/sh
# Two containers on a bridge: "web" serves a page with busybox httpd on 10.119.99.10,
# published on the host as port 8080; "pinger" pings web by IP. Then the host fetches
# the page through the published port, at the bridge's address 10.119.99.1.
# Usage (as root): examples/network/run.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
trap 'cleanup; ip link del berthex0 2>/dev/null || true' EXIT
mkdir -p "$bundle/rootfs/www"
echo "Hello from busybox httpd in a berth container" >"$bundle/rootfs/www/index.html"

make_bundle "$here/web.json"
b create --bundle "$bundle" "web-$$"
b start "web-$$"
echo "web: listening on 10.119.99.10:80, published as host port 8080"

make_bundle "$here/ping.json"
b run --bundle "$bundle" "pinger-$$"

echo "host: fetching http://10.119.99.1:8080/"
i=0
until page=$(printf "GET / HTTP/1.0\r\n\r\n" | busybox nc -w 2 10.119.99.1 8080 2>/dev/null | sed "1,/^\r\?$/d") && [ -n "$page" ]; do
    i=$((i + 1))
    [ "$i" -lt 50 ] || { echo "no answer on the published port" >&2; exit 1; }
    sleep 0.1
done
echo "host got: $page"
b delete --force "web-$$"
