//! berth's filters against libseccomp's, on random profiles: libseccomp 2.5 builds
//! each profile the way runc drives it (tests/data/libseccomp_export.c), runc's
//! -ENOSYS stub is put in front, and both programs run on the same system calls.
//! Skipped, with a note, without a C compiler and libseccomp's headers.
//!
//! `BERTH_SECCOMP_SEED` and `BERTH_SECCOMP_CASES` choose other and more profiles.

use berth::seccomp::{self, bpf};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// xorshift64*: reproducible profiles without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// tests/data/libseccomp_export.c built against the host's libseccomp, or None (with
/// a note) when there is no compiler or no libseccomp headers.
fn libseccomp_helper() -> Option<&'static Path> {
    static HELPER: OnceLock<Option<PathBuf>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/libseccomp_export.c");
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libseccomp_export");
            let tmp = out.with_extension(std::process::id().to_string());
            let st = Command::new("cc")
                .arg("-O1")
                .arg("-o")
                .arg(&tmp)
                .arg(&src)
                .arg("-lseccomp")
                .stderr(Stdio::null())
                .status();
            match st {
                Ok(s) if s.success() && std::fs::rename(&tmp, &out).is_ok() => Some(out),
                _ => {
                    eprintln!(
                        "note: no cc or libseccomp-dev: skipping the comparison with libseccomp"
                    );
                    None
                }
            }
        })
        .as_deref()
}

/// What libseccomp (driven like runc) made of a profile.
enum Lib {
    Refused(String),
    Filter {
        program: Vec<bpf::SockFilter>,
        /// (audit arch of the ABI as libseccomp tokens, highest number) for runc's stub.
        stub: Vec<(u32, u32)>,
    },
}

fn helper_output(helper: &Path, input: &str, args: &[&str]) -> (Option<i32>, String) {
    use std::io::Write;
    let mut child = Command::new(helper)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run libseccomp helper");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    // libseccomp never finishes some profiles (its rule tree turns cyclic).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (None, "hangs".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let code = child.wait().unwrap().code();
    (code, reader.join().unwrap().unwrap_or_default())
}

fn run_libseccomp(helper: &Path, input: &str) -> Lib {
    let (code, text) = helper_output(helper, input, &[]);
    if code == Some(3) || code.is_none() {
        return Lib::Refused(text);
    }
    assert_eq!(code, Some(0), "helper failed on:\n{input}\n{text}");
    let mut program = vec![];
    let mut stub = vec![];
    for l in text.lines() {
        let f: Vec<u64> = l
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        if l.starts_with("bpf ") {
            program.push(bpf::SockFilter {
                code: f[0] as u16,
                jt: f[1] as u8,
                jf: f[2] as u8,
                k: f[3] as u32,
            });
        } else if l.starts_with("stub ") {
            stub.push((f[0] as u32, f[1] as u32));
        }
    }
    Lib::Filter { program, stub }
}

/// One statement of libseccomp's pseudo filter code.
enum Pfc {
    If(String, Vec<Pfc>, Vec<Pfc>),
    Action(u32),
}

fn pfc_parse(lines: &[(usize, &str)], pos: &mut usize, indent: usize) -> Vec<Pfc> {
    let mut v = vec![];
    while *pos < lines.len() && lines[*pos].0 == indent {
        let t = lines[*pos].1;
        if let Some(c) = t.strip_prefix("if (").and_then(|c| c.strip_suffix(')')) {
            *pos += 1;
            let then = pfc_parse(lines, pos, indent + 2);
            let mut other = vec![];
            if *pos < lines.len() && lines[*pos] == (indent, "else") {
                *pos += 1;
                other = pfc_parse(lines, pos, indent + 2);
            }
            v.push(Pfc::If(c.to_string(), then, other));
        } else if let Some(a) = t.strip_prefix("action ").and_then(|a| a.strip_suffix(';')) {
            *pos += 1;
            let num = |p: &str| a[p.len()..a.len() - 1].parse::<u32>().unwrap();
            v.push(Pfc::Action(match a {
                "ALLOW" => 0x7fff_0000,
                "KILL" => 0,
                "KILL_PROCESS" => 0x8000_0000,
                "TRAP" => 0x0003_0000,
                "LOG" => 0x7ffc_0000,
                _ if a.starts_with("ERRNO(") => 0x0005_0000 | num("ERRNO("),
                _ if a.starts_with("TRACE(") => 0x7ff0_0000 | num("TRACE("),
                _ => u32::from_str_radix(a.trim_start_matches("0x"), 16).unwrap(),
            }));
        } else {
            break;
        }
    }
    v
}

fn pfc_cond(c: &str, d: &bpf::SeccompData) -> bool {
    let t: Vec<&str> = c.split_whitespace().collect();
    let lhs = t[0].trim_start_matches("$a");
    let (idx, half) = lhs.split_once('.').unwrap_or((lhs, "lo32"));
    let v = d.args[idx.parse::<usize>().unwrap()];
    let mut w = if half == "hi32" {
        (v >> 32) as u32
    } else {
        v as u32
    };
    let mut rest = &t[1..];
    if rest[0] == "&" {
        w &= u32::from_str_radix(rest[1].trim_start_matches("0x"), 16).unwrap();
        rest = &rest[2..];
    }
    let k: u32 = rest[1].parse().unwrap();
    match rest[0] {
        "==" => w == k,
        ">" => w > k,
        ">=" => w >= k,
        op => panic!("pfc operator {op}"),
    }
}

fn pfc_eval(stmts: &[Pfc], d: &bpf::SeccompData) -> Option<u32> {
    for s in stmts {
        match s {
            Pfc::Action(a) => return Some(*a),
            Pfc::If(c, then, other) => {
                let r = pfc_eval(if pfc_cond(c, d) { then } else { other }, d);
                if r.is_some() {
                    return r;
                }
            }
        }
    }
    None
}

/// What libseccomp's rule database (printed as pseudo filter code) says for this
/// system call: Some(action), or None if it has no entry for it.
fn pfc_decide(pfc: &str, d: &bpf::SeccompData, default: u32) -> Option<u32> {
    let block = match d.arch {
        bpf::AUDIT_ARCH_X86_64 if d.nr & 0x4000_0000 != 0 => "x32",
        bpf::AUDIT_ARCH_X86_64 => "x86_64",
        bpf::AUDIT_ARCH_I386 => "x86",
        _ => return None,
    };
    let lines: Vec<(usize, &str)> = pfc
        .lines()
        .map(|l| (l.len() - l.trim_start().len(), l.trim()))
        .collect();
    let start = lines
        .iter()
        .position(|l| l.1.starts_with(&format!("# filter for arch {block} ")))?;
    let want = format!("if ($syscall == {})", d.nr);
    let mut pos = start + 1;
    while pos < lines.len() && !lines[pos].1.starts_with("# filter for arch") {
        if lines[pos] == (2, want.as_str()) {
            pos += 1;
            let body = pfc_parse(&lines, &mut pos, 4);
            return Some(pfc_eval(&body, d).unwrap_or(default));
        }
        pos += 1;
    }
    None
}

const SCMP_ARCH_X86_64: u32 = 0xc000_003e;
const SCMP_ARCH_X86: u32 = 0x4000_0003;
const SCMP_ARCH_X32: u32 = 0x4000_003e;
const ENOSYS: u32 = 0x0005_0026;

fn word(d: &bpf::SeccompData, off: u32) -> Option<u32> {
    match off {
        0 => Some(d.nr),
        4 => Some(d.arch),
        16..=60 if off.is_multiple_of(4) => {
            let v = d.args[((off - 16) / 8) as usize];
            Some(if (off - 16).is_multiple_of(8) {
                v as u32
            } else {
                (v >> 32) as u32
            })
        }
        _ => None,
    }
}

/// Run libseccomp's program like `bpf::evaluate`, but Err when it compares the
/// architecture word with a system call number: libseccomp 2.5.4 sometimes omits the
/// `ld nr` after an architecture check (its accumulator tracking goes wrong when the
/// previous section's first rule is a pseudo system call), so its i386 section tests
/// the AUDIT_ARCH value against syscall numbers. That is a libseccomp bug, not a
/// meaning to copy; such inputs are counted and skipped.
fn evaluate_libseccomp(prog: &[bpf::SockFilter], d: &bpf::SeccompData) -> Result<u32, String> {
    let mut a = 0u32;
    let mut holds_arch = false;
    let mut pc = 0usize;
    for _ in 0..=prog.len() {
        let i = prog.get(pc).ok_or("off the end")?;
        let next = pc + 1;
        let cond = |c: bool| next + usize::from(if c { i.jt } else { i.jf });
        let arch_token = matches!(i.k, bpf::AUDIT_ARCH_X86_64 | bpf::AUDIT_ARCH_I386);
        pc = match i.code {
            bpf::LD_W_ABS => {
                a = word(d, i.k).ok_or("bad load")?;
                holds_arch = i.k == bpf::OFF_ARCH;
                next
            }
            bpf::ALU_AND_K => {
                a &= i.k;
                next
            }
            bpf::JMP_JA => next + i.k as usize,
            bpf::JMP_JEQ_K | bpf::JMP_JGT_K | bpf::JMP_JGE_K | bpf::JMP_JSET_K
                if holds_arch && !arch_token =>
            {
                return Err(format!("compares the arch word with {:#x} at {pc}", i.k))
            }
            bpf::JMP_JEQ_K => cond(a == i.k),
            bpf::JMP_JGT_K => cond(a > i.k),
            bpf::JMP_JGE_K => cond(a >= i.k),
            bpf::JMP_JSET_K => cond(a & i.k != 0),
            bpf::RET_K => return Ok(i.k),
            other => return Err(format!("opcode {other:#x}")),
        };
    }
    Err("no return".into())
}

/// runc's patchbpf -ENOSYS stub (enosys_linux.go), in front of libseccomp's filter.
fn runc_stub(default: u32, stub: &[(u32, u32)], d: &bpf::SeccompData) -> Option<u32> {
    if matches!(default, 0x7fff_0000 | 0x7ffc_0000) || default & 0xffff_0000 == 0x7ff0_0000 {
        return None;
    }
    let max = |t: u32| stub.iter().find(|s| s.0 == t).map(|s| s.1);
    let bit = d.nr & 0x4000_0000 != 0;
    let over = |m: Option<u32>| m.is_some_and(|m| d.nr > m);
    let enosys = match d.arch {
        bpf::AUDIT_ARCH_X86_64 => match (max(SCMP_ARCH_X86_64), max(SCMP_ARCH_X32)) {
            (Some(_), Some(_)) | (None, Some(_)) if bit => over(max(SCMP_ARCH_X32)),
            (Some(_), _) if !bit => over(max(SCMP_ARCH_X86_64)),
            _ => false,
        },
        bpf::AUDIT_ARCH_I386 => over(max(SCMP_ARCH_X86)),
        _ => false,
    };
    enosys.then_some(ENOSYS)
}

/// (OCI name, errnoRet, libseccomp action value)
fn actions() -> Vec<(&'static str, Option<u32>, u32)> {
    vec![
        ("SCMP_ACT_ALLOW", None, 0x7fff_0000),
        ("SCMP_ACT_ERRNO", None, 0x0005_0001),
        ("SCMP_ACT_ERRNO", Some(5), 0x0005_0005),
        ("SCMP_ACT_ERRNO", Some(38), 0x0005_0026),
        ("SCMP_ACT_KILL", None, 0),
        ("SCMP_ACT_KILL_PROCESS", None, 0x8000_0000),
        ("SCMP_ACT_TRAP", None, 0x0003_0000),
        ("SCMP_ACT_TRACE", None, 0x7ff0_0001),
        ("SCMP_ACT_LOG", None, 0x7ffc_0000),
        ("SCMP_ACT_NOTIFY", None, 0x7fc0_0000),
    ]
}

const OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

const VALUES: [u64; 12] = [
    0,
    1,
    2,
    5,
    9,
    16,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0005,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_fff0,
    u64::MAX,
];

/// Names every ABI handles differently: x86_64-only, i386-only, the i386 socket and IPC
/// multiplexed calls, x32's own numbers, and ones absent on some ABI.
const NAMES: [&str; 24] = [
    "getpid",
    "getppid",
    "read",
    "write",
    "socket",
    "bind",
    "setsockopt",
    "recvmmsg",
    "shmget",
    "semop",
    "msgrcv",
    "personality",
    "clone",
    "clone3",
    "uselib",
    "arch_prctl",
    "socketcall",
    "ipc",
    "waitpid",
    "_llseek",
    "rt_sigaction",
    "preadv",
    "close_range",
    "recv",
];

/// libseccomp's value for an OCI action (runc's getAction: errnoRet defaults to EPERM).
fn action_value(p: &Value, action: &str, errno: &str) -> u32 {
    let e = p[errno].as_u64().unwrap_or(1) as u32;
    match p[action].as_str().unwrap_or("") {
        "SCMP_ACT_ALLOW" => 0x7fff_0000,
        "SCMP_ACT_ERRNO" => 0x0005_0000 | e,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => 0,
        "SCMP_ACT_KILL_PROCESS" => 0x8000_0000,
        "SCMP_ACT_TRAP" => 0x0003_0000,
        "SCMP_ACT_TRACE" => 0x7ff0_0000 | e,
        "SCMP_ACT_LOG" => 0x7ffc_0000,
        "SCMP_ACT_NOTIFY" => 0x7fc0_0000,
        other => panic!("action {other}"),
    }
}

/// The helper's input for a `linux.seccomp` (one rule per name, as runc flattens
/// them), its default action value, and every name it mentions.
fn lib_input(p: &Value) -> (String, u32, Vec<String>) {
    let default = action_value(p, "defaultAction", "defaultErrnoRet");
    let mut input = format!("default {default}\n");
    for a in p["architectures"].as_array().into_iter().flatten() {
        input += match a.as_str().unwrap_or("") {
            "SCMP_ARCH_X86" => "arch x86\n",
            "SCMP_ARCH_X32" => "arch x32\n",
            "SCMP_ARCH_X86_64" => "arch x86_64\n",
            _ => "",
        };
    }
    let mut names = vec![];
    for s in p["syscalls"].as_array().into_iter().flatten() {
        let act = action_value(s, "action", "errnoRet");
        let args = s["args"].as_array().cloned().unwrap_or_default();
        let mut conds = String::new();
        for a in &args {
            let op = OPS
                .iter()
                .position(|o| a["op"] == *o)
                .expect("known operator")
                + 1;
            conds += &format!(
                " {} {op} {} {}",
                a["index"],
                a["value"].as_u64().unwrap_or(0),
                a["valueTwo"].as_u64().unwrap_or(0)
            );
        }
        for n in s["names"].as_array().into_iter().flatten() {
            let n = n.as_str().unwrap_or("");
            names.push(n.to_string());
            input += &format!("rule {act} {n} {}{conds}\n", args.len());
        }
    }
    (input, default, names)
}

fn random_profile(r: &mut Rng) -> Value {
    let acts = actions();
    let defaults: Vec<_> = acts.iter().filter(|a| a.0 != "SCMP_ACT_NOTIFY").collect();
    let (dname, derrno, _) = **r.pick(&defaults);
    let mut p = json!({"defaultAction": dname, "listenerPath": "/nonexistent"});
    if let Some(e) = derrno {
        p["defaultErrnoRet"] = json!(e);
    }
    let archs = [
        vec![],
        vec!["SCMP_ARCH_X86_64"],
        vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        vec!["SCMP_ARCH_X86"],
        vec!["SCMP_ARCH_X32", "SCMP_ARCH_X86_64"],
        vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    ];
    p["architectures"] = json!(r.pick(&archs));
    // A few system calls, several rules each, so that rules overlap.
    let pool: Vec<&str> = (0..3).map(|_| *r.pick(&NAMES)).collect();
    let mut syscalls = vec![];
    for _ in 0..1 + r.below(8) {
        let (aname, aerrno, _) = *r.pick(&acts);
        let mut args = vec![];
        for _ in 0..[0, 1, 1, 1, 2, 2, 3][r.below(7)] {
            let index = [0, 0, 1, 2, 5][r.below(5)];
            let (value, two) = (*r.pick(&VALUES), *r.pick(&VALUES));
            args.push(json!({"index": index, "value": value, "valueTwo": two, "op": r.pick(&OPS)}));
        }
        let mut s = json!({"names": [r.pick(&pool)], "action": aname, "args": args});
        if let Some(e) = aerrno {
            s["errnoRet"] = json!(e);
        }
        syscalls.push(s);
    }
    p["syscalls"] = json!(syscalls);
    p
}

/// (arch, nr) of `name` on each ABI, as libseccomp resolves it (scmp_sys_resolver).
fn abi_numbers(name: &str) -> Vec<(u32, u32)> {
    type Numbers = HashMap<String, Vec<(u32, u32)>>;
    static CACHE: OnceLock<Mutex<Numbers>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(name) {
        return v.clone();
    }
    let mut v = vec![];
    for (abi, arch) in [
        ("x86_64", bpf::AUDIT_ARCH_X86_64),
        ("x86", bpf::AUDIT_ARCH_I386),
        ("x32", bpf::AUDIT_ARCH_X86_64),
    ] {
        let o = Command::new("scmp_sys_resolver")
            .args(["-a", abi, name])
            .output()
            .expect("scmp_sys_resolver");
        if let Ok(n) = String::from_utf8_lossy(&o.stdout).trim().parse::<i64>() {
            if n >= 0 {
                v.push((arch, n as u32));
            }
        }
    }
    cache.lock().unwrap().insert(name.to_string(), v.clone());
    v
}

/// The system calls worth trying: every named one and its neighbours on each ABI,
/// the multiplexers, and numbers at the edges of the ABIs' ranges.
fn probes(names: &[String]) -> Vec<(u32, u32)> {
    let mut v = vec![];
    let edges = [
        0u32,
        1,
        1000,
        0x3fff_ffff,
        0x4000_0000,
        0x4000_0001,
        0x4000_03e8,
        0x7fff_ffff,
        0x8000_0000,
        0xbfff_ffff,
        0xc000_0000,
        0xffff_fffe,
        0xffff_ffff,
    ];
    for arch in [bpf::AUDIT_ARCH_X86_64, bpf::AUDIT_ARCH_I386, 0x4000_0028] {
        for e in edges
            .into_iter()
            .chain([102, 117, 359, 361, 366, 337, 393, 395])
        {
            v.push((arch, e));
        }
    }
    for name in names {
        for (arch, nr) in abi_numbers(name) {
            v.extend([nr.wrapping_sub(1), nr, nr.wrapping_add(1)].map(|n| (arch, n)));
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

fn arg_vectors(r: &mut Rng, n: usize) -> Vec<[u64; 6]> {
    let mut v = vec![[0u64; 6]];
    for _ in 0..n {
        let mut a = [0u64; 6];
        for x in a.iter_mut() {
            let b = *r.pick(&VALUES);
            *x = match r.below(4) {
                0 => b.wrapping_add(1),
                1 => b.wrapping_sub(1),
                _ => b,
            };
        }
        v.push(a);
    }
    v
}

#[derive(Default)]
struct Stats {
    profiles: usize,
    refused: usize,
    calls: usize,
    /// Where libseccomp's program contradicts its own rule database.
    stale_word: usize,
    arch_word: usize,
}

/// Compile `p` with berth and with libseccomp and compare them on many calls; panics
/// with the profile on any difference.
fn compare(helper: &Path, p: &Value, r: &mut Rng, args_per_call: usize, st: &mut Stats) {
    let (input, default, names) = lib_input(p);
    st.profiles += 1;
    let spec: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p.clone()).unwrap();
    let ctx = || {
        format!(
            "profile:\n{}\nlibseccomp input:\n{input}",
            serde_json::to_string_pretty(p).unwrap()
        )
    };
    let (lib_prog, stub, filter) = match (run_libseccomp(helper, &input), seccomp::compile(&spec)) {
        (Lib::Refused(_), Err(_)) => {
            st.refused += 1;
            return;
        }
        (Lib::Refused(why), Ok(_)) => {
            panic!("libseccomp refused ({why}), berth accepted: {}", ctx())
        }
        (Lib::Filter { .. }, Err(e)) => {
            panic!("berth refused ({e}) what libseccomp took: {}", ctx())
        }
        (Lib::Filter { program, stub }, Ok(f)) => (program, stub, f),
    };
    let mut pfc: Option<String> = None;
    for (arch, nr) in probes(&names) {
        for args in arg_vectors(r, args_per_call) {
            let d = bpf::SeccompData {
                nr,
                arch,
                instruction_pointer: 0,
                args,
            };
            let got = filter.evaluate(&d).expect("berth's program runs");
            let want = match runc_stub(default, &stub, &d) {
                Some(w) => w,
                None => match evaluate_libseccomp(&lib_prog, &d) {
                    Ok(w) => w,
                    Err(_) => {
                        // Its rule database still says what the call means.
                        st.arch_word += 1;
                        let text =
                            pfc.get_or_insert_with(|| helper_output(helper, &input, &["pfc"]).1);
                        match pfc_decide(text, &d, default) {
                            Some(w) => w,
                            None => continue,
                        }
                    }
                },
            };
            if got != want {
                // libseccomp 2.5.4's code generator sometimes compares a stale word
                // on the fall-through from one argument tree to the next; its own
                // rule database (the pseudo filter code) is the meaning berth follows.
                let text = pfc.get_or_insert_with(|| helper_output(helper, &input, &["pfc"]).1);
                if pfc_decide(text, &d, default) == Some(got) {
                    st.stale_word += 1;
                    continue;
                }
            }
            assert_eq!(
                got, want,
                "arch {arch:#x} nr {nr:#x} args {args:x?}: berth {got:#x}, libseccomp+runc {want:#x}\n{}",
                ctx()
            );
            st.calls += 1;
        }
    }
}

/// The helper and scmp_sys_resolver, or None with a note.
fn tools() -> Option<&'static Path> {
    let helper = libseccomp_helper()?;
    if Command::new("scmp_sys_resolver").output().is_err() {
        eprintln!("note: no scmp_sys_resolver (Debian package seccomp): skipping");
        return None;
    }
    Some(helper)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn filters_mean_what_libseccomp_and_runc_make_of_them() {
    let Some(helper) = tools() else { return };
    let mut r = Rng(env_num("BERTH_SECCOMP_SEED", 0x5eed_cafe));
    let mut st = Stats::default();
    for _ in 0..env_num("BERTH_SECCOMP_CASES", 300) {
        let p = random_profile(&mut r);
        compare(helper, &p, &mut r, 24, &mut st);
    }
    eprintln!(
        "{} profiles ({} refused by both), {} system calls compared; where libseccomp's \
         program contradicts its own rules: {} (stale argument word), {} (arch word taken \
         for the system call number)",
        st.profiles, st.refused, st.calls, st.stale_word, st.arch_word
    );
}

include!("../data/containers_profile.rs");

#[test]
fn podmans_profile_means_what_libseccomp_and_runc_make_of_it() {
    let Some(helper) = tools() else { return };
    let mut r = Rng(1);
    let mut st = Stats::default();
    let all = [
        "CAP_AUDIT_WRITE",
        "CAP_DAC_READ_SEARCH",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_CHROOT",
        "CAP_SYS_MODULE",
        "CAP_SYS_NICE",
        "CAP_SYS_PACCT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_SYSLOG",
        "CAP_BPF",
        "CAP_PERFMON",
    ];
    for caps in [
        &super::common::DEFAULT_CAPS[..],
        &["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"][..],
        &all[..],
    ] {
        compare(helper, &containers_profile(caps), &mut r, 6, &mut st);
    }
    assert_eq!(st.refused, 0, "libseccomp and berth take podman's profile");
    eprintln!(
        "{} system calls compared ({} stale word, {} arch word)",
        st.calls, st.stale_word, st.arch_word
    );
}
