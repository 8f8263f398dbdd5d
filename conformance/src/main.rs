//! berth-conformance: OCI runtime-spec conformance harness.
//!
//! `berth-conformance --runtime PATH [--probe PATH] [--filter SUBSTR] [--list]`
//!
//! Builds busybox-static bundles in a temp dir, runs the in-container probe
//! (berth-probe) under the runtime for a set of config.json scenarios, checks
//! lifecycle, hook and error-path requirements from outside, and prints TAP
//! with one running counter and `N passed, M failed` as the last line.

mod bundle;
mod hooks;
mod host;
mod invalid;
mod lifecycle;
mod resources;
mod rt;
mod scenarios;
mod spec;
mod tap;
mod util;

use bundle::Bundles;
use rt::Runtime;
use std::path::{Path, PathBuf};
use tap::Tap;

pub struct Harness {
    pub rt: Runtime,
    pub bundles: Bundles,
    pub tap: Tap,
    /// pid of a helper process in new net/ipc/uts namespaces (for namespace paths).
    pub ns_holder: Option<u32>,
    holder: Option<std::process::Child>,
    tag: u32,
}

/// Leave nothing behind, also when a case panics: force-delete every
/// container this run created and stop the namespace helper.
impl Drop for Harness {
    fn drop(&mut self) {
        self.rt.cleanup();
        if let Some(mut c) = self.holder.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Harness {
    /// A container id unique to this run.
    pub fn id(&self, name: &str) -> String {
        format!("bc-{}-{name}", self.tag)
    }
}

struct Opts {
    runtime: PathBuf,
    probe: PathBuf,
    filter: Option<String>,
    list: bool,
}

const USAGE: &str =
    "usage: berth-conformance --runtime PATH [--probe PATH] [--filter SUBSTR] [--list]";

fn parse_args() -> Result<Opts, String> {
    let mut runtime = None;
    let mut probe = None;
    let mut filter = None;
    let mut list = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |flag: &str| it.next().ok_or(format!("{flag} needs a value"));
        match a.as_str() {
            "--runtime" => runtime = Some(PathBuf::from(val("--runtime")?)),
            "--probe" => probe = Some(PathBuf::from(val("--probe")?)),
            "--filter" => filter = Some(val("--filter")?),
            "--list" => list = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let probe = match probe {
        Some(p) => p,
        None => default_probe()?,
    };
    Ok(Opts {
        runtime: runtime.unwrap_or_else(|| PathBuf::from("/usr/sbin/runc")),
        probe,
        filter,
        list,
    })
}

/// A static `berth-probe` next to this binary, or at the static build's usual place.
fn default_probe() -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join("berth-probe"));
    }
    candidates.push(PathBuf::from(
        "/work/target-conf-static/x86_64-unknown-linux-gnu/release/berth-probe",
    ));
    candidates
        .into_iter()
        .find(|p| p.is_file() && bundle::check_static(p).is_ok())
        .ok_or_else(|| format!("no static berth-probe found; pass --probe PATH\n{USAGE}"))
}

/// Every unit of work, by name, in order: `--filter` selects by substring.
fn units() -> Vec<String> {
    let mut v: Vec<String> = scenarios::all()
        .iter()
        .map(|s| format!("probe/{}", s.name))
        .collect();
    v.extend(lifecycle::UNITS.iter().map(|u| format!("lifecycle/{u}")));
    v.extend(hooks::UNITS.iter().map(|u| format!("hooks/{u}")));
    v.extend(invalid::UNITS.iter().map(|u| format!("invalid/{u}")));
    v.extend(
        resources::INVALID
            .iter()
            .map(|(u, _, _)| format!("invalid/{u}")),
    );
    v
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let selected = |u: &str| opts.filter.as_deref().is_none_or(|f| u.contains(f));
    if opts.list {
        units()
            .iter()
            .filter(|u| selected(u))
            .for_each(|u| println!("{u}"));
        return;
    }
    if let Err(e) = bundle::check_static(&opts.probe) {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let work = match host::make_work_dir() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("cannot create a work dir under /tmp: {e}");
            std::process::exit(2);
        }
    };
    let shared = host::make_shared(&work).is_ok();
    // A panic in a case still unwinds through Harness::drop (containers) and
    // reaches the unmount and removal of the work dir below.
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&opts, &work, shared, &selected)
    }))
    .unwrap_or(101);
    if shared {
        host::unmount(&work);
    }
    let _ = std::fs::remove_dir_all(&work);
    std::process::exit(code);
}

fn run(opts: &Opts, work: &Path, shared: bool, selected: &dyn Fn(&str) -> bool) -> i32 {
    let mut tap = Tap::new();
    let (rt, bundles) = match (
        Runtime::new(&opts.runtime, work),
        Bundles::new(work, &opts.probe, shared),
    ) {
        (Ok(r), Ok(b)) => (r, b),
        (r, b) => {
            let e = r
                .err()
                .map(|e| e.to_string())
                .or(b.err())
                .unwrap_or_default();
            tap.fail(&format!("harness: set up {}: {e}", work.display()));
            tap.finish();
            return 1;
        }
    };
    tap.comment(&format!(
        "runtime {} probe {} work dir {}{}",
        opts.runtime.display(),
        opts.probe.display(),
        work.display(),
        if shared {
            " (shared mount)"
        } else {
            " (not a shared mount)"
        }
    ));
    let holder = host::spawn_ns_holder().ok();
    let mut h = Harness {
        rt,
        bundles,
        tap,
        ns_holder: holder.as_ref().map(|c| c.id()),
        holder,
        tag: std::process::id(),
    };
    for s in scenarios::all() {
        if selected(&format!("probe/{}", s.name)) {
            scenarios::run(&mut h, &s);
        }
    }
    lifecycle::run(&mut h, selected);
    hooks::run(&mut h, selected);
    invalid::run(&mut h, selected);
    let failed = h.tap.failed();
    let tap = std::mem::replace(&mut h.tap, Tap::new());
    drop(h); // cleanup before the summary, so it stays the last line

    tap.finish();
    i32::from(failed > 0)
}
