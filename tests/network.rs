//! Built-in bridge networking (`org.berth.network.*` annotations) and
//! `linux.netDevices`, on real veths, bridges and nftables (root).
//!
//! Each test uses its own bridge and subnet (10.120.N.0/24), so tests run in
//! parallel, and removes its bridge at the end. Traffic goes only to addresses of
//! the containers the test made, and to the test's own bridge address.

#[macro_use]
mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// tests/data/udpecho.c, built static once.
fn udpecho() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::build_static_c("udpecho"))
}

/// Removes the test's bridge (and anything given) when dropped, even on failure.
struct Links(Vec<String>);

impl Drop for Links {
    fn drop(&mut self) {
        for l in &self.0 {
            let _ = Command::new("ip").args(["link", "del", l]).output();
        }
    }
}

fn bridge_name(tag: &str) -> String {
    format!("bt{tag}{}", std::process::id() % 100_000)
}

fn bundle_on(
    ctx: &Ctx,
    args: &[&str],
    bridge: &str,
    subnet: &str,
    extra: &[(&str, &str)],
) -> Bundle {
    let mut b = ctx.bundle(args);
    let mut a = json!({
        "org.berth.network.mode": "bridge",
        "org.berth.network.bridge": bridge,
        "org.berth.network.subnet": subnet,
    });
    for (k, v) in extra {
        a[*k] = json!(v);
    }
    b.config["annotations"] = a;
    b
}

/// Host interfaces berth made for `id` (it sets their alias).
fn veths_of(id: &str) -> Vec<String> {
    let want = format!("berth container {id}");
    fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .filter(|e| fs::read_to_string(e.path().join("ifalias")).is_ok_and(|a| a.trim() == want))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// (address, id) of every allocation under the root for `bridge`.
fn allocations(root: &Path, bridge: &str) -> Vec<(Ipv4Addr, String)> {
    let dir = root.join("@network").join(bridge);
    let Ok(rd) = fs::read_dir(&dir) else {
        return vec![];
    };
    rd.flatten()
        .filter_map(|e| {
            let ip = e.file_name().to_str()?.parse().ok()?;
            Some((ip, fs::read_to_string(e.path()).ok()?))
        })
        .collect()
}

fn address_of(root: &Path, bridge: &str, id: &str) -> Ipv4Addr {
    allocations(root, bridge)
        .into_iter()
        .find(|(_, i)| i == id)
        .unwrap_or_else(|| panic!("no address allocated to {id}"))
        .0
}

fn ruleset() -> String {
    let out = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines of berth's nftables rules for `id` (they carry its id as comment).
fn nft_rules_of(id: &str) -> Vec<String> {
    let c = format!("comment \"berth container {id}\"");
    ruleset()
        .lines()
        .filter(|l| l.contains(&c))
        .map(|l| l.trim().to_string())
        .collect()
}

/// Nothing of `id` is left on the host: veth, address file, nftables rule.
#[track_caller]
fn assert_no_trace(root: &Path, bridge: &str, id: &str) {
    assert_eq!(veths_of(id), Vec::<String>::new(), "veth of {id} left");
    assert!(
        !allocations(root, bridge).iter().any(|(_, i)| i == id),
        "address of {id} left"
    );
    assert_eq!(
        nft_rules_of(id),
        Vec::<String>::new(),
        "nft rules of {id} left"
    );
}

fn add_cap(b: &mut Bundle, cap: &str) {
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!(cap));
    }
}

#[test]
fn two_containers_on_a_bridge_reach_each_other() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-ping");
    let br = bridge_name("pg");
    let _links = Links(vec![br.clone()]);
    let subnet = "10.120.1.0/24";
    // A created container's netns answers pings: no process needs to run.
    let a = bundle_on(&ctx, &["sleep", "60"], &br, subnet, &[]);
    let a_id = ctx.id("a");
    ctx.create(&a, &a_id).expect_ok();
    let a_ip = address_of(&ctx.root, &br, &a_id);
    assert_eq!(veths_of(&a_id).len(), 1);

    let script = format!(
        "ip -4 addr show eth0 | grep -q 'inet 10.120.1.' && ip route | grep -q 'default via 10.120.1.1 dev eth0' && ping -c1 -W2 {a_ip} >/dev/null && echo reached"
    );
    let mut b = bundle_on(&ctx, &["sh", "-c", &script], &br, subnet, &[]);
    add_cap(&mut b, "CAP_NET_RAW");
    let b_id = ctx.id("b");
    let out = ctx.run(&b, &b_id);
    out.expect_ok();
    assert_eq!(out.stdout.trim(), "reached");
    // run deleted b: its veth, address and rules are gone, a's are not.
    assert_no_trace(&ctx.root, &br, &b_id);
    assert_eq!(veths_of(&a_id).len(), 1);

    ctx.cmd(&["delete", "--force", &a_id]).expect_ok();
    assert_no_trace(&ctx.root, &br, &a_id);
}

#[test]
fn fixed_ip_mac_and_mtu_are_applied() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-fixed");
    let br = bridge_name("fx");
    let _links = Links(vec![br.clone()]);
    let b = bundle_on(
        &ctx,
        &["sh", "-c", "ip addr show eth0"],
        &br,
        "10.120.8.0/24",
        &[
            ("org.berth.network.ip", "10.120.8.77"),
            ("org.berth.network.mac", "02:42:0a:78:08:4d"),
            ("org.berth.network.mtu", "1280"),
        ],
    );
    let out = ctx.run_ok(&b, "c");
    assert!(out.contains("inet 10.120.8.77/24"), "{out}");
    assert!(out.contains("link/ether 02:42:0a:78:08:4d"), "{out}");
    assert!(out.contains("mtu 1280"), "{out}");
}

#[test]
fn bridge_networking_in_a_user_namespace() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-userns");
    let br = bridge_name("un");
    let _links = Links(vec![br.clone()]);
    let mut b = bundle_on(
        &ctx,
        &["sh", "-c", "ip -4 addr show eth0; ip route"],
        &br,
        "10.120.10.0/24",
        &[("org.berth.network.ip", "10.120.10.9")],
    );
    b.add_namespace("user");
    let m = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["uidMappings"] = m.clone();
    b.config["linux"]["gidMappings"] = m;
    let out = ctx.run_ok(&b, "c");
    assert!(out.contains("inet 10.120.10.9/24"), "{out}");
    assert!(out.contains("default via 10.120.10.1 dev eth0"), "{out}");
}

#[test]
fn host_reaches_a_published_port() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-port");
    let br = bridge_name("pt");
    let _links = Links(vec![br.clone()]);
    let port = 20000 + (std::process::id() % 20000) as u16;
    let udp = port + 1;
    let mut b = bundle_on(
        &ctx,
        &["httpd", "-f", "-p", "80", "-h", "/www"],
        &br,
        "10.120.2.0/24",
        &[(
            "org.berth.network.ports",
            &format!("{port}:80/tcp,{udp}:53/udp"),
        )],
    );
    fs::create_dir_all(b.rootfs().join("www")).unwrap();
    fs::write(b.rootfs().join("www/index.html"), "hello from berth\n").unwrap();
    add_cap(&mut b, "CAP_NET_BIND_SERVICE");
    let id = ctx.id("web");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    let ip = address_of(&ctx.root, &br, &id);
    let rules = nft_rules_of(&id);
    assert!(
        rules
            .iter()
            .any(|r| r.contains(&format!("udp dport {udp} dnat to {ip}:53"))),
        "{rules:?}"
    );

    // From the host itself, to the bridge's address (a local address of the host).
    let to = SocketAddr::from(([10, 120, 2, 1], port));
    let mut page = String::new();
    let ok = wait_until(Duration::from_secs(10), || {
        page.clear();
        let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_secs(1)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").is_ok()
            && s.read_to_string(&mut page).is_ok()
            && page.contains("hello from berth")
    });
    assert!(ok, "no page from {to}: {page:?}");

    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert_no_trace(&ctx.root, &br, &id);
    assert!(
        TcpStream::connect_timeout(&to, Duration::from_secs(1)).is_err(),
        "port {port} still forwarded after delete"
    );
}

#[test]
fn host_reaches_a_published_udp_port() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-udp");
    let br = bridge_name("ud");
    let _links = Links(vec![br.clone()]);
    let port = 40000 + (std::process::id() % 20000) as u16;
    let b = bundle_on(
        &ctx,
        &["/bin/udpecho", "5353"],
        &br,
        "10.120.6.0/24",
        &[("org.berth.network.ports", &format!("{port}:5353/udp"))],
    );
    fs::copy(udpecho(), b.rootfs().join("bin/udpecho")).unwrap();
    let id = ctx.id("echo");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    let sock = UdpSocket::bind("10.120.6.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let to = SocketAddr::from(([10, 120, 6, 1], port));
    let mut buf = [0u8; 64];
    // Datagrams may go before the server has bound: send until one comes back.
    let ok = wait_until(Duration::from_secs(10), || {
        let _ = sock.send_to(b"ping over udp", to);
        matches!(sock.recv_from(&mut buf), Ok((13, _))) && &buf[..13] == b"ping over udp"
    });
    assert!(ok, "no echo from {to}");
    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert_no_trace(&ctx.root, &br, &id);
}

/// Deletes a named network namespace (`ip netns add`) when dropped.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn masquerade_lets_a_container_reach_beyond_the_host() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-masq");
    let n = std::process::id() % 100_000;
    let br = bridge_name("mq");
    // "Outside": a namespace of the test's own behind a veth, 10.122.1.0/24, with no
    // route back to the containers' subnet. Its replies reach a container only if
    // the container's traffic left the host with the host's address.
    let (out_ns, host_end, out_end) = (format!("tnons{n}"), format!("tnoh{n}"), format!("tnoo{n}"));
    let _links = Links(vec![br.clone(), host_end.clone()]);
    let _ns = Netns(out_ns.clone());
    ip(&["netns", "add", &out_ns]);
    ip(&[
        "link", "add", &host_end, "type", "veth", "peer", "name", &out_end,
    ]);
    ip(&["link", "set", &out_end, "netns", &out_ns]);
    ip(&["addr", "add", "10.122.1.1/24", "dev", &host_end]);
    ip(&["link", "set", &host_end, "up"]);
    ip(&[
        "-n",
        &out_ns,
        "addr",
        "add",
        "10.122.1.2/24",
        "dev",
        &out_end,
    ]);
    ip(&["-n", &out_ns, "link", "set", &out_end, "up"]);
    let forward = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();

    let ping = ["ping", "-c1", "-W2", "10.122.1.2"];
    // Each run its own address: the same ping (pid 1, so the same ICMP id) from the
    // same address would match the first run's conntrack entry, whose NAT mapping
    // outlives berth's rule while anything else on the host keeps conntrack hooked
    // (a netavark or Docker nat table).
    let run = |tag: &str, masquerade: &str, ip: &str| {
        let mut b = bundle_on(
            &ctx,
            &ping,
            &br,
            "10.120.12.0/24",
            &[
                ("org.berth.network.masquerade", masquerade),
                ("org.berth.network.ip", ip),
            ],
        );
        add_cap(&mut b, "CAP_NET_RAW");
        let id = ctx.id(tag);
        let out = ctx.run(&b, &id);
        assert_no_trace(&ctx.root, &br, &id);
        out
    };
    let with = run("with", "true", "10.120.12.5");
    // Forwarding is on now (berth turned it on): without masquerade the request
    // gets there, but the reply has no way back.
    let without = run("without", "false", "10.120.12.6");
    let _ = fs::write("/proc/sys/net/ipv4/ip_forward", forward.trim());
    with.expect_ok();
    assert!(
        !without.ok(),
        "reached outside without masquerade: {}",
        without.stdout
    );
}

#[test]
fn addresses_are_unique_across_50_containers_and_all_released() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-many");
    let br = bridge_name("mn");
    let _links = Links(vec![br.clone()]);
    let b = bundle_on(&ctx, &["true"], &br, "10.120.3.0/24", &[]);
    let mut ids = vec![];
    for i in 0..50 {
        let id = ctx.id(&format!("c{i}"));
        ctx.create(&b, &id).expect_ok();
        ids.push(id);
    }
    let alloc = allocations(&ctx.root, &br);
    assert_eq!(alloc.len(), 50);
    let mut ips: Vec<Ipv4Addr> = alloc.iter().map(|(ip, _)| *ip).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 50, "an address was given twice");
    for id in &ids {
        // The address is the one the container's eth0 really has.
        let ip = address_of(&ctx.root, &br, id);
        let pid = ctx.state(id)["pid"].as_i64().unwrap();
        let trie = fs::read_to_string(format!("/proc/{pid}/net/fib_trie")).unwrap();
        assert!(trie.contains(&ip.to_string()), "{id} has not {ip}");
        assert_eq!(veths_of(id).len(), 1, "{id}");
    }
    for id in &ids {
        ctx.cmd(&["delete", "--force", id]).expect_ok();
    }
    assert!(allocations(&ctx.root, &br).is_empty());
    for id in &ids {
        assert_no_trace(&ctx.root, &br, id);
    }
}

#[test]
fn kill9_of_the_container_then_delete_leaves_nothing() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-kill");
    let br = bridge_name("kc");
    let _links = Links(vec![br.clone()]);
    let b = bundle_on(
        &ctx,
        &["sleep", "60"],
        &br,
        "10.120.4.0/24",
        // No masquerade here: it turns on ip_forward, which only the masquerade
        // test may touch (it runs in parallel).
        &[("org.berth.network.ports", "18444:80")],
    );
    let id = ctx.id("c");
    ctx.create(&b, &id).expect_ok();
    ctx.start(&id).expect_ok();
    let rules = nft_rules_of(&id);
    assert!(
        rules.iter().any(|r| r.contains("tcp dport 18444 dnat")),
        "{rules:?}"
    );
    let init = ctx.init_proc(&id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init.pid),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    assert!(init.wait_gone());
    ctx.wait_status(&id, "stopped");
    ctx.cmd(&["delete", &id]).expect_ok();
    assert_no_trace(&ctx.root, &br, &id);
}

#[test]
fn kill9_of_berth_during_create_then_delete_leaves_nothing() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-crash");
    let br = bridge_name("kb");
    let _links = Links(vec![br.clone()]);
    let mut b = bundle_on(
        &ctx,
        &["sleep", "60"],
        &br,
        "10.120.5.0/24",
        &[("org.berth.network.ports", "18445:80")],
    );
    // A createRuntime hook that says it runs, then blocks until the test releases it.
    let held = common::HeldCreate::install(&mut b, &ctx.dir);
    let id = ctx.id("c");
    let (mut berth, _, _) = ctx.spawn(&["create", "--bundle", &b.dir_str(), &id]);
    assert!(held.wait_ran(), "hook never ran");
    // The hook runs with the network in place.
    assert_eq!(veths_of(&id).len(), 1);
    assert_eq!(nft_rules_of(&id).len(), 2);
    berth.kill().unwrap();
    let _ = berth.wait();
    held.release();

    ctx.cmd(&["delete", "--force", &id]).expect_ok();
    assert_no_trace(&ctx.root, &br, &id);
    assert!(!ctx.state_dir(&id).exists());
}

#[test]
fn a_failed_create_leaves_no_network_behind() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-fail");
    let br = bridge_name("fl");
    let _links = Links(vec![br.clone()]);
    let subnet = "10.120.11.0/24";
    let fixed = [("org.berth.network.ip", "10.120.11.5")];
    let a = bundle_on(&ctx, &["true"], &br, subnet, &fixed);
    let a_id = ctx.id("a");
    ctx.create(&a, &a_id).expect_ok();

    // The same fixed address: refused while allocating.
    let b = bundle_on(&ctx, &["true"], &br, subnet, &fixed);
    let b_id = ctx.id("b");
    let out = ctx.create(&b, &b_id);
    out.expect_err();
    assert!(
        out.stderr.contains("org.berth.network.ip") && out.stderr.contains(&a_id),
        "{}",
        out.stderr
    );
    assert_no_trace(&ctx.root, &br, &b_id);
    assert!(!ctx.state_dir(&b_id).exists());

    // A createRuntime hook fails after the network is set up: all of it goes.
    let mut c = bundle_on(
        &ctx,
        &["true"],
        &br,
        subnet,
        &[
            ("org.berth.network.ports", "18446:80,18446:80/udp"),
            ("org.berth.network.masquerade", "false"),
        ],
    );
    c.config["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    let c_id = ctx.id("c");
    ctx.create(&c, &c_id).expect_err();
    assert_no_trace(&ctx.root, &br, &c_id);
    assert!(!ctx.state_dir(&c_id).exists());
    // a kept its address, veth and all.
    assert_eq!(
        address_of(&ctx.root, &br, &a_id),
        Ipv4Addr::new(10, 120, 11, 5)
    );
    assert_eq!(veths_of(&a_id).len(), 1);
}

#[test]
fn bridge_mode_needs_a_new_network_namespace() {
    require_root!();
    berth_only!("org.berth.network annotations");
    let ctx = Ctx::new("net-nons");
    let mut b = bundle_on(&ctx, &["true"], "btnons", "10.120.9.0/24", &[]);
    b.remove_namespace("network");
    let id = ctx.id("c");
    let out = ctx.create(&b, &id);
    out.expect_err();
    assert!(out.stderr.contains("linux.namespaces"), "{}", out.stderr);
    assert!(!Path::new("/sys/class/net/btnons").exists());
}

#[test]
fn net_devices_move_a_host_interface_in_with_its_address() {
    require_root!();
    berth_only!("linux.netDevices support");
    let ctx = Ctx::new("net-dev");
    // No dummy driver on every kernel: a veth pair is a virtual device too.
    let n = std::process::id() % 100_000;
    let (dev, peer) = (format!("tnd{n}a"), format!("tnd{n}b"));
    let (dev2, peer2) = (format!("tnd{n}c"), format!("tnd{n}d"));
    let _links = Links(vec![dev.clone(), peer.clone(), dev2.clone(), peer2.clone()]);
    ip(&["link", "add", &dev, "type", "veth", "peer", "name", &peer]);
    ip(&["addr", "add", "10.121.7.5/24", "dev", &dev]);
    ip(&["link", "add", &dev2, "type", "veth", "peer", "name", &peer2]);
    let mut b = ctx.bundle(&["sh", "-c", "ip addr show net1; ip -o link show nd0"]);
    // A "%d" template is expanded by the kernel.
    b.config["linux"]["netDevices"] = json!({
        dev.clone(): {"name": "net1"},
        dev2.clone(): {"name": "nd%d"}
    });
    let id = ctx.id("c");
    let created = ctx.create(&b, &id);
    created.expect_ok();
    assert!(
        !Path::new("/sys/class/net").join(&dev).exists(),
        "{dev} still on the host"
    );
    ctx.start(&id).expect_ok();
    ctx.wait_status(&id, "stopped");
    // The container wrote to create's stdout.
    let out = fs::read_to_string(&created.stdout_path).unwrap();
    assert!(out.contains("inet 10.121.7.5/24"), "{out}");
    assert!(out.contains(": nd0@"), "{out}");
    // Administratively up (no carrier: the peer on the host is down).
    let flags = out.split(['<', '>']).nth(1).unwrap_or("");
    assert!(flags.split(',').any(|f| f == "UP"), "{out}");
    ctx.cmd(&["delete", &id]).expect_ok();
    // config-linux.md: the runtime does not move it back; the kernel destroys a
    // virtual device with its namespace (and a veth takes its peer with it).
    assert!(wait_until(Duration::from_secs(10), || {
        !Path::new("/sys/class/net").join(&peer).exists()
            && !Path::new("/sys/class/net").join(&peer2).exists()
    }));
}

#[test]
fn net_devices_naming_a_missing_interface_fail_create() {
    require_root!();
    berth_only!("linux.netDevices support");
    let ctx = Ctx::new("net-nodev");
    let mut b = ctx.bundle(&["true"]);
    b.config["linux"]["netDevices"] = json!({"tndmissing0": {}});
    let id = ctx.id("c");
    let out = ctx.create(&b, &id);
    out.expect_err();
    assert!(
        out.stderr.contains("linux.netDevices[\"tndmissing0\"]"),
        "{}",
        out.stderr
    );
    assert!(!ctx.state_dir(&id).exists());
}
