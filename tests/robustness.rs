//! "No panic on bad input, ever": everything config.json and the command line can reach
//! before any syscall is driven with mutated input, and every case must end in Ok or Err.
//!
//! Deterministic (a fixed-seed PRNG, no dependency), no root, nothing created on the
//! host. Seeds are the configs engines and `berth spec` write; each case applies a few
//! mutations (type changes, edge numbers, hostile strings and paths, deep nesting,
//! removed, duplicated and transplanted entries, broken bytes) and runs the result
//! through the loader, validation and every pure stage after it. Every case runs under
//! `catch_unwind`; a panic is reported with its seed, case number, mutations, stage,
//! location and input. `BERTH_ROBUST_CASES` scales the number of cases per seed
//! (default 400; the suite then takes a few seconds of CPU in debug).
//!
//! Besides whole configs: single fields with edge values (signals, sizes, intervals,
//! users, ids, cpu lists, sysctls, kernel text parsers), random argv for every verb
//! (clap, then each verb's checks before it touches --root), random seccomp profiles
//! (the rule tree) and random `linux.resources` (what `update -r` plans unvalidated).
//! `BERTH_ROBUST_WHY=1` prints why each rejected case was rejected, to tune reach.

use berth::cgroups::{self, bpf as dev_bpf, devices, resources, Layout};
use berth::cli::{Cli, Command, ExecArgs};
use berth::runtime::{events, exec, kill, update};
use berth::seccomp::{self, bpf::SeccompData};
use berth::spec::{load, mounts, validate};
use clap::Parser;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Process, Spec};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

include!("data/containers_profile.rs");

// ---------------------------------------------------------------- harness

/// splitmix64: small, good enough, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

thread_local! {
    /// The stage running and the last panic's location and message, for the report.
    static STAGE: RefCell<&'static str> = const { RefCell::new("") };
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Cases that parsed, and that also passed validation (printed, to show the
    /// mutations reach past the loader).
    static REACHED: RefCell<(usize, usize)> = const { RefCell::new((0, 0)) };
}

fn stage(name: &'static str) {
    STAGE.with(|s| *s.borrow_mut() = name);
}

/// A panic hook that records instead of printing (the cases are expected to panic only
/// when something is wrong, and then the report says it once, with the input).
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let recording = PANIC.with(|p| {
                let loc = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                *p.borrow_mut() = Some(format!("{loc}: {msg}"));
                STAGE.with(|s| !s.borrow().is_empty())
            });
            if !recording {
                default(info);
            }
        }));
    });
}

#[derive(Default)]
struct Report {
    cases: usize,
    failures: Vec<String>,
    /// Panic locations already reported (one entry per distinct bug).
    seen: Vec<String>,
}

impl Report {
    /// Run `f` as one case; a panic is recorded with `describe()`.
    fn case(&mut self, describe: impl FnOnce() -> String, f: impl FnOnce()) {
        self.cases += 1;
        stage("start");
        let r = catch_unwind(AssertUnwindSafe(f));
        let where_ = STAGE.with(|s| *s.borrow());
        stage("");
        if r.is_err() {
            let msg = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            let loc = msg.split(": ").next().unwrap_or("").to_string();
            if !self.seen.contains(&loc) {
                self.seen.push(loc);
                let mut d = describe();
                if d.len() > 1500 {
                    let mut cut = 1500;
                    while !d.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    d.truncate(cut);
                    d.push_str("...");
                }
                self.failures
                    .push(format!("stage {where_}: panic at {msg}\n    input: {d}"));
            }
        }
    }

    fn finish(self, what: &str) {
        eprintln!("{what}: {} cases", self.cases);
        assert!(
            self.failures.is_empty(),
            "{what}: {} distinct panic(s) in {} cases:\n{}",
            self.failures.len(),
            self.cases,
            self.failures.join("\n")
        );
    }
}

fn cases_per_seed(default: usize) -> usize {
    std::env::var("BERTH_ROBUST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------- seeds

const DEFAULT_CAPS: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

fn caps_json() -> Value {
    json!({"bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS, "permitted": DEFAULT_CAPS})
}

fn common_mounts() -> Value {
    json!([
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/x/hosts",
         "options": ["rbind", "rprivate", "ro"]},
        {"destination": "/data", "type": "bind", "source": "/srv/data",
         "options": ["bind", "rshared", "rro", "rnosuid", "rnoatime"]}
    ])
}

/// podman (ENGINES.md): netns by path, cgroup mount, tmpcopyup, umask, sysctl, pids
/// limit, the containers/common seccomp profile, rootfsPropagation.
fn podman() -> Value {
    let mut mounts = common_mounts();
    if let Some(a) = mounts.as_array_mut() {
        a.push(
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                      "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]}),
        );
        a.push(
            json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                      "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]}),
        );
    }
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 1, 2]},
            "args": ["/bin/sh", "-c", "echo hi"],
            "env": ["PATH=/usr/bin:/bin", "TERM=xterm", "container=podman", "HOSTNAME=x"],
            "cwd": "/",
            "capabilities": caps_json(),
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576},
                        {"type": "RLIMIT_NPROC", "hard": 4194304, "soft": 4194304}],
            "oomScoreAdj": 0
        },
        "root": {"path": "/var/lib/containers/storage/overlay/abc/merged"},
        "hostname": "abc",
        "mounts": mounts,
        "annotations": {"io.podman.annotations.autoremove": "FALSE"},
        "linux": {
            "sysctl": {"net.ipv4.ping_group_range": "0 0"},
            "resources": {"pids": {"limit": 2048},
                          "devices": [{"allow": false, "access": "rwm"}]},
            "cgroupsPath": "machine.slice:libpod:abc",
            "namespaces": [
                {"type": "pid"},
                {"type": "network", "path": "/run/netns/netns-1234"},
                {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "seccomp": containers_profile(&DEFAULT_CAPS),
            "rootfsPropagation": "private",
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Docker (ENGINES.md): a prestart hook, oomScoreAdj, zero-means-unset resources,
/// disableOOMKiller, sysctls, a netns joined by path.
fn docker() -> Value {
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "user": {"uid": 1000, "gid": 1000},
            "args": ["nginx", "-g", "daemon off;"],
            "env": ["PATH=/usr/bin", "NGINX_VERSION=1.25"],
            "cwd": "/srv",
            "capabilities": caps_json(),
            "apparmorProfile": "docker-default",
            "oomScoreAdj": 500,
            "noNewPrivileges": false
        },
        "root": {"path": "/var/lib/docker/overlay2/x/merged"},
        "hostname": "c0ffee",
        "mounts": common_mounts(),
        "hooks": {"prestart": [{"path": "/usr/bin/dockerd",
                                 "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "abc", "def"],
                                 "timeout": 10}]},
        "linux": {
            "sysctl": {"net.ipv4.ip_unprivileged_port_start": "0",
                       "net.ipv4.ping_group_range": "0 2147483647"},
            "resources": {
                "devices": [{"allow": false, "access": "rwm"},
                            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                            {"allow": true, "type": "c", "major": 136, "access": "rwm"}],
                "memory": {"limit": 536870912, "reservation": 0, "swap": 1073741824,
                           "disableOOMKiller": true, "swappiness": 18446744073709551615u64},
                "cpu": {"shares": 0, "quota": 50000, "period": 100000,
                        "cpus": "0-1", "mems": "0"},
                "blockIO": {"weight": 0},
                "pids": {"limit": 0}
            },
            "cgroupsPath": "/docker/c0ffee",
            "namespaces": [{"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"},
                           {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}],
            "maskedPaths": ["/proc/kcore", "/proc/timer_list"],
            "readonlyPaths": ["/proc/bus", "/proc/fs"]
        }
    })
}

/// containerd (ENGINES.md): relative root.path, no env, noNewPrivileges, an explicit
/// device allow-list, seccomp with MASKED_EQ.
fn containerd() -> Value {
    json!({
        "ociVersion": "1.1.0",
        "process": {
            "user": {"uid": 0, "gid": 0},
            "args": ["/pause"],
            "cwd": "/",
            "capabilities": caps_json(),
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "mounts": common_mounts(),
        "linux": {
            "resources": {"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
                {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}
            ]},
            "cgroupsPath": "/k8s.io/pause",
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                           {"type": "mount"}, {"type": "network"}],
            "seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0,
                               "op": "SCMP_CMP_MASKED_EQ"}]}
                ]
            }
        }
    })
}

/// Every field the pure stages look at, so that mutations can reach each branch.
fn kitchen_sink() -> Value {
    json!({
        "ociVersion": "1.3.0",
        "process": {
            "terminal": true,
            "consoleSize": {"height": 24, "width": 80},
            "user": {"uid": 1, "gid": 2, "umask": 63, "additionalGids": [3, 4]},
            "args": ["sh", "-c", "true"],
            "env": ["PATH=/bin", "A=b", "LISTEN_FDS=2"],
            "cwd": "/tmp",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                             "permitted": ["CAP_KILL"], "inheritable": [],
                             "ambient": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
                        {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
            "noNewPrivileges": true,
            "oomScoreAdj": -1000,
            "scheduler": {"policy": "SCHED_DEADLINE", "nice": 0, "priority": 0,
                          "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN"],
                          "runtime": 100000, "deadline": 200000, "period": 300000},
            "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
            "execCPUAffinity": {"initial": "0", "final": "0-3,7"}
        },
        "root": {"path": "rootfs"},
        "hostname": "h",
        "domainname": "d",
        "mounts": common_mounts(),
        "hooks": {
            "createRuntime": [{"path": "/bin/true", "args": ["true"], "env": ["A=1"], "timeout": 5}],
            "poststart": [{"path": "/bin/true"}],
            "poststop": [{"path": "/bin/true", "timeout": 1}]
        },
        "annotations": {"a": "b"},
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "timeOffsets": {"monotonic": {"secs": 1, "nanosecs": 2},
                            "boottime": {"secs": -3, "nanosecs": 4}},
            "sysctl": {"kernel.shmmax": "4096", "net.core.somaxconn": "128",
                       "kernel.domainname": "d"},
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                         "fileMode": 438, "uid": 0, "gid": 0},
                        {"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0},
                        {"path": "/dev/fifo", "type": "p"}],
            "resources": {
                "devices": [{"allow": false, "access": "rwm"},
                            {"allow": true, "type": "b", "major": 7, "minor": -1, "access": "r"},
                            {"allow": true, "type": "a", "access": "m"}],
                "memory": {"limit": 1000000, "reservation": 500000, "swap": 2000000,
                           "kernel": 100, "kernelTCP": 200, "swappiness": 60,
                           "disableOOMKiller": false, "useHierarchy": true,
                           "checkBeforeUpdate": true},
                "cpu": {"shares": 1024, "quota": 50000, "burst": 1000, "period": 100000,
                        "realtimeRuntime": 950000, "realtimePeriod": 1000000,
                        "cpus": "0-3", "mems": "0", "idle": 1},
                "pids": {"limit": 100},
                "blockIO": {
                    "weight": 500, "leafWeight": 300,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 100}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                    "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2000}],
                    "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 10}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 20}]
                },
                "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200},
                                   {"pageSize": "1GB", "limit": 0}],
                "network": {"classID": 1048577,
                            "priorities": [{"name": "eth0", "priority": 500}]},
                "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
                "unified": {"memory.high": "100000", "io.weight": "default 100"}
            },
            "cgroupsPath": "/berth-test/x",
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                           {"type": "uts"}, {"type": "mount"}, {"type": "user"},
                           {"type": "cgroup"}, {"type": "time"}],
            "seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "listenerPath": "/run/agent.sock", "listenerMetadata": "m",
                "syscalls": [
                    {"names": ["openat"], "action": "SCMP_ACT_NOTIFY"},
                    {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
                     "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
                              {"index": 0, "value": 1, "op": "SCMP_CMP_GT"}]},
                    {"names": ["ioctl"], "action": "SCMP_ACT_TRACE",
                     "args": [{"index": 1, "value": 21505, "op": "SCMP_CMP_LE"}]},
                    {"names": ["mmap"], "action": "SCMP_ACT_LOG",
                     "args": [{"index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"},
                              {"index": 5, "value": 0, "op": "SCMP_CMP_NE"}]},
                    {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
                    {"names": ["uname"], "action": "SCMP_ACT_TRAP",
                     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_GE"},
                              {"index": 0, "value": 18446744073709551615u64, "op": "SCMP_CMP_LT"}]}
                ]
            },
            "rootfsPropagation": "rslave",
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"],
            "personality": {"domain": "LINUX32", "flags": []},
            "mountLabel": ""
        }
    })
}

fn seeds() -> Vec<(&'static str, Value)> {
    vec![
        ("berth spec", berth::spec::defaults::default_spec(None)),
        (
            "berth spec --rootless",
            berth::spec::defaults::default_spec(Some((1000, 1000))),
        ),
        ("podman", podman()),
        ("docker", docker()),
        ("containerd", containerd()),
        ("kitchen sink", kitchen_sink()),
    ]
}

// ---------------------------------------------------------------- mutations

fn long(n: usize, c: char) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn interesting_strings() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "\0",
        "a\0b",
        "/\0",
        "..",
        ".",
        "/..",
        "/../..",
        "../../etc/passwd",
        "a/b",
        "relative",
        "/",
        "//",
        "/proc/self/fd/0",
        "-1",
        "0",
        "1",
        "-",
        "+",
        "max",
        "default",
        "9223372036854775808",
        "18446744073709551616",
        "-9223372036854775809",
        "0-18446744073709551615",
        "4294967295-0",
        "1-",
        "-1-2",
        ",",
        ",,",
        "0,",
        "a=b",
        "=",
        "=x",
        "NAME",
        "ü",
        "😀",
        "\u{202e}",
        "\u{fffd}",
        "\n",
        "a\nb",
        "\t",
        "%s%n",
        "\\",
        "\\777",
        "\\0",
        "SIG",
        "RTMIN+",
        "RTMAX-",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "CAP_",
        "CAP_SYS_ADMIN",
        "RLIMIT_NOFILE",
        "rbind",
        "rro",
        "ridmap",
        "tmpcopyup",
        "kernel.",
        "net..x",
        "net/ipv4/ip_forward",
        "c",
        "b",
        "a",
        "p",
        "u",
        "rwm",
        "z",
        "2MB",
        "0KB",
        "18446744073709551615GB",
        "1.3.0",
        "2.0.0",
        "1.0",
        "01.0.0",
        "1.0.0-",
        "1.0.0+",
        "L3:0=ff",
        "slice:prefix:name",
        "a:b:c:d",
        ":::",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(long(5000, 'a'));
    v.push(long(70000, 'x'));
    v.push(long(300, '/'));
    v.push(format!("/{}", ["a"; 2000].join("/")));
    v.push(long(1000, '😀'));
    v
}

fn interesting_numbers() -> Vec<Value> {
    vec![
        json!(0),
        json!(1),
        json!(-1),
        json!(2),
        json!(-2),
        json!(7),
        json!(255),
        json!(256),
        json!(4095),
        json!(4096),
        json!(65535),
        json!(65536),
        json!(1048575),
        json!(1048576),
        json!(i32::MAX),
        json!(i32::MIN),
        json!(i32::MAX as i64 + 1),
        json!(u32::MAX),
        json!(u32::MAX as u64 + 1),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(u64::MAX - 1),
        json!(1u64 << 63),
        json!(0.5),
        json!(-0.0),
        json!(1e300),
        json!(-1e300),
    ]
}

fn scalar(rng: &mut Rng, strings: &[String], numbers: &[Value]) -> Value {
    match rng.below(6) {
        0 | 1 => Value::from(rng.pick(strings).clone()),
        2 | 3 => rng.pick(numbers).clone(),
        4 => Value::Bool(rng.chance(2)),
        _ => Value::Null,
    }
}

fn nested(rng: &mut Rng, depth: usize) -> Value {
    let mut v = Value::from(1);
    for _ in 0..depth {
        v = if rng.chance(2) {
            Value::Array(vec![v])
        } else {
            json!({ "a": v })
        };
    }
    v
}

/// A JSON pointer to a node of `v`, found by a random walk down from the root (each
/// level is as likely as the next, so the few hundred syscall names of a seccomp
/// profile do not crowd out everything else).
fn random_pointer(rng: &mut Rng, v: &Value) -> String {
    let mut at = String::new();
    let mut node = v;
    loop {
        let next = match node {
            // The root itself is never picked: a config that is not an object has
            // been tested once, in `edge_values_of_single_fields_never_panic`.
            Value::Array(a) if !a.is_empty() && (at.is_empty() || !rng.chance(4)) => {
                let i = rng.below(a.len());
                at = format!("{at}/{i}");
                &a[i]
            }
            Value::Object(o) if !o.is_empty() && (at.is_empty() || !rng.chance(4)) => {
                let Some((k, x)) = o.iter().nth(rng.below(o.len())) else {
                    return at;
                };
                at = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                x
            }
            _ => return at,
        };
        node = next;
    }
}

fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                if !out.contains(k) {
                    out.push(k.clone());
                }
                keys(x, out);
            }
        }
        _ => {}
    }
}

struct Pools {
    strings: Vec<String>,
    numbers: Vec<Value>,
    keys: Vec<String>,
}

fn mutate_string(rng: &mut Rng, s: &str, pools: &Pools) -> String {
    match rng.below(9) {
        0 => format!("{s}\0"),
        1 => format!("/../..{s}"),
        2 => s.repeat(2 + rng.below(50)),
        3 => s.chars().take(rng.below(s.chars().count() + 1)).collect(),
        4 => format!("{s}{}", rng.pick(&pools.strings)),
        5 => format!("{}{s}", rng.pick(&pools.strings)),
        6 => s.to_uppercase(),
        7 => s.replace('/', "/../"),
        _ => format!("{s}😀"),
    }
}

/// One mutation of `v`; returns what it did.
fn mutate(rng: &mut Rng, v: &mut Value, pools: &Pools) -> String {
    let p = random_pointer(rng, v);
    // A second node, for transplants.
    let q = random_pointer(rng, v);
    let other = v.pointer(&q).cloned().unwrap_or(Value::Null);
    let Some(node) = v.pointer_mut(&p) else {
        return "none".into();
    };
    // Mostly mutations that keep the JSON type, so that the typed parse accepts the
    // case and the later stages see it; one in four changes the shape.
    let kind = if rng.chance(4) {
        rng.below(12)
    } else {
        2 + rng.below(4)
    };
    let what = match (kind, &mut *node) {
        (0 | 1, _) => {
            *node = scalar(rng, &pools.strings, &pools.numbers);
            "replace"
        }
        (2, Value::Number(_)) | (3, Value::Number(_)) => {
            *node = rng.pick(&pools.numbers).clone();
            "edge number"
        }
        (2 | 3, Value::String(s)) => {
            *s = mutate_string(rng, s, pools);
            "string"
        }
        (2 | 3, Value::Bool(b)) => {
            *b = !*b;
            "bool"
        }
        (4 | 5, Value::Array(a)) => {
            match rng.below(5) {
                0 if !a.is_empty() => {
                    let i = rng.below(a.len());
                    a.remove(i);
                }
                1 if !a.is_empty() => {
                    let i = rng.below(a.len());
                    let x = a[i].clone();
                    for _ in 0..1 + rng.below(3) {
                        a.insert(i, x.clone());
                    }
                }
                2 => a.clear(),
                3 => a.push(other),
                _ => a.push(scalar(rng, &pools.strings, &pools.numbers)),
            }
            "array"
        }
        (4 | 5, Value::Object(o)) => {
            match rng.below(4) {
                0 if !o.is_empty() => {
                    let k = o
                        .keys()
                        .nth(rng.below(o.len()))
                        .cloned()
                        .unwrap_or_default();
                    o.remove(&k);
                }
                1 => {
                    let k = rng.pick(&pools.keys).clone();
                    o.insert(k, other);
                }
                2 => {
                    let k = rng.pick(&pools.keys).clone();
                    o.insert(k, scalar(rng, &pools.strings, &pools.numbers));
                }
                _ => {
                    o.insert(
                        rng.pick(&pools.strings).clone(),
                        scalar(rng, &pools.strings, &pools.numbers),
                    );
                }
            }
            "object"
        }
        (6, _) => {
            *node = match node.take() {
                Value::Number(n) => Value::String(n.to_string()),
                Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
                x @ (Value::Array(_) | Value::Object(_)) => Value::Array(vec![x]),
                x => json!({ "value": x }),
            };
            "type change"
        }
        (7, _) => {
            let depth = *rng.pick(&[2, 8, 64, 126, 127, 128, 129, 200, 400]);
            *node = nested(rng, depth);
            "deep nesting"
        }
        (8, _) => {
            *node = other;
            "transplant"
        }
        (9, Value::Array(a)) if !a.is_empty() => {
            // Many entries: duplicated up to a few thousand.
            let x = a[0].clone();
            let n = *rng.pick(&[100, 1000, 5000]);
            a.extend(std::iter::repeat_n(x, n));
            "many entries"
        }
        (_, Value::String(s)) => {
            *s = rng.pick(&pools.strings).clone();
            "string"
        }
        (_, Value::Number(_)) => {
            *node = rng.pick(&pools.numbers).clone();
            "edge number"
        }
        _ => {
            *node = scalar(rng, &pools.strings, &pools.numbers);
            "replace"
        }
    };
    format!("{what} at {p:?}")
}

/// Damage the serialized bytes now and then (truncation, stray bytes, invalid UTF-8,
/// duplicated keys).
fn mutate_bytes(rng: &mut Rng, b: &mut Vec<u8>) -> Option<String> {
    if !rng.chance(16) || b.is_empty() {
        return None;
    }
    let i = rng.below(b.len());
    Some(match rng.below(5) {
        0 => {
            b.truncate(i);
            format!("truncated at {i}")
        }
        1 => {
            b[i] = 0xff;
            format!("byte {i} = 0xff")
        }
        2 => {
            b.insert(i, 0);
            format!("NUL inserted at {i}")
        }
        3 => {
            // A duplicated key at the top level.
            let dup = br#""ociVersion":"1.0.0","#;
            if let Some(p) = b.iter().position(|&c| c == b'{') {
                b.splice(p + 1..p + 1, dup.iter().copied());
            }
            "duplicated ociVersion".into()
        }
        _ => {
            b.insert(i, *rng.pick(b"{}[]\",:\\"));
            format!("stray byte at {i}")
        }
    })
}

// ---------------------------------------------------------------- the pure pipeline

fn v1_layout() -> Layout {
    Layout::parse_mountinfo(
        "30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
         31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
         32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
         33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
    )
}

fn v2_layout() -> Layout {
    Layout::parse_mountinfo("31 24 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n")
}

const NAMESPACE_TYPES: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Time,
];

fn exec_args(command: Vec<String>, user: Option<String>, cap: Vec<String>) -> ExecArgs {
    ExecArgs {
        process: None,
        tty: false,
        cwd: Some("/".into()),
        env: vec!["A=b".into(), "=x".into(), "NOEQ".into()],
        user,
        additional_gids: vec![0, u32::MAX],
        cap,
        no_new_privs: true,
        apparmor: None,
        process_label: None,
        detach: false,
        pid_file: None,
        console_socket: None,
        preserve_fds: 0,
        cgroup: None,
        ignore_paused: false,
        id: "x".into(),
        command,
    }
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n\
                      bad\n::\nbig:x:99999999999:1\nu:x:-1:-1:::\n";
const GROUP: &str = "root:x:0:\nwheel:x:10:a,b\n:\nbig:x:4294967296:\n";

fn resources_stages(res: &LinuxResources) {
    stage("cgroups::resources::plan_v1");
    let _ = resources::plan_v1(res);
    stage("cgroups::resources::plan_v2");
    let _ = resources::plan_v2(res);
    stage("cgroups::resources::plan (hybrid)");
    let _ = resources::plan(res, &v1_layout());
    stage("cgroups::resources::plan (v2)");
    let _ = resources::plan(res, &v2_layout());
}

/// Every pure stage a spec meets on the way to the first syscall of `create` (and the
/// pure parts of the init's and exec's work on it). Runs the later stages even when
/// validation fails: `update` and `exec` reach some of them with unvalidated input.
fn spec_stages(spec: &Spec) {
    stage("spec::validate");
    let valid = validate::validate(spec).is_ok();
    REACHED.with(|r| {
        let mut r = r.borrow_mut();
        r.0 += 1;
        r.1 += usize::from(valid);
    });
    stage("serialize");
    let _ = serde_json::to_vec(spec);
    stage("namespaces");
    for t in NAMESPACE_TYPES {
        let _ = validate::ns_mode(spec, t);
        let _ = validate::namespace_name(t);
        let _ = berth::init::intermediate::clone_flag(t);
    }
    if let Some(root) = spec.root() {
        stage("root path");
        let _ = Path::new("/bundle").join(root.path());
    }
    for m in spec.mounts().iter().flatten() {
        stage("spec::mounts::parse_options");
        let _ = mounts::parse_options(m.options().as_deref().unwrap_or(&[]));
        stage("spec::mounts::absolute_destination");
        let _ = mounts::absolute_destination(m.destination());
    }
    if let Some(p) = spec.process() {
        stage("init::process::cap_plan");
        let _ = berth::init::process::cap_plan(p.capabilities().as_ref());
        stage("init::process::environment");
        let env = berth::init::process::environment(p, Some("/root".into()));
        stage("init::process::cstrings");
        let _ = berth::init::process::cstrings(&env, "process.env");
        let _ = berth::init::process::cstrings(p.args().as_deref().unwrap_or(&[]), "process.args");
        stage("init::process::rlimit_resource");
        for r in p.rlimits().iter().flatten() {
            let _ = berth::init::process::rlimit_resource(r.typ());
        }
        if let Some(a) = p.exec_cpu_affinity() {
            stage("spec::validate::parse_cpu_list");
            for l in [a.initial(), a.cpu_affinity_final()].into_iter().flatten() {
                let _ = validate::parse_cpu_list(l);
            }
        }
        stage("runtime::exec::build_process (base from config)");
        let a = exec_args(
            vec!["sh".into()],
            Some("root:wheel".into()),
            vec!["CAP_KILL".into()],
        );
        let _ = exec::build_process(Some(p), &a, None, (PASSWD, GROUP));
    }
    let Some(linux) = spec.linux() else {
        return;
    };
    stage("cgroups::container_path");
    let _ = cgroups::container_path(linux.cgroups_path().as_deref(), "c1");
    if let Some(p) = linux.rootfs_propagation() {
        stage("spec::mounts::propagation_flags");
        let _ = mounts::propagation_flags(p);
    }
    if let Some(sysctl) = linux.sysctl() {
        let ns = validate::SysctlNamespaces::of(spec);
        for (k, v) in sysctl {
            stage("sysctl");
            let _ = validate::sysctl_dotted(k);
            let _ = validate::sysctl_proc_path(k);
            let _ = validate::sysctl_allowed(k, ns);
            let _ = validate::sysctl_value_ok(v);
        }
    }
    if let Some(sc) = linux.seccomp() {
        stage("seccomp::compile");
        if let Ok(f) = seccomp::compile(sc) {
            stage("seccomp::Filter::evaluate");
            for (nr, arch) in [
                (0u32, 0xc000_003e_u32),
                (2, 0xc000_003e),
                (101, 0xc000_003e),
                (0x4000_0000, 0xc000_003e),
                (u32::MAX, 0xc000_003e),
                (5, 0x4000_0003),
                (0, 0),
            ] {
                let data = SeccompData {
                    nr,
                    arch,
                    instruction_pointer: 0,
                    args: [u64::MAX, 0, 9, 1 << 32, 4, 0],
                };
                let _ = f.evaluate(&data);
            }
            stage("seccomp::bpf bytes");
            let bytes = seccomp::bpf::to_bytes(&f.program);
            let _ = seccomp::bpf::from_bytes(&bytes);
        }
    }
    let res = linux.resources().as_ref();
    if let Some(res) = res {
        resources_stages(res);
    }
    stage("cgroups::devices::rules");
    let rules = devices::rules(
        res.and_then(|r| r.devices().as_deref()).unwrap_or(&[]),
        linux.devices().as_deref().unwrap_or(&[]),
    );
    stage("cgroups::devices::v1_writes");
    let _ = devices::v1_writes(&rules);
    stage("cgroups::bpf::device_program");
    let _ = dev_bpf::to_bytes(&dev_bpf::device_program(&rules));
}

/// One config case: bytes through the loader, then every stage after it; the parts of
/// the value that `update -r` and `exec --process` read go in unvalidated.
fn config_case(v: &Value, bytes: &[u8]) {
    stage("spec::load::parse_spec");
    match load::parse_spec(bytes) {
        Ok(spec) => spec_stages(&spec),
        Err(e) => {
            if std::env::var_os("BERTH_ROBUST_WHY").is_some() {
                eprintln!("WHY {e}");
            }
        }
    }
    if let Some(r) = v.pointer("/linux/resources") {
        stage("update: LinuxResources from JSON");
        if let Ok(res) = serde_json::from_value::<LinuxResources>(r.clone()) {
            resources_stages(&res);
        }
    }
    if let Some(p) = v.get("process") {
        stage("runtime::exec::build_process (--process)");
        let file = serde_json::to_vec(p).unwrap_or_default();
        let a = exec_args(vec![], None, vec![]);
        let base = serde_json::from_value::<Process>(p.clone()).ok();
        let _ = exec::build_process(base.as_ref(), &a, Some(&file), (PASSWD, GROUP));
    }
}

#[test]
fn mutated_configs_never_panic() {
    quiet_panics();
    let per_seed = cases_per_seed(400);
    let seeds = seeds();
    let mut pools = Pools {
        strings: interesting_strings(),
        numbers: interesting_numbers(),
        keys: Vec::new(),
    };
    for (_, s) in &seeds {
        keys(s, &mut pools.keys);
    }
    pools.keys.push("unknownField".into());
    let mut report = Report::default();
    for (si, (name, seed)) in seeds.iter().enumerate() {
        // The seeds themselves first.
        let bytes = serde_json::to_vec(seed).unwrap_or_default();
        report.case(
            || format!("seed {name} as is"),
            || config_case(seed, &bytes),
        );
        let before = REACHED.with(|r| *r.borrow());
        let mut rng = Rng(0xb0a7 ^ (si as u64) << 32);
        for n in 0..per_seed {
            let mut v = seed.clone();
            let mut what = Vec::new();
            let count = if rng.chance(2) { 1 } else { 2 + rng.below(3) };
            for _ in 0..count {
                what.push(mutate(&mut rng, &mut v, &pools));
            }
            let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
            what.extend(mutate_bytes(&mut rng, &mut bytes));
            report.case(
                || {
                    format!(
                        "seed {name}, case {n}, mutations {what:?}: {}",
                        String::from_utf8_lossy(&bytes)
                    )
                },
                || config_case(&v, &bytes),
            );
        }
        let after = REACHED.with(|r| *r.borrow());
        eprintln!(
            "  seed {name}: {per_seed} cases, {} parsed, {} valid",
            after.0 - before.0,
            after.1 - before.1
        );
    }
    let (parsed, valid) = REACHED.with(|r| *r.borrow());
    eprintln!("mutated configs: {parsed} parsed, {valid} of them valid");
    report.finish("mutated configs");
}

/// Hand-picked edge inputs for the stages whose input is not a whole config.
#[test]
fn edge_values_of_single_fields_never_panic() {
    quiet_panics();
    let strings = interesting_strings();
    let mut report = Report::default();
    let mut extra: Vec<String> = vec![
        "RTMIN+2147483647".into(),
        "RTMAX-2147483647".into(),
        "RTMAX--2147483648".into(),
        "RTMIN+-5".into(),
        "SIGRTMIN+99999999999".into(),
        "18446744073709551615m".into(),
        "9223372036854775807k".into(),
        "99999999999999999999".into(),
        "307445734561825861m".into(),
        "18446744073709551615".into(),
        "0ms".into(),
        "1b".into(),
        "kb".into(),
        "b".into(),
        "99999999999999999999999t".into(),
        "0:0".into(),
        "4294967296:1".into(),
        ":".into(),
        "root:".into(),
        "big:big".into(),
        "u".into(),
    ];
    extra.extend(strings.iter().cloned());
    for s in &extra {
        report.case(
            || format!("{s:?}"),
            || {
                stage("runtime::kill::parse_signal");
                let _ = kill::parse_signal(s);
                stage("runtime::update::parse_size");
                let _ = update::parse_size(s);
                stage("runtime::events::parse_interval");
                let _ = events::parse_interval(s);
                stage("runtime::exec::parse_user");
                let _ = exec::parse_user(s, PASSWD, GROUP);
                let _ = exec::parse_user("x", s, s);
                stage("id::ContainerId::parse");
                let _ = berth::id::ContainerId::parse(s);
                stage("cgroups::container_path");
                let _ = cgroups::container_path(Some(Path::new(s)), s);
                stage("spec::load::check_oci_version");
                let _ = load::check_oci_version(s);
                stage("spec::mounts::parse_options");
                let _ = mounts::parse_options(std::slice::from_ref(s));
                stage("spec::validate::parse_cpu_list");
                let _ = validate::parse_cpu_list(s);
                stage("sysctl");
                let _ = validate::sysctl_proc_path(s);
                let _ = validate::sysctl_allowed(s, validate::SysctlNamespaces::default());
                let _ = validate::sysctl_value_ok(s);
                stage("runtime::exec::build_process --user/--cap/--env");
                let mut a = exec_args(vec![s.clone()], Some(s.clone()), vec![s.clone()]);
                a.env.push(s.clone());
                let _ = exec::build_process(None, &a, None, (PASSWD, GROUP));
                let _ = exec::build_process(None, &a, Some(s.as_bytes()), (s, s));
                stage("parsers of kernel text");
                let _ = cgroups::unescape_mountinfo(s);
                let _ = Layout::parse_mountinfo(s);
                let _ = cgroups::ops::parse_flat_keyed(s);
                let _ = berth::runtime::ps::filter_ps(s, &[1]);
                let _ = berth::init::parent::parse_stat(s);
                if let Some(prog) = seccomp::bpf::from_bytes(s.as_bytes()) {
                    let data = SeccompData {
                        nr: 0,
                        arch: 0xc000_003e,
                        instruction_pointer: 0,
                        args: [0; 6],
                    };
                    let _ = seccomp::bpf::evaluate(&prog, &data);
                }
                stage("spec::load::parse_spec");
                let _ = load::parse_spec(s.as_bytes());
            },
        );
    }
    // Numbers where they are taken as numbers.
    for n in [0i64, 1, -1, 2, i64::MAX, i64::MIN, 1 << 31, 1 << 32] {
        report.case(
            || format!("{n}"),
            || {
                stage("state::rfc3339");
                let _ = berth::state::rfc3339(n, u32::MAX);
                stage("cgroups::resources conversions");
                let _ = resources::shares_to_weight(n as u64);
                let _ = resources::blkio_weight_to_io_weight(n as u16);
                stage("runtime::create::first_unpassed_fd");
                let _ = berth::init::first_unpassed_fd(n as u32, (n >> 1) as u32);
            },
        );
    }
    report.finish("single fields");
}

// ---------------------------------------------------------------- the command line

const VERBS: [&str; 16] = [
    "create", "start", "run", "state", "kill", "delete", "list", "exec", "update", "pause",
    "resume", "ps", "events", "features", "spec", "ls",
];

const FLAGS: [&str; 48] = [
    "--root",
    "--log",
    "--log-format",
    "--debug",
    "--systemd-cgroup",
    "-v",
    "--version",
    "--bundle",
    "-b",
    "--pid-file",
    "--console-socket",
    "--no-pivot",
    "--no-new-keyring",
    "--preserve-fds",
    "--no-mount-fallback",
    "--detach",
    "-d",
    "--keep",
    "--all",
    "-a",
    "--force",
    "-f",
    "--format",
    "--quiet",
    "-q",
    "--process",
    "-p",
    "--tty",
    "-t",
    "--cwd",
    "--env",
    "-e",
    "--user",
    "-u",
    "--additional-gids",
    "-g",
    "--cap",
    "-c",
    "--no-new-privs",
    "--cgroup",
    "--ignore-paused",
    "--stats",
    "--interval",
    "-r",
    "--resources",
    "--rootless",
    "--",
    "--help",
];

const UPDATE_FLAGS: [&str; 15] = [
    "--blkio-weight",
    "--cpu-period",
    "--cpu-quota",
    "--cpu-share",
    "--cpu-rt-period",
    "--cpu-rt-runtime",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--kernel-memory",
    "--kernel-memory-tcp",
    "--memory",
    "--memory-reservation",
    "--memory-swap",
    "--pids-limit",
    "--interval",
];

/// The pure parts of a parsed command line: what each verb checks before it touches
/// --root, the bundle or any process. Nothing here creates or signals anything.
fn cli_pure_parts(cli: &Cli) {
    let Some(cmd) = &cli.command else {
        return;
    };
    let id = |s: &str| {
        stage("id::ContainerId::parse");
        let _ = berth::id::ContainerId::parse(s);
    };
    match cmd {
        Command::Create(a) => {
            id(&a.id);
            stage("runtime::create::first_unpassed_fd");
            let _ = berth::init::first_unpassed_fd(a.preserve_fds, u32::MAX);
        }
        Command::Run(a) => {
            id(&a.create.id);
            stage("runtime::create::first_unpassed_fd");
            let _ = berth::init::first_unpassed_fd(a.create.preserve_fds, 1);
        }
        Command::Kill { id: i, signal, .. } => {
            id(i);
            stage("runtime::kill::parse_signal");
            let _ = kill::parse_signal(signal);
        }
        Command::Exec(a) => {
            id(&a.id);
            stage("runtime::create::first_unpassed_fd");
            let _ = berth::init::first_unpassed_fd(a.preserve_fds, 0);
            stage("runtime::exec::build_process");
            let base = serde_json::from_value::<Spec>(berth::spec::defaults::default_spec(None))
                .ok()
                .and_then(|s| s.process().clone());
            let _ = exec::build_process(base.as_ref(), a, None, (PASSWD, GROUP));
            let _ = exec::build_process(None, a, None, ("", ""));
        }
        Command::Update(a) => {
            id(&a.id);
            stage("runtime::update::flags_to_json");
            if let Ok(v) = update::flags_to_json(a) {
                stage("update: LinuxResources from flags");
                if let Ok(res) = serde_json::from_value::<LinuxResources>(v) {
                    resources_stages(&res);
                }
            }
        }
        Command::Events {
            id: i, interval, ..
        } => {
            id(i);
            stage("runtime::events::parse_interval");
            let _ = events::parse_interval(interval);
        }
        Command::Start { id: i }
        | Command::State { id: i }
        | Command::Delete { id: i, .. }
        | Command::Pause { id: i }
        | Command::Resume { id: i }
        | Command::Ps { id: i, .. } => id(i),
        Command::List { .. } | Command::Features | Command::Spec { .. } => {}
    }
}

#[test]
fn random_command_lines_never_panic() {
    quiet_panics();
    let strings = interesting_strings();
    let numbers: Vec<String> = interesting_numbers()
        .iter()
        .map(|n| n.to_string())
        .chain(
            [
                "1k",
                "-1",
                "5s",
                "500ms",
                "2562047788015216m",
                "1g",
                "RTMIN+3",
            ]
            .map(String::from),
        )
        .collect();
    let mut rng = Rng(0xc11);
    let mut report = Report::default();
    let n = cases_per_seed(300) * 10;
    for case in 0..n {
        let mut argv: Vec<String> = vec!["berth".into()];
        if rng.chance(3) {
            argv.push(rng.pick(&FLAGS[..7]).to_string());
            argv.push(rng.pick(&strings).clone());
        }
        if !rng.chance(20) {
            argv.push(rng.pick(&VERBS).to_string());
        }
        for _ in 0..rng.below(8) {
            match rng.below(5) {
                0 => argv.push(rng.pick(&FLAGS).to_string()),
                1 => {
                    argv.push(rng.pick(&UPDATE_FLAGS).to_string());
                    argv.push(rng.pick(&numbers).clone());
                }
                2 => argv.push(rng.pick(&numbers).clone()),
                3 => {
                    let f = rng.pick(&FLAGS);
                    argv.push(format!("{f}={}", rng.pick(&strings)));
                }
                _ => argv.push(rng.pick(&strings).clone()),
            }
        }
        if rng.chance(2) {
            argv.push("c1".into());
        }
        report.case(
            || format!("case {case}: {argv:?}"),
            || {
                stage("clap parse");
                if let Ok(cli) = Cli::try_parse_from(&argv) {
                    cli_pure_parts(&cli);
                }
            },
        );
    }
    // Bytes that are not UTF-8 where clap wants a String, and where it wants a path.
    {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0x66, 0xff, 0x00, 0x80]);
        for verb in VERBS {
            for argv in [
                vec![OsString::from("berth"), verb.into(), bad.clone()],
                vec![
                    "berth".into(),
                    verb.into(),
                    "--bundle".into(),
                    bad.clone(),
                    "c".into(),
                ],
                vec![
                    "berth".into(),
                    "--root".into(),
                    bad.clone(),
                    verb.into(),
                    "c".into(),
                ],
            ] {
                report.case(
                    || format!("{argv:?}"),
                    || {
                        stage("clap parse (non-UTF-8)");
                        if let Ok(cli) = Cli::try_parse_from(&argv) {
                            cli_pure_parts(&cli);
                        }
                    },
                );
            }
        }
    }
    report.finish("command lines");
}

#[test]
fn seeds_are_valid_configs() {
    for (name, seed) in seeds() {
        let bytes = serde_json::to_vec(&seed).unwrap_or_default();
        let spec = load::parse_spec(&bytes).unwrap_or_else(|e| panic!("seed {name}: {e}"));
        if let Err(e) = validate::validate(&spec) {
            panic!("seed {name}: {e}");
        }
    }
}

/// The seccomp compiler's rule tree (a port of libseccomp's) is the most intricate
/// code config.json reaches: random profiles over a few system calls, so that rules
/// on the same call meet, merge, conflict and nest.
#[test]
fn random_seccomp_profiles_never_panic() {
    quiet_panics();
    const NAMES: [&str; 10] = [
        "read",
        "write",
        "socket",
        "ipc",
        "clone",
        "kill",
        "personality",
        "mmap",
        "socketcall",
        "no_such_call",
    ];
    const ACTIONS: [&str; 9] = [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    ];
    const OPS: [&str; 7] = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    const ARCHES: [&str; 4] = [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
    ];
    const VALUES: [u64; 9] = [
        0,
        1,
        2,
        7,
        0xffff_ffff,
        1 << 32,
        (1 << 32) + 1,
        u64::MAX - 1,
        u64::MAX,
    ];
    let mut rng = Rng(0x5ecc);
    let mut report = Report::default();
    let compiled = std::cell::Cell::new(0usize);
    for case in 0..cases_per_seed(500) * 2 {
        let action = |rng: &mut Rng| {
            let a = *rng.pick(&ACTIONS);
            // Mostly valid errnoRet use, now and then not.
            let mut v = json!(a);
            let errno = (matches!(a, "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE") || rng.chance(40))
                && rng.chance(2);
            let e = errno.then(|| {
                if rng.chance(20) {
                    *rng.pick(&[0x10000u64, u64::MAX])
                } else {
                    *rng.pick(&[0u64, 1, 38, 0xffff])
                }
            });
            (std::mem::take(&mut v), e)
        };
        let (mut default, default_errno) = action(&mut rng);
        if default == "SCMP_ACT_NOTIFY" && !rng.chance(10) {
            default = json!("SCMP_ACT_ERRNO");
        }
        let mut syscalls = Vec::new();
        for _ in 0..1 + rng.below(12) {
            let names: Vec<&str> = (0..1 + rng.below(3)).map(|_| *rng.pick(&NAMES)).collect();
            let args: Vec<Value> = (0..rng.below(4))
                .map(|_| {
                    let mut a = json!({
                        "index": if rng.chance(40) { *rng.pick(&[6u64, u64::MAX]) } else { rng.below(6) as u64 },
                        "value": *rng.pick(&VALUES),
                        "op": *rng.pick(&OPS),
                    });
                    if rng.chance(2) {
                        a["valueTwo"] = json!(*rng.pick(&VALUES));
                    }
                    a
                })
                .collect();
            let (a, e) = action(&mut rng);
            let mut s = json!({"names": names, "action": a});
            if let Some(e) = e {
                s["errnoRet"] = json!(e);
            }
            if !args.is_empty() {
                s["args"] = Value::Array(args);
            }
            syscalls.push(s);
        }
        let archs: Vec<&str> = (0..rng.below(4)).map(|_| *rng.pick(&ARCHES)).collect();
        let mut profile = json!({
            "defaultAction": default,
            "architectures": archs,
            "syscalls": syscalls,
        });
        if let Some(e) = default_errno {
            profile["defaultErrnoRet"] = json!(e);
        }
        if !rng.chance(10) {
            profile["listenerPath"] = json!("/run/agent.sock");
        }
        if rng.chance(4) {
            profile["flags"] = json!([
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
            ]);
        }
        report.case(
            || format!("case {case}: {profile}"),
            || {
                stage("LinuxSeccomp from JSON");
                let Ok(sc) = serde_json::from_value(profile.clone()) else {
                    return;
                };
                stage("seccomp::compile");
                let f = match seccomp::compile(&sc) {
                    Ok(f) => f,
                    Err(e) => {
                        if std::env::var_os("BERTH_ROBUST_WHY").is_some() {
                            eprintln!("WHY {e}");
                        }
                        return;
                    }
                };
                compiled.set(compiled.get() + 1);
                stage("seccomp::Filter::evaluate");
                for nr in [0u32, 1, 41, 62, 56, 135, 9, 102, 117, 359, u32::MAX] {
                    for arch in [0xc000_003e_u32, 0x4000_0003] {
                        for args in [[0u64; 6], [1, 2, 7, 0xffff_ffff, 1 << 32, u64::MAX]] {
                            let data = SeccompData {
                                nr,
                                arch,
                                instruction_pointer: 0,
                                args,
                            };
                            let _ = f.evaluate(&data);
                        }
                    }
                }
            },
        );
    }
    eprintln!("seccomp profiles: {} compiled", compiled.get());
    report.finish("seccomp profiles");
}

/// `linux.resources` is what `update -r` passes to the planner without validation:
/// random values of the right JSON types in every field, through both planners.
#[test]
fn random_resources_never_panic() {
    quiet_panics();
    let strings = interesting_strings();
    const I64: [i64; 12] = [
        0,
        1,
        -1,
        -2,
        2,
        10,
        1000,
        4096,
        i64::MAX,
        i64::MIN,
        i64::MAX - 1,
        1 << 40,
    ];
    const U64: [u64; 10] = [
        0,
        1,
        2,
        10,
        100,
        1000,
        262_144,
        1 << 32,
        u64::MAX,
        u64::MAX - 1,
    ];
    let mut rng = Rng(0x2e5);
    let mut report = Report::default();
    for case in 0..cases_per_seed(500) * 2 {
        let mut r = serde_json::Map::new();
        let i = |rng: &mut Rng| json!(*rng.pick(&I64));
        let u = |rng: &mut Rng| json!(*rng.pick(&U64));
        let s = |rng: &mut Rng| json!(rng.pick(&strings).clone());
        let u16v = |rng: &mut Rng| json!(*rng.pick(&[0u16, 1, 9, 10, 500, 1000, 1001, u16::MAX]));
        let mut some = |rng: &mut Rng, key: &str, v: Value| {
            if rng.chance(2) {
                r.insert(key.into(), v);
            }
        };
        let memory = json!({
            "limit": i(&mut rng), "reservation": i(&mut rng), "swap": i(&mut rng),
            "kernel": i(&mut rng), "kernelTCP": i(&mut rng), "swappiness": u(&mut rng),
            "disableOOMKiller": rng.chance(2), "useHierarchy": rng.chance(2),
            "checkBeforeUpdate": rng.chance(2),
        });
        some(&mut rng, "memory", memory);
        let cpu = json!({
            "shares": u(&mut rng), "quota": i(&mut rng), "burst": u(&mut rng),
            "period": u(&mut rng), "realtimeRuntime": i(&mut rng),
            "realtimePeriod": u(&mut rng), "cpus": s(&mut rng), "mems": s(&mut rng),
            "idle": i(&mut rng),
        });
        some(&mut rng, "cpu", cpu);
        let pids = json!({"limit": i(&mut rng)});
        some(&mut rng, "pids", pids);
        let dev = |rng: &mut Rng| json!([{"major": *rng.pick(&I64), "minor": *rng.pick(&I64), "rate": *rng.pick(&U64)}]);
        let block = json!({
            "weight": u16v(&mut rng), "leafWeight": u16v(&mut rng),
            "weightDevice": [{"major": *rng.pick(&I64), "minor": *rng.pick(&I64),
                              "weight": u16v(&mut rng), "leafWeight": u16v(&mut rng)}],
            "throttleReadBpsDevice": dev(&mut rng),
            "throttleWriteBpsDevice": dev(&mut rng),
            "throttleReadIOPSDevice": dev(&mut rng),
            "throttleWriteIOPSDevice": dev(&mut rng),
        });
        some(&mut rng, "blockIO", block);
        let huge = json!([{"pageSize": s(&mut rng), "limit": u(&mut rng)},
                          {"pageSize": *rng.pick(&["2MB", "1GB", "64KB", "2mB", "0MB"]), "limit": u(&mut rng)}]);
        some(&mut rng, "hugepageLimits", huge);
        let net = json!({"classID": *rng.pick(&[0u32, 1, u32::MAX]),
                         "priorities": [{"name": s(&mut rng), "priority": *rng.pick(&[0u32, u32::MAX])}]});
        some(&mut rng, "network", net);
        let rdma = json!({ rng.pick(&strings).clone(): {"hcaHandles": *rng.pick(&[0u32, u32::MAX]), "hcaObjects": 1}});
        some(&mut rng, "rdma", rdma);
        let unified =
            json!({ rng.pick(&strings).clone(): s(&mut rng), "memory.high": s(&mut rng) });
        some(&mut rng, "unified", unified);
        let devices = json!([{"allow": rng.chance(2), "type": *rng.pick(&["a", "b", "c", "u", "p"]),
                              "major": *rng.pick(&I64), "minor": *rng.pick(&I64), "access": s(&mut rng)}]);
        some(&mut rng, "devices", devices);
        let v = Value::Object(r);
        report.case(
            || format!("case {case}: {v}"),
            || {
                stage("LinuxResources from JSON");
                if let Ok(res) = serde_json::from_value::<LinuxResources>(v.clone()) {
                    resources_stages(&res);
                    stage("cgroups::devices");
                    let rules = devices::rules(res.devices().as_deref().unwrap_or(&[]), &[]);
                    let _ = devices::v1_writes(&rules);
                    let _ = dev_bpf::to_bytes(&dev_bpf::device_program(&rules));
                }
            },
        );
    }
    report.finish("resources");
}
