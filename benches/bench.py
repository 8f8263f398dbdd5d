#!/usr/bin/env python3
"""berth against crun and runc, interleaved in one session on one busybox bundle.

Run through benches/bench.sh, which puts this in a private mount namespace where
/sys/fs/cgroup/unified is unmounted (crun refuses hybrid cgroups; there all three
runtimes see plain cgroup v1). Measures, for each runtime:

  1. cycle     create + start + wait for exit + delete of /bin/true
  2. run       `run` of /bin/true
  3. exec      `exec` of /bin/true into a running container
  4. parallel  N containers created in parallel, then deleted in parallel: total wall
               time, the summed peak RSS of the N create processes, and the memory
               (sum of Pss) the N created-but-not-started containers hold
  5. memory    peak RSS of the `create` process (its own and its reaped stages');
               binary size: the file, and the file plus the shared libraries it
               loads (ldd), since a static berth or runc carries what a dynamically
               linked crun maps from libc, libseccomp, libsystemd and others

Wall time is measured around the runtime's commands; CPU time is user+sys of
everything this script reaped during the measurement: the runtime, its stages and the
container process (this script is a child subreaper, so the container is reparented
to it and reaped here). Medians over the iterations; ratios are against crun and runc
from the same run.
"""

import argparse
import ctypes
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36
TIME = "/usr/bin/time"  # GNU time (Debian package "time")

# `runc spec` (1.1.5), with terminal false and a writable-nothing root, as every
# runtime here understands it.
CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
CONFIG = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["/bin/true"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "cwd": "/",
        "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "bench",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ["pid", "network", "ipc", "uts", "mount"]],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    },
}


class Failure(Exception):
    pass


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def reap_strays():
    """Reap containers reparented to us (we are their subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Runtime:
    def __init__(self, name, binary, workdir, bundle):
        self.name = name
        self.binary = binary
        self.root = os.path.join(workdir, "root-" + name)
        os.makedirs(self.root, exist_ok=True)
        self.bundle = bundle
        self.log = open(os.path.join(workdir, name + ".stderr"), "w+")
        self.seq = 0

    def new_id(self, tag):
        self.seq += 1
        return f"bench-{self.name}-{tag}-{os.getpid()}-{self.seq}"

    def argv(self, *args):
        return [self.binary, "--root", self.root, *args]

    def spawn(self, *args, rss_to=None):
        """Start the runtime. With rss_to, through GNU time, which writes the runtime
        process's peak RSS (KiB) there: a process this script starts directly would
        report this script's own RSS, which the kernel counts as its high-water mark
        at exec."""
        argv = self.argv(*args)
        if rss_to:
            argv = [TIME, "-f", "%M", "-o", rss_to, *argv]
        # stdio is /dev/null and a file, never a pipe: a container inheriting the write
        # end of a pipe would keep us waiting for EOF.
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=self.log)

    def wait(self, p, what):
        """wait4 the process: (rusage). Raises on a non-zero exit."""
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            self.log.flush()
            self.log.seek(0)
            tail = self.log.read()[-2000:]
            raise Failure(f"{self.name} {what}: exit {p.returncode}\n{tail}")
        return ru

    def call(self, *args):
        return self.wait(self.spawn(*args), " ".join(args))

    def cycle(self, memory=False):
        """create + start + wait + delete; with memory=True, through GNU time, and
        returns the peak RSS of `create` in KiB."""
        cid = self.new_id("c")
        pidfile = os.path.join(self.root, cid + ".pid")
        rssfile = os.path.join(self.root, cid + ".rss")
        self.wait(self.spawn("create", "--bundle", self.bundle, "--pid-file", pidfile, cid,
                             rss_to=rssfile if memory else None), "create")
        with open(pidfile) as f:
            pid = int(f.read())
        self.call("start", cid)
        # The init was reparented to us when `create` exited: wait for /bin/true.
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            raise Failure(f"{self.name}: container {pid} is not our child")
        self.call("delete", cid)
        os.unlink(pidfile)
        if memory:
            rss = read_rss(rssfile)
            os.unlink(rssfile)
            return rss
        return 0

    def run(self):
        self.call("run", "--bundle", self.bundle, self.new_id("r"))

    def start_sleeper(self, bundle):
        cid = self.new_id("s")
        self.call("run", "--detach", "--bundle", bundle, cid)
        return cid

    def exec(self, cid):
        self.call("exec", cid, "/bin/true")

    def delete(self, cid):
        self.call("delete", "--force", cid)


def measure(fn):
    reap_strays()
    c0 = cpu_children()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    reap_strays()
    return wall, cpu_children() - c0, out


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_all(rt, procs, ids, verb):
    """Wait for every process of a burst; the first failure, or None (the others
    are still waited for, so none is left running)."""
    err = None
    for p, i in zip(procs, ids):
        try:
            rt.wait(p, f"{verb} {i}")
        except Failure as e:
            err = err or e
    return err


def parallel(rt, n, memory=False):
    """n creates at once, then n deletes at once: (create wall, delete wall, sum of
    the create processes' peak RSS in KiB (with memory=True, else 0), sum of the
    created containers' Pss in KiB)."""
    ids = [rt.new_id("p") for _ in range(n)]
    pidfiles = [os.path.join(rt.root, i + ".pid") for i in ids]
    rssfiles = [os.path.join(rt.root, i + ".rss") for i in ids]
    reap_strays()
    t0 = time.perf_counter()
    procs = [rt.spawn("create", "--bundle", rt.bundle, "--pid-file", pf, i,
                      rss_to=rf if memory else None)
             for i, pf, rf in zip(ids, pidfiles, rssfiles)]
    err = wait_all(rt, procs, ids, "create")
    t_create = time.perf_counter() - t0
    held = 0
    for pf in pidfiles:
        try:
            with open(pf) as f:
                held += pss_kib(int(f.read()))
        except OSError:
            pass
    t0 = time.perf_counter()
    procs = [rt.spawn("delete", "--force", i) for i in ids]
    err = err or wait_all(rt, procs, ids, "delete")
    t_delete = time.perf_counter() - t0
    reap_strays()
    rss = sum(read_rss(rf) for rf in rssfiles) if memory else 0
    for f in pidfiles + rssfiles:
        if os.path.exists(f):
            os.unlink(f)
    if err:
        raise err
    return t_create, t_delete, rss, held


def read_rss(path):
    try:
        with open(path) as f:
            return int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return 0


def build_bundle(workdir, args, name):
    """A bundle dir with config.json running args; one shared rootfs for all."""
    bundle = os.path.join(workdir, name)
    os.makedirs(bundle, exist_ok=True)
    rootfs = os.path.join(workdir, "rootfs")
    if not os.path.isdir(rootfs):
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([os.path.join(here, "..", "examples", "mkrootfs.sh"), rootfs],
                       check=True)
    cfg = json.loads(json.dumps(CONFIG))
    cfg["process"]["args"] = args
    cfg["root"]["path"] = rootfs
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    return bundle


def ms(x):
    return f"{x * 1000:.1f}"


def ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--berth", default="target/release/berth")
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    ap.add_argument("--crun", default=shutil.which("crun") or "/usr/bin/crun")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--parallel", type=int, default=100,
                    help="containers in the parallel create/delete burst")
    ap.add_argument("--smoke", action="store_true",
                    help="3 iterations, a burst of 10: checks that the benchmark works")
    ap.add_argument("--only", help="comma-separated runtimes to run (berth,crun,runc)")
    ap.add_argument("--skip-parallel", action="store_true",
                    help="only the cycle, run and exec timings (and memory)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                    help="another runtime binary in the same session (e.g. an older "
                         "berth, to measure a change before and after)")
    ap.add_argument("--json", help="also write the raw figures here")
    a = ap.parse_args()
    if a.smoke:
        a.iterations, a.parallel = 3, 10

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")

    workdir = tempfile.mkdtemp(prefix="berth-bench-", dir="/run")
    try:
        rc = bench(a, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(rc)


def cpu_ticks():
    """(steal, total) jiffies of all CPUs from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (v[7] if len(v) > 7 else 0), sum(v[:8])


def bench(a, workdir):
    ticks0 = cpu_ticks()
    bundle = build_bundle(workdir, ["/bin/true"], "bundle")
    sleeper = build_bundle(workdir, ["/bin/sleep", "100000"], "sleeper")

    extra = [tuple(e.split("=", 1)) for e in a.extra]
    want = a.only.split(",") if a.only else ["berth", "crun", "runc"]
    want += [n for n, _ in extra]
    rts = []
    for name, path in [("berth", os.path.abspath(a.berth)), ("crun", a.crun),
                       ("runc", a.runc)] + extra:
        if name not in want:
            continue
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            if name == "berth":
                sys.exit(f"berth: {path} not found: scripts/build-release first")
            print(f"note: {name} not found at {path}: skipped", file=sys.stderr)
            continue
        if name not in ("crun", "runc"):
            # Run berth (and the extras) from a copy, as an installed binary, like
            # crun and runc from /usr/bin: the file the linker has just written ran
            # the cycle about 6% slower than a byte-identical copy of it (measured
            # side by side; the page cache holds a freshly linked file differently).
            copy = os.path.join(workdir, f"bin-{name}")
            shutil.copyfile(path, copy)
            os.chmod(copy, 0o755)
            path = copy
        rts.append(Runtime(name, path, workdir, bundle))

    res = {rt.name: {"cycle": [], "cycle_cpu": [], "run": [], "run_cpu": [], "exec": [],
                     "exec_cpu": [], "create_rss": []} for rt in rts}
    # One round = every runtime once per benchmark, in a shuffled order, so drifting
    # load from the rest of the machine falls on all of them alike.
    rng = random.Random(7)
    sleepers = {}
    try:
        for rt in rts:
            sleepers[rt.name] = rt.start_sleeper(sleeper)
            rt.cycle()  # warm the page cache and the runtime's state dir
        for _ in range(a.iterations):
            order = rts[:]
            rng.shuffle(order)
            for rt in order:
                w, c, _ = measure(rt.cycle)
                r = res[rt.name]
                r["cycle"].append(w)
                r["cycle_cpu"].append(c)
            for rt in order:
                w, c, _ = measure(rt.run)
                res[rt.name]["run"].append(w)
                res[rt.name]["run_cpu"].append(c)
            for rt in order:
                w, c, _ = measure(lambda: rt.exec(sleepers[rt.name]))
                res[rt.name]["exec"].append(w)
                res[rt.name]["exec_cpu"].append(c)
        # Memory apart from time: GNU time in between would add its own cost.
        for _ in range(min(a.iterations, 5)):
            for rt in rts:
                res[rt.name]["create_rss"].append(rt.cycle(memory=True))
        sizes = sorted({max(1, a.parallel // 4), max(1, a.parallel // 2), a.parallel})
        if a.skip_parallel:
            sizes = []
        for rt in rts:
            res[rt.name]["parallel"] = {}
        # Each size for every runtime in turn (shuffled), like the rounds above.
        for n in sizes:
            order = rts[:]
            rng.shuffle(order)
            for rt in order:
                tc, td, _, held = parallel(rt, n)
                res[rt.name]["parallel"][n] = {"create": tc, "delete": td,
                                               "held_pss_kib": held}
        for rt in rts if sizes else []:
            _, _, rss, _ = parallel(rt, a.parallel, memory=True)
            res[rt.name]["parallel"][a.parallel]["create_rss_sum_kib"] = rss
    except Failure as e:
        print(f"benchmark failed: {e}", file=sys.stderr)
        return 1
    finally:
        for rt in rts:
            if rt.name in sleepers:
                try:
                    rt.delete(sleepers[rt.name])
                except Failure as e:
                    print(f"cleanup: {e}", file=sys.stderr)
        reap_strays()

    report(a, rts, res)
    ticks1 = cpu_ticks()
    if ticks0 and ticks1 and ticks1[1] > ticks0[1]:
        # On a virtual machine, time the hypervisor gave to other guests: a busy host
        # widens the spread of every figure above.
        stolen = 100 * (ticks1[0] - ticks0[0]) / (ticks1[1] - ticks0[1])
        print(f"CPU time stolen by the hypervisor during the benchmark: {stolen:.0f}%")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"iterations": a.iterations, "results": res,
                       "sizes": {rt.name: os.path.getsize(rt.binary) for rt in rts},
                       "loaded_sizes": {rt.name: loaded_size(rt.binary) for rt in rts}},
                      f, indent=1)
    return 0


def report(a, rts, res):
    med = {n: {k: statistics.median(v) for k, v in r.items() if isinstance(v, list) and v}
           for n, r in res.items()}
    names = [rt.name for rt in rts]
    print(f"\n{a.iterations} iterations, interleaved; median wall / CPU (user+sys) in ms\n")
    head = "| benchmark | " + " | ".join(names)
    refs = [n for n in ("crun", "runc") if n in names]
    head += "".join(f" | berth/{n}" for n in refs)
    print(head + " |")
    print("|---" * (1 + len(names) + len(refs)) + "|")
    for key, label in [("cycle", "create+start+delete"), ("run", "run"),
                       ("exec", "exec")]:
        row = f"| {label} | " + " | ".join(
            f"{ms(med[n][key])} / {ms(med[n][key + '_cpu'])}" for n in names)
        for r in refs:
            row += (f" | {ratio(med['berth'][key], med[r][key])} / "
                    f"{ratio(med['berth'][key + '_cpu'], med[r][key + '_cpu'])}")
        print(row + " |")
    n = a.parallel
    if not res[names[0]]["parallel"]:
        n = None
    for size in sorted(res[names[0]]["parallel"]):
        row = f"| {size} parallel creates + deletes (s) | " + " | ".join(
            f"{res[x]['parallel'][size]['create']:.2f} + "
            f"{res[x]['parallel'][size]['delete']:.2f}" for x in names)
        for r in refs:
            b, o = res["berth"]["parallel"][size], res[r]["parallel"][size]
            row += f" | {ratio(b['create'] + b['delete'], o['create'] + o['delete'])}"
        print(row + " |")
    for key, label in [("create_rss_sum_kib", f"{n} parallel creates: sum of peak RSS (MiB)"),
                       ("held_pss_kib", f"{n} created containers hold, Pss (MiB)")]:
        if n is None:
            break
        row = f"| {label} | " + " | ".join(
            f"{res[x]['parallel'][n][key] / 1024:.1f}" for x in names)
        for r in refs:
            row += (f" | {ratio(res['berth']['parallel'][n][key], res[r]['parallel'][n][key])}")
        print(row + " |")
    row = "| create: peak RSS (MiB) | " + " | ".join(
        f"{med[x]['create_rss'] / 1024:.1f}" for x in names)
    for r in refs:
        row += f" | {ratio(med['berth']['create_rss'], med[r]['create_rss'])}"
    print(row + " |")
    sizes = {rt.name: os.path.getsize(rt.binary) for rt in rts}
    row = "| binary size (MiB) | " + " | ".join(
        f"{sizes[x] / 1048576:.2f}" for x in names)
    for r in refs:
        row += f" | {ratio(sizes['berth'], sizes[r])}"
    print(row + " |")
    loaded = {rt.name: loaded_size(rt.binary) for rt in rts}
    row = "| binary + the shared libraries it loads (MiB) | " + " | ".join(
        f"{loaded[x] / 1048576:.2f}" for x in names)
    for r in refs:
        row += f" | {ratio(loaded['berth'], loaded[r])}"
    print(row + " |")
    if any(rt.name == "berth" for rt in rts):
        print("\n" + symbol_order_note(os.path.abspath(a.berth)))
    try:
        load = open("/proc/loadavg").read().split()[:3]
        print(f"\nload average at the end: {' '.join(load)} on {os.cpu_count()} CPUs")
    except OSError:
        pass


def loaded_size(binary):
    """Bytes of `binary` plus the shared libraries and loader ldd says it maps (the
    file alone for a static binary)."""
    total = os.path.getsize(binary)
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return total
    for line in out.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else (parts[0] if parts else "")
        if path.startswith("/") and os.path.exists(path):
            total += os.path.getsize(os.path.realpath(path))
    return total


def map_functions(mapfile):
    """(name, vaddr, size) of every function in .text, from the linker map build.rs
    has lld write beside the release binary (mangled names)."""
    out, section = [], None
    with open(mapfile) as f:
        next(f)
        for line in f:
            cols = line.split()
            if len(cols) == 5 and cols[4].startswith("."):
                section = cols[4]
            elif len(cols) == 5 and section == ".text" and ":(" not in cols[4]:
                size = int(cols[2], 16)
                if size > 0:
                    out.append((cols[4], int(cols[0], 16), size))
    return out


def symbol_order_note(binary):
    """Whether benches/symbol-order.txt still names the functions of this build
    (build.rs has the linker order them and write its map beside the binary)."""
    here = os.path.dirname(os.path.abspath(__file__))
    mapfile = os.path.join(os.path.dirname(binary), "berth.map")
    try:
        with open(os.path.join(here, "symbol-order.txt")) as f:
            wanted = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        have = {name for name, _, _ in map_functions(mapfile)}
    except OSError as e:
        return f"symbol order: not checked ({e.filename}: {e.strerror})"
    found = sum(1 for n in wanted if n in have)
    note = (f"symbol order: {found} of the {len(wanted)} functions in "
            "benches/symbol-order.txt are in this build")
    if found < 0.9 * len(wanted):
        note += (" (stale: another toolchain or a large change; run "
                 "benches/symbol-order.py, then scripts/build-release)")
    return note


if __name__ == "__main__":
    main()
