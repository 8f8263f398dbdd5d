# Shared by the examples: build berth, and make a bundle from a config template.
# Source it from an example's run.sh: . "$(dirname "$0")/../lib.sh"
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -x /bin/busybox ] || { apt-get update -qq && apt-get install -y -qq busybox-static; }
"$top/scripts/build-release" --quiet
berth="$top/target/release/berth"
root=$(mktemp -d /tmp/berth-example-root.XXXXXX)
bundle=$(mktemp -d /tmp/berth-example.XXXXXX)
cleanup() {
    for id in $("$berth" --root "$root" list --quiet 2>/dev/null); do
        "$berth" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    rm -rf "$bundle" "$root"
}
trap cleanup EXIT
"$top/examples/mkrootfs.sh" "$bundle/rootfs"

# make_bundle CONFIG: copy an example's config.json into the bundle.
make_bundle() {
    cp "$1" "$bundle/config.json"
}
b() {
    "$berth" --root "$root" "$@"
}

# check WHAT COMMAND...: run COMMAND; print "ok: WHAT" or "FAILED: WHAT", and make
# `checks_passed` (the example's last line) fail if any check did.
failed=0
check() {
    what=$1; shift
    if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failed=$((failed + 1)); fi
}
checks_passed() {
    [ "$failed" -eq 0 ] || { echo "$failed check(s) failed" >&2; return 1; }
}
