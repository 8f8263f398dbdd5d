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
