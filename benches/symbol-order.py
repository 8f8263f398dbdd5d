#!/usr/bin/env python3
"""Write benches/symbol-order.txt: the functions berth runs in its common verbs, which
build.rs hands to the linker (--symbol-ordering-file) so that they sit together at the
start of .text.

Why: berth runs for milliseconds, and the pages of its binary it touches count in its
RSS. The kernel maps text 64 KiB around each page fault ("fault-around"), so code
spread over the whole 3-4 MiB .text puts most of .text in the RSS of every berth
process, although about a quarter of it ever runs. With the functions that run packed
together, the RSS is that quarter (README, "Performance").

How: the release binary is built as scripts/build-release builds it; build.rs has the
linker write its map beside it (target/release/berth.map). The symbol names carry a
hash of the profile and the toolchain, so they must come from that very build. Then
one uprobe per function (tracefs), and the workload: the verbs engines call (create,
start, state, kill, delete, run, exec, list, pause, resume, events --stats), with
and without --log-format json, on this host's cgroups and in a private mount namespace
without the cgroup2 mount (as the benchmark runs). uprobe_profile then says which
functions ran: they are written most-hit first.

Usage (root): benches/symbol-order.py   (then rebuild: scripts/build-release)
Rerun it after a toolchain upgrade or a large change; benches/bench.py says how many
of the file's names the current binary still has.
"""

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
OUT = os.path.join(HERE, "symbol-order.txt")
T = "/sys/kernel/tracing"
GROUP = "berthorder"
# uprobes on these glibc string functions (rep stos/movs variants) make the probed
# process spin under this kernel's out-of-line single-stepping: never probed, always
# listed (they are hot in any case). Probes on other vectorised string functions can
# make them return wrong results (posix_spawnp's PATH search failed while probed):
# the workload runs nothing found through PATH, and a binary is never used while its
# probes are in place.
UNPROBED = re.compile(r"_erms$")

sys.path.insert(0, HERE)
import bench  # noqa: E402  (the bundle and the runtime driver)


def build():
    subprocess.run([os.path.join(TOP, "scripts", "build-release"), "--quiet"], check=True)
    release = os.path.join(TOP, "target", "release")
    return os.path.join(release, "berth"), os.path.join(release, "berth.map")


def file_offsets(binary):
    segs = []
    for line in subprocess.run(["readelf", "-lW", binary], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))

    def off(v):
        for o, va, sz in segs:
            if va <= v < va + sz:
                return v - va + o
        return None
    return off


def tracefs_write(path, text):
    with open(os.path.join(T, path), "w") as f:
        f.write(text)


def workload(binary, workdir):
    bundle = bench.build_bundle(workdir, ["/bin/true"], "bundle")
    sleeper = bench.build_bundle(workdir, ["/bin/sleep", "100000"], "sleeper")

    class Json(bench.Runtime):
        def argv(self, *args):
            return [self.binary, "--root", self.root, "--log",
                    os.path.join(self.root, "log.json"), "--log-format", "json", *args]

    for rt in (bench.Runtime("berth", binary, workdir, bundle),
               Json("berth-json", binary, workdir, bundle)):
        rt.cycle(memory=False)
        rt.run()
        cid = rt.start_sleeper(sleeper)
        try:
            for verb in (["state", cid], ["list"], ["events", "--stats", cid],
                         ["pause", cid], ["resume", cid], ["exec", cid, "/bin/true"],
                         ["kill", cid, "TERM"]):
                rt.call(*verb)
        finally:
            # Also when a verb failed: no container outlives the workload.
            rt.delete(cid)
            bench.reap_strays()


def main():
    if os.geteuid() != 0:
        sys.exit("symbol-order.py: run as root (uprobes and containers)")
    if not os.path.isdir(os.path.join(T, "events")):
        subprocess.run(["mount", "-t", "tracefs", "nodev", T], check=True)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(bench.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    workdir = tempfile.mkdtemp(prefix="berth-order-", dir="/run")
    try:
        binary, mapfile = build()
        funcs = bench.map_functions(mapfile)
        off = file_offsets(binary)
        tracefs_write("uprobe_events", "")
        probes = {}
        fd = os.open(os.path.join(T, "uprobe_events"), os.O_WRONLY | os.O_APPEND)
        try:
            for i, (name, vaddr, size) in enumerate(funcs):
                o = off(vaddr)
                if o is None or UNPROBED.search(name):
                    continue
                try:
                    os.write(fd, f"p:{GROUP}/f{i} {binary}:0x{o:x}\n".encode())
                    probes[f"f{i}"] = name
                except OSError:
                    pass  # an address uprobes refuse: it stays unordered
        finally:
            os.close(fd)
        tracefs_write(f"events/{GROUP}/enable", "1")
        try:
            workload(binary, workdir)
            # The same in a private mount namespace without the cgroup2 mount.
            subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "umount /sys/fs/cgroup/unified 2>/dev/null; exec \"$@\"",
                            "sh", sys.executable, __file__, "--workload-only", binary],
                           check=True)
        finally:
            tracefs_write(f"events/{GROUP}/enable", "0")
            hits = {}
            with open(os.path.join(T, "uprobe_profile")) as f:
                for line in f:
                    c = line.split()
                    if len(c) == 3 and c[1] in probes:
                        hits[probes[c[1]]] = int(c[2])
            tracefs_write("uprobe_events", "")
        ran = sorted((n for n, h in hits.items() if h > 0), key=lambda n: -hits[n])
        ran += sorted(n for n, _, _ in funcs if UNPROBED.search(n))
        sizes = {n: s for n, _, s in funcs}
        with open(OUT, "w") as f:
            f.write("# Written by benches/symbol-order.py; read by build.rs. The functions\n"
                    "# berth's common verbs run, most-hit first: the linker puts them\n"
                    "# together at the start of .text.\n")
            for n in ran:
                f.write(n + "\n")
        total = sum(s for _, _, s in funcs)
        used = sum(sizes[n] for n in ran)
        print(f"{OUT}: {len(ran)} of {len(funcs)} functions, "
              f"{used // 1024} of {total // 1024} KiB of .text")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--workload-only":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(bench.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        wd = tempfile.mkdtemp(prefix="berth-order-", dir="/run")
        try:
            workload(sys.argv[2], wd)
        finally:
            shutil.rmtree(wd, ignore_errors=True)
    else:
        main()
