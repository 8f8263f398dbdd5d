#!/bin/sh
# Build berth (release) and run the hello container from this bundle.
# Usage (as root): examples/hello/run.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
make_bundle "$here/config.json"
b run --bundle "$bundle" "hello-$$"
