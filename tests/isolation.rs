//! What the container process sees of itself (root): hostname, user, umask, capabilities,
//! rlimits, namespaces, no_new_privs, oom_score_adj, sysctls, env, cwd, fds, user
//! namespace mappings. Every check runs busybox inside the container and reads its output.

#[macro_use]
mod common;

use common::{Bundle, Ctx, Opts};
use serde_json::json;
use std::collections::BTreeSet;
use std::fs;

/// The value of `Field:` in /proc/self/status output.
fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status}"))
        .trim()
}

#[test]
fn hostname_is_set() {
    require_root!();
    let ctx = Ctx::new("iso-hostname");
    let out = ctx.run_sh("c", "hostname", |b| {
        b.config["hostname"] = json!("berth-iso");
    });
    assert_eq!(out, "berth-iso\n");
}

#[test]
fn user_groups_and_umask() {
    require_root!();
    let ctx = Ctx::new("iso-user");
    let out = ctx.run_sh("c", "id -u; id -g; id -G; umask", |b| {
        b.config["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 23});
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1000");
    let groups: BTreeSet<&str> = lines[2].split_whitespace().collect();
    assert_eq!(groups, BTreeSet::from(["10", "20", "1000"]), "{out}");
    assert_eq!(lines[3], "0027", "umask");
}

#[test]
fn root_user_has_no_supplementary_groups_from_the_host() {
    require_root!();
    let ctx = Ctx::new("iso-root-groups");
    let out = ctx.run_sh("c", "id -u; id -G", |_| {});
    assert_eq!(out, "0\n0\n");
}

fn cap_mask(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| match *n {
            "CAP_CHOWN" => 1u64 << 0,
            "CAP_KILL" => 1 << 5,
            "CAP_NET_BIND_SERVICE" => 1 << 10,
            "CAP_AUDIT_WRITE" => 1 << 29,
            "CAP_MKNOD" => 1 << 27,
            other => panic!("add {other} to cap_mask"),
        })
        .sum()
}

fn caps_of(out: &str) -> [u64; 5] {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .map(|f| u64::from_str_radix(status_field(out, f), 16).unwrap())
}

#[test]
fn capability_sets_are_as_configured() {
    require_root!();
    let ctx = Ctx::new("iso-caps");
    let script = "grep Cap /proc/self/status";

    // The default config: three caps, nothing inheritable or ambient.
    let out = ctx.run_sh("default", script, |_| {});
    let d = cap_mask(&common::DEFAULT_CAPS);
    assert_eq!(caps_of(&out), [0, d, d, d, 0], "{out}");

    // Bounding larger than effective/permitted.
    let out = ctx.run_sh("narrow", script, |b| {
        b.config["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"]
        });
    });
    let kill = cap_mask(&["CAP_KILL"]);
    assert_eq!(
        caps_of(&out),
        [0, kill, kill, cap_mask(&["CAP_KILL", "CAP_CHOWN"]), 0],
        "{out}"
    );

    // Ambient capabilities survive the switch to a non-root user.
    let out = ctx.run_sh("ambient", script, |b| {
        let c = ["CAP_NET_BIND_SERVICE"];
        b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        b.config["process"]["capabilities"] = json!({
            "bounding": c, "effective": c, "permitted": c, "inheritable": c, "ambient": c
        });
    });
    let nbs = cap_mask(&["CAP_NET_BIND_SERVICE"]);
    assert_eq!(caps_of(&out), [nbs, nbs, nbs, nbs, nbs], "{out}");

    // A non-root user without ambient caps ends with empty effective and permitted sets.
    let out = ctx.run_sh("nonroot", script, |b| {
        b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    assert_eq!(caps_of(&out), [0, 0, 0, d, 0], "{out}");
}

/// (soft, hard) of a /proc/self/limits row such as "Max open files".
fn limit(limits: &str, row: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("no {row} in {limits}"));
    let f: Vec<&str> = line[row.len()..].split_whitespace().collect();
    (f[0].to_string(), f[1].to_string())
}

#[test]
fn rlimits_are_applied() {
    require_root!();
    let ctx = Ctx::new("iso-rlimits");
    // At or below the current hard limits: raising one needs CAP_SYS_RESOURCE.
    let out = ctx.run_sh("c", "cat /proc/self/limits", |b| {
        b.config["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
        ]);
    });
    assert_eq!(limit(&out, "Max open files"), ("512".into(), "1000".into()));
    assert_eq!(limit(&out, "Max core file size"), ("0".into(), "0".into()));
    assert_eq!(limit(&out, "Max processes"), ("300".into(), "400".into()));
}

#[test]
fn raising_a_hard_rlimit_above_ours_fails_without_cap_sys_resource() {
    require_root!();
    let has_sys_resource = fs::read_to_string("/proc/self/status")
        .map(|s| u64::from_str_radix(status_field(&s, "CapEff"), 16).unwrap() & (1 << 24) != 0)
        .unwrap_or(true);
    if has_sys_resource {
        eprintln!("skipping: this host has CAP_SYS_RESOURCE");
        return;
    }
    let ctx = Ctx::new("iso-rlimit-raise");
    let mut b = ctx.bundle(&["true"]);
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1 << 30}
    ]);
    let id = ctx.id("c");
    ctx.run(&b, &id).expect_err();
    assert!(!ctx.state_dir(&id).exists());
}

const NAMESPACES: [&str; 7] = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user"];

fn ns_links(out: &str) -> Vec<(String, String)> {
    NAMESPACES
        .iter()
        .zip(out.lines())
        .map(|(n, l)| (n.to_string(), l.to_string()))
        .collect()
}

#[test]
fn namespaces_are_new_where_asked_and_shared_otherwise() {
    require_root!();
    let ctx = Ctx::new("iso-ns");
    let script = format!(
        "for n in {}; do readlink /proc/self/ns/$n; done",
        NAMESPACES.join(" ")
    );
    let host = |n: &str| {
        fs::read_link(format!("/proc/self/ns/{n}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };

    let out = ctx.run_sh("default", &script, |_| {});
    let links = ns_links(&out);
    assert_eq!(links.len(), NAMESPACES.len(), "{out}");
    for (n, link) in &links {
        assert!(link.starts_with(&format!("{n}:[")), "{n}: {link}");
        let new = matches!(n.as_str(), "pid" | "net" | "ipc" | "uts" | "mnt");
        assert_eq!(
            link != &host(n),
            new,
            "{n}: container {link}, host {}",
            host(n)
        );
    }

    let out = ctx.run_sh("cgroupns", &script, |b| b.add_namespace("cgroup"));
    let links = ns_links(&out);
    assert_ne!(links[5].1, host("cgroup"), "cgroup namespace not new");
}

#[test]
fn joins_a_namespace_by_path() {
    require_root!();
    let ctx = Ctx::new("iso-ns-path");
    // Join our own network namespace (like `docker --network host`).
    let host_net = fs::read_link("/proc/self/ns/net").unwrap();
    let out = ctx.run_sh("c", "readlink /proc/self/ns/net", |b| {
        b.remove_namespace("network");
        b.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(
                json!({"type": "network", "path": format!("/proc/{}/ns/net", std::process::id())}),
            );
    });
    assert_eq!(out.trim(), host_net.to_string_lossy());
}

#[test]
fn no_new_privileges_follows_the_config() {
    require_root!();
    let ctx = Ctx::new("iso-nnp");
    let script = "grep NoNewPrivs /proc/self/status";
    let on = ctx.run_sh("on", script, |_| {});
    assert_eq!(status_field(&on, "NoNewPrivs"), "1");
    let off = ctx.run_sh("off", script, |b| {
        b.config["process"]["noNewPrivileges"] = json!(false);
    });
    assert_eq!(status_field(&off, "NoNewPrivs"), "0");
}

#[test]
fn oom_score_adj_is_set() {
    require_root!();
    let ctx = Ctx::new("iso-oom");
    let out = ctx.run_sh("c", "cat /proc/self/oom_score_adj", |b| {
        b.config["process"]["oomScoreAdj"] = json!(500);
    });
    assert_eq!(out, "500\n");
}

#[test]
fn sysctls_are_applied() {
    require_root!();
    let ctx = Ctx::new("iso-sysctl");
    let host_fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let out = ctx.run_sh(
        "c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax",
        |b| {
            b.config["linux"]["sysctl"] =
                json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "16385"});
        },
    );
    assert_eq!(out, "1\n16385\n");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd,
        "the host's sysctl changed"
    );
}

#[test]
fn env_and_cwd() {
    require_root!();
    let ctx = Ctx::new("iso-env");
    let mut b = ctx.bundle(&["sh", "-c", "pwd; echo \"$FOO\"; echo \"${LEAK:-unset}\""]);
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["cwd"] = json!("/home/test");
    b.save();
    let id = ctx.id("c");
    ctx.track(&id);
    // The runtime's own environment must not leak into the container.
    let out = ctx.cmd_opts(
        &["run", "--bundle", &b.dir_str(), &id],
        &Opts {
            env: vec![("LEAK".into(), "1".into())],
            ..Opts::default()
        },
    );
    out.expect_ok();
    assert_eq!(out.stdout, "/home/test\nbar baz\nunset\n");
}

/// `ls /proc/self/fd` lists the shell's fds plus the one ls opens for the directory.
const LIST_FDS: &str = "ls /proc/self/fd | tr '\\n' ' '";

/// SECURITY.md attacks 10 and 11: only stdio, plus exactly the preserved fds.
#[test]
fn only_stdio_and_preserved_fds_reach_the_container() {
    require_root!();
    let ctx = Ctx::new("iso-fds");
    let f3 = ctx.dir.join("fd3");
    let f4 = ctx.dir.join("fd4");
    fs::write(&f3, "preserved-three").unwrap();
    fs::write(&f4, "leaked-four").unwrap();
    // The runtime inherits fds 3 and 4 without CLOEXEC.
    let opts = Opts {
        fds: vec![(f3.clone(), 3), (f4.clone(), 4)],
        ..Opts::default()
    };

    let b = ctx.bundle(&["sh", "-c", LIST_FDS]);
    b.save();
    let id = ctx.id("none");
    ctx.track(&id);
    let out = ctx.cmd_opts(&["run", "--bundle", &b.dir_str(), &id], &opts);
    out.expect_ok();
    assert_eq!(
        out.stdout, "0 1 2 3 ",
        "fds in the container (3 is ls's own)"
    );

    let b = ctx.bundle(&["sh", "-c", &format!("{LIST_FDS}; echo; cat <&3")]);
    b.save();
    let id = ctx.id("one");
    ctx.track(&id);
    let out = ctx.cmd_opts(
        &["run", "--preserve-fds", "1", "--bundle", &b.dir_str(), &id],
        &opts,
    );
    out.expect_ok();
    assert_eq!(out.stdout, "0 1 2 3 4 \npreserved-three");
}

#[test]
fn user_namespace_with_mappings() {
    require_root!();
    let ctx = Ctx::new("iso-userns");
    let host_user = fs::read_link("/proc/self/ns/user").unwrap();
    let out = ctx.run_sh(
        "c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; readlink /proc/self/ns/user",
        |b: &mut Bundle| {
            b.add_namespace("user");
            let m = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            b.config["linux"]["uidMappings"] = m.clone();
            b.config["linux"]["gidMappings"] = m;
        },
    );
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines[..3],
        ["0 100000 65536", "0 100000 65536", "0"],
        "{out}"
    );
    assert_ne!(lines[3], host_user.to_string_lossy(), "user ns not new");
}
