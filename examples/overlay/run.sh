#!/bin/sh
# Two containers on one read-only image (a lower layer shared copy-on-write, asked for
# by the annotation org.berth.rootfs.lower): a file written and a file deleted in one
# container show in neither the other container nor the image; the change lives in the
# first container's own upper layer, which `delete` removes.
# Usage (as root): examples/overlay/run.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
image="$bundle/rootfs"          # built by lib.sh; both containers' lower layer
for n in one two; do
    mkdir -p "$bundle/$n/rootfs"    # empty: the overlay is mounted on it
    sed "s|@IMAGE@|$image|" "$here/config.json" > "$bundle/$n/config.json"
    b run --detach --bundle "$bundle/$n" "$n-$$"
done
upper="$bundle/one/overlay/one-$$/upper"

echo "\$ berth exec one-$$ sh -c 'echo written in one > /etc/note; rm /etc/group'"
b exec "one-$$" sh -c 'echo written in one > /etc/note; rm /etc/group'
in_one=$(b exec "one-$$" sh -c 'cat /etc/note; ls /etc/group 2>&1; true')
in_two=$(b exec "two-$$" sh -c 'cat /etc/note 2>&1; ls /etc/group 2>&1; true')
echo "in one:   $in_one" | sed '2,$s/^/          /'
echo "in two:   $in_two" | sed '2,$s/^/          /'
echo "in the image: $(ls "$image/etc" | tr "\n" " ")"
echo "one's upper layer ($upper):"
(cd "$upper" && find . -mindepth 1 | sort | while read -r f; do echo "  $(ls -ld "$f")"; done)
echo

one_sees_its_writes() { [ "$(echo "$in_one" | head -1)" = "written in one" ] && echo "$in_one" | grep -q 'No such file'; }
two_sees_the_image() { echo "$in_two" | grep -q "can't open '/etc/note'" && echo "$in_two" | grep -qx /etc/group; }
image_untouched() { [ ! -e "$image/etc/note" ] && [ -f "$image/etc/group" ]; }
in_ones_upper() { [ "$(cat "$upper/etc/note")" = "written in one" ] && [ -c "$upper/etc/group" ]; }
check "one sees the file it wrote, and not the one it deleted" one_sees_its_writes
check "two sees neither change" two_sees_the_image
check "the image (lower layer) is unchanged" image_untouched
check "the changes are in one's upper layer (the deletion as a whiteout, a 0:0 char device)" in_ones_upper
b delete --force "one-$$"
check "delete removed one's upper layer" [ ! -e "$bundle/one/overlay" ]
checks_passed
