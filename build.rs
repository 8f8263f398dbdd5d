//! Records the git commit for `berth --version` (runc prints one; Docker reads it).
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(c) = commit {
        println!("cargo:rustc-env=BERTH_COMMIT={c}");
    }
    // DT_RELR: the binary's ~9,000 relative relocations as a bitmap of a few KiB
    // instead of a 215 KiB table that the dynamic loader reads and walks at every
    // start (glibc >= 2.36, binutils >= 2.38; Debian 12 has both).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        symbol_order();
    }
    // The git dir: `.git` in a clone, elsewhere for a worktree (`.git` is then a file).
    // A path that does not exist would make cargo rebuild berth on every run.
    let git_dir = std::process::Command::new("git")
        .args(["rev-parse", "--absolute-git-dir"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| std::path::PathBuf::from(s.trim()));
    match git_dir {
        Some(d) => {
            for p in [d.join("HEAD"), d.join("refs/heads")] {
                if p.exists() {
                    println!("cargo:rerun-if-changed={}", p.display());
                }
            }
        }
        None => println!("cargo:rerun-if-changed=build.rs"),
    }
}

/// The functions berth's common verbs run go first in .text, together
/// (benches/symbol-order.txt, written by benches/symbol-order.py): berth lives for
/// milliseconds, and the kernel maps its text 64 KiB around each fault, so with them
/// spread over all of .text most of the binary lands in every berth process's RSS.
/// Release builds with lld (rustc's default linker on x86_64 Linux since 1.90) only;
/// BERTH_NO_SYMBOL_ORDER=1 turns it off, to measure it or for another linker. The
/// linker's map goes beside the binary (target/release/berth.map): symbol-order.py
/// reads it, and bench.py checks the file still names this build's functions.
fn symbol_order() {
    println!("cargo:rerun-if-env-changed=BERTH_NO_SYMBOL_ORDER");
    let order = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/symbol-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    if std::env::var("PROFILE").as_deref() != Ok("release")
        || std::env::var_os("BERTH_NO_SYMBOL_ORDER").is_some_and(|v| v != "0")
        || std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu")
    {
        return;
    }
    // OUT_DIR is <target>/release/build/berth-<hash>/out.
    if let Some(dir) = std::env::var_os("OUT_DIR")
        .map(std::path::PathBuf::from)
        .and_then(|o| o.ancestors().nth(3).map(|d| d.to_path_buf()))
    {
        // Mangled, as the ordering file must name them.
        println!(
            "cargo:rustc-link-arg-bins=-Wl,-Map={}",
            dir.join("berth.map").display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-demangle");
    }
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names this build does not have (another toolchain) are skipped silently;
        // bench.py reports how many there are.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
