//! Probe scenarios: one config.json each, run with `run`, the probe's TAP
//! relayed into the harness's stream as `[scenario] case`.

use crate::bundle::{chown_tree, no_prep};
use crate::spec::{self, base, probe_args, push, remove, set};
use crate::Harness;
use serde_json::{json, Value};
use std::fs;
use std::io;
use std::path::Path;

include!("../../tests/data/containers_profile.rs");

type Configure = Box<dyn Fn(&mut Value, &Path, &Harness)>;
type Prep = Box<dyn Fn(&Path, &Path) -> io::Result<()>>;

pub struct Scenario {
    pub name: &'static str,
    groups: &'static str,
    configure: Configure,
    prep: Prep,
    /// Start the runtime with an extra inherited fd (runtime-linux.md "File descriptors").
    leak_fd: bool,
}

pub fn sc(
    name: &'static str,
    groups: &'static str,
    configure: impl Fn(&mut Value, &Path, &Harness) + 'static,
) -> Scenario {
    Scenario {
        name,
        groups,
        configure: Box::new(configure),
        prep: Box::new(no_prep),
        leak_fd: false,
    }
}

impl Scenario {
    pub fn prep(mut self, p: impl Fn(&Path, &Path) -> io::Result<()> + 'static) -> Scenario {
        self.prep = Box::new(p);
        self
    }
}

fn caps(b: &[&str], e: &[&str], p: &[&str], i: &[&str], a: &[&str]) -> Value {
    json!({"bounding": b, "effective": e, "permitted": p, "inheritable": i, "ambient": a})
}

fn mkdirs(root: &Path, dirs: &[&str]) -> io::Result<()> {
    for d in dirs {
        fs::create_dir_all(root.join(d))?;
    }
    Ok(())
}

pub fn all() -> Vec<Scenario> {
    let mut v = vec![
        Scenario {
            leak_fd: true,
            ..sc("default", "all", |_, _, _| {})
        },
        sc("user", "fds,process,user,caps,nnp", |c, _, _| {
            set(c, "/process/user", json!({"uid": 1000, "gid": 1000, "umask": 0o027, "additionalGids": [10, 2000]}));
            set(c, "/process/cwd", json!("/home/test"));
            set(c, "/process/args", json!(["berth-probe", "--groups", "fds,process,user,caps,nnp"]));
            set(c, "/process/env", json!(["PATH=/.probe:/usr/bin:/bin", "HOME=/home/test", "BERTH_VALUE=a=b c"]));
            let (all, amb) = (spec::DEFAULT_CAPS, &["CAP_KILL", "CAP_NET_BIND_SERVICE"][..]);
            set(c, "/process/capabilities", caps(all, amb, amb, amb, amb));
            set(c, "/process/noNewPrivileges", json!(false));
        }),
        sc("caps", "caps,nnp", |c, _, _| {
            let b = &[
                "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETUID",
                "CAP_SETGID", "CAP_NET_RAW", "CAP_SYS_CHROOT",
            ][..];
            set(c, "/process/capabilities", caps(b, b, b, &["CAP_CHOWN", "CAP_KILL"], &["CAP_KILL"]));
        }),
        sc("caps-none", "caps", |c, _, _| {
            set(c, "/process/capabilities", caps(&[], &[], &[], &[], &[]));
        }),
        sc("rlimits-oom", "rlimits,oom", |c, _, _| {
            set(c, "/process/rlimits", json!([
                {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                {"type": "RLIMIT_CPU", "soft": u64::MAX, "hard": u64::MAX},
                {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200},
                {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 16384},
                {"type": "RLIMIT_STACK", "soft": 8388608, "hard": u64::MAX}
            ]));
            set(c, "/process/oomScoreAdj", json!(500));
        }),
        sc("uts-sysctl", "uts,sysctl", |c, _, _| {
            set(c, "/hostname", json!("berth-host"));
            set(c, "/domainname", json!("berth.example"));
            set(c, "/linux/sysctl", json!({
                "kernel.shmmax": "68719476736",
                "net.ipv4.ip_forward": "1"
            }));
        }),
        sc("root-rw", "root", |c, _, _| set(c, "/root/readonly", json!(false))),
        sc("masked-readonly", "root,masked,readonly", |c, _, _| {
            set(c, "/root/readonly", json!(false));
            for p in ["/masked-dir", "/masked-file", "/does-not-exist"] {
                push(c, "/linux/maskedPaths", json!(p));
            }
            for p in ["/ro-dir", "/ro-file"] {
                push(c, "/linux/readonlyPaths", json!(p));
            }
        })
        .prep(|_, r| {
            mkdirs(r, &["masked-dir", "ro-dir"])?;
            fs::write(r.join("masked-dir/secret"), "secret\n")?;
            fs::write(r.join("masked-file"), "secret\n")?;
            fs::write(r.join("ro-dir/file"), "data\n")?;
            fs::write(r.join("ro-file"), "data\n")
        }),
        sc("mounts", "mounts", |c, bundle, _| {
            let abs_file = bundle.join("host-file").display().to_string();
            for m in [
                json!({"destination": "/mnt/tmpfs-ro", "type": "tmpfs", "source": "tmpfs",
                       "options": ["ro", "nosuid", "nodev", "noexec", "mode=750", "size=1m"]}),
                json!({"destination": "/mnt/tmpfs-rw", "type": "tmpfs", "source": "tmpfs",
                       "options": ["rw", "suid", "dev", "exec", "noatime", "nodiratime", "mode=1777"]}),
                json!({"destination": "/mnt/bind-ro", "type": "none", "source": "host-dir",
                       "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]}),
                json!({"destination": "/mnt/bind-file", "type": "bind", "source": abs_file,
                       "options": ["bind", "ro"]}),
                json!({"destination": "/mnt/bind-private", "type": "none", "source": "host-dir",
                       "options": ["bind", "rprivate"]}),
                json!({"destination": "/mnt/bind-shared", "type": "none", "source": "host-dir",
                       "options": ["bind", "rshared"]}),
                json!({"destination": "/mnt/bind-unbindable", "type": "none", "source": "host-dir",
                       "options": ["bind", "runbindable"]}),
                json!({"destination": "mnt/relative", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "relatime"]}),
            ] {
                push(c, "/mounts", m);
            }
        })
        .prep(|b, r| {
            mkdirs(b, &["host-dir"])?;
            fs::write(b.join("host-dir/a.txt"), "a\n")?;
            fs::write(b.join("host-file"), "host file\n")?;
            mkdirs(r, &[
                "mnt/tmpfs-ro", "mnt/tmpfs-rw", "mnt/bind-ro", "mnt/bind-private",
                "mnt/bind-shared", "mnt/bind-unbindable", "mnt/relative",
            ])?;
            fs::write(r.join("mnt/bind-file"), "")
        }),
        sc("devices", "devices,defaultdev", |c, _, _| {
            set(c, "/linux/devices", json!([
                {"path": "/dev/berth-null", "type": "c", "major": 1, "minor": 3,
                 "fileMode": 0o640, "uid": 1000, "gid": 1000},
                {"path": "/dev/berth-loop", "type": "b", "major": 7, "minor": 0,
                 "fileMode": 0o660, "uid": 0, "gid": 6},
                {"path": "/dev/berth-u", "type": "u", "major": 1, "minor": 8, "fileMode": 0o444},
                {"path": "/dev/berth-fifo", "type": "p", "fileMode": 0o600},
                {"path": "/berth-devices/zero", "type": "c", "major": 1, "minor": 5,
                 "fileMode": 0o666, "uid": 0, "gid": 0}
            ]));
        })
        .prep(|_, r| mkdirs(r, &["berth-devices"])),
        sc("userns", "fds,process,user,caps,root,mounts,masked,readonly,defaultdev,ns,idmap", |c, _, _| {
            push(c, "/linux/namespaces", json!({"type": "user"}));
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            set(c, "/linux/uidMappings", map.clone());
            set(c, "/linux/gidMappings", map);
        })
        .prep(|_, r| chown_tree(r, 100000, 100000)),
        sc("timens", "ns,timens", |c, _, _| {
            push(c, "/linux/namespaces", json!({"type": "time"}));
            set(c, "/linux/timeOffsets", json!({
                "monotonic": {"secs": 172800, "nanosecs": 0},
                "boottime": {"secs": 604800, "nanosecs": 250}
            }));
        }),
        sc("cgroupns", "ns,cgroupns,mounts", |c, _, _| {
            push(c, "/linux/namespaces", json!({"type": "cgroup"}));
        }),
        sc("personality", "personality", |c, _, _| {
            set(c, "/linux/personality", json!({"domain": "LINUX32"}));
        }),
        sc("sched-ioprio-affinity", "sched,ioprio,affinity", |c, _, _| {
            set(c, "/process/scheduler", json!({"policy": "SCHED_BATCH", "nice": 5}));
            set(c, "/process/ioPriority", json!({"class": "IOPRIO_CLASS_BE", "priority": 6}));
            set(c, "/process/execCPUAffinity", json!({"initial": "0", "final": "0"}));
        }),
        sc("sched-flags", "sched", |c, _, _| {
            set(c, "/process/scheduler", json!({
                "policy": "SCHED_OTHER", "nice": 3, "flags": ["SCHED_FLAG_RESET_ON_FORK"]
            }));
        }),
        sc("ns-path", "ns", |c, _, h| {
            remove(c, "/hostname");
            let Some(pid) = h.ns_holder else { return };
            let mut ns = spec::namespaces(&["pid", "mount"]);
            if let Some(a) = ns.as_array_mut() {
                for (ty, f) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
                    a.push(json!({"type": ty, "path": format!("/proc/{pid}/ns/{f}")}));
                }
            }
            set(c, "/linux/namespaces", ns);
        }),
        sc("ns-host", "ns", |c, _, _| {
            remove(c, "/hostname");
            set(c, "/linux/namespaces", spec::namespaces(&["mount"]));
        }),
        sc("seccomp", "seccomp", |c, _, _| {
            set(c, "/linux/seccomp", json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
                    {"names": ["getsid"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18,
                     "args": [{"index": 0, "value": 4242, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 71,
                     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                              {"index": 1, "value": 0xff00, "valueTwo": 0x4200,
                               "op": "SCMP_CMP_MASKED_EQ"}]}
                ]
            }));
        }),
        sc("seccomp-default-errno", "seccomp", |c, _, _| {
            // containers/common's profile (an allow-list) without getppid, which then
            // gets the default action.
            let mut p = containers_profile(spec::DEFAULT_CAPS);
            set(&mut p, "/defaultErrnoRet", json!(42));
            if let Some(rules) = p["syscalls"].as_array_mut() {
                for r in rules.iter_mut() {
                    if let Some(n) = r["names"].as_array_mut() {
                        n.retain(|n| n != "getppid");
                    }
                }
                rules.retain(|r| r["names"].as_array().is_some_and(|n| !n.is_empty()));
            }
            set(c, "/linux/seccomp", p);
        }),
    ];
    for (name, p) in [
        ("propagation-shared", "shared"),
        ("propagation-slave", "slave"),
        ("propagation-private", "private"),
        ("propagation-unbindable", "unbindable"),
    ] {
        v.push(sc(name, "propagation", move |c, _, _| {
            set(c, "/linux/rootfsPropagation", json!(p));
        }));
    }
    v.extend(crate::resources::scenarios());
    v
}

pub fn run(h: &mut Harness, s: &Scenario) {
    let name = s.name;
    let mut cfg = base(probe_args(s.groups));
    let bundle_dir = h.bundles.work().join("bundles").join(name);
    (s.configure)(&mut cfg, &bundle_dir, h);
    if name == "ns-path" && h.ns_holder.is_none() {
        h.tap.skip(
            "[ns-path] config-linux: namespaces with path",
            "could not start a helper process in new namespaces",
        );
        return;
    }
    let bundle = match h.bundles.make(name, &cfg, &*s.prep) {
        Ok(b) => b,
        Err(e) => {
            h.tap
                .fail(&format!("[{name}] harness: build the bundle: {e}"));
            return;
        }
    };
    let id = h.id(name);
    let leak = if s.leak_fd {
        fs::File::open(bundle.join("config.json")).ok()
    } else {
        None
    };
    let out = h.rt.run(&bundle, &id, leak.as_ref());
    h.rt.forget(&id);
    relay(h, name, &out);
}

/// Renumber the probe's TAP into the harness's stream.
fn relay(h: &mut Harness, name: &str, out: &crate::rt::Out) {
    let mut plan: Option<usize> = None;
    let mut seen = 0;
    for line in out.stdout.lines() {
        if let Some(rest) = line.strip_prefix("not ok ") {
            seen += 1;
            let text = rest.split_once(" - ").map_or(rest, |(_, t)| t);
            h.tap.fail(&format!("[{name}] {text}"));
        } else if let Some(rest) = line.strip_prefix("ok ") {
            seen += 1;
            let text = rest.split_once(" - ").map_or(rest, |(_, t)| t);
            match text.split_once(" # SKIP ") {
                Some((case, why)) => h.tap.skip(&format!("[{name}] {case}"), why),
                None => h.tap.pass(&format!("[{name}] {text}")),
            }
        } else if let Some(n) = line.strip_prefix("1..") {
            plan = n.trim().parse().ok();
        } else if let Some(c) = line.strip_prefix('#') {
            h.tap.comment(&format!("[{name}]{c}"));
        } else if !line.trim().is_empty() {
            h.tap.comment(&format!("[{name}] container stdout: {line}"));
        }
    }
    let complete = plan == Some(seen) && out.ok();
    let r = if complete {
        Ok(())
    } else {
        Err(format!(
            "probe plan {plan:?} for {seen} cases; run: {}",
            out.describe()
        ))
    };
    h.tap.case(
        &format!("[{name}] runtime: run executes the container process, which ran to completion (exit 0)"),
        r,
    );
}
