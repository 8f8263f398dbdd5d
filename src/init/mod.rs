//! Creating a container in three stages (DESIGN.md "Process model"), with no re-exec:
//!
//! 1. parent (`parent.rs`, the `create`/`run` process): state dir, cgroup, exec fifo,
//!    forks the intermediate, writes id maps, runs prestart/createRuntime hooks,
//!    writes the state once the init is ready.
//! 2. intermediate (`intermediate.rs`): joins namespaces given by path, unshares the
//!    rest, clones the container init with CLONE_PARENT (so the init is the parent's
//!    child and later the caller's), reports its pid and exits.
//! 3. container init (`container.rs`): rootfs (`rootfs.rs`), pivot_root, identity and
//!    security (`process.rs`), then waits on the exec fifo for `start` and execs.

pub mod console;
pub mod container;
pub mod exec;
pub mod intermediate;
pub mod parent;
pub mod process;
pub mod rootfs;
pub mod sync;

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A failure reported by the intermediate or the container init.
    #[error("{stage}: {message}")]
    Child { stage: String, message: String },
    #[error("create: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error(transparent)]
    Layers(#[from] crate::layers::LayerError),
    #[error("{0}")]
    Config(String),
}

impl InitError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> InitError {
        let what = what.into();
        move |source| InitError::Io { what, source }
    }
}

/// An error inside a child stage: which step failed and why. It travels to the
/// parent as `sync::Msg::Error`.
#[derive(Debug)]
pub struct StageError {
    pub stage: &'static str,
    pub message: String,
}

pub type StageResult<T> = Result<T, StageError>;

/// `.stage("mount")` on any error that can be displayed.
pub trait Stage<T> {
    fn stage(self, stage: &'static str) -> StageResult<T>;
    fn stage_with(self, stage: &'static str, ctx: impl FnOnce() -> String) -> StageResult<T>;
}

impl<T, E: Display> Stage<T> for Result<T, E> {
    fn stage(self, stage: &'static str) -> StageResult<T> {
        self.map_err(|e| StageError {
            stage,
            message: e.to_string(),
        })
    }
    fn stage_with(self, stage: &'static str, ctx: impl FnOnce() -> String) -> StageResult<T> {
        self.map_err(|e| StageError {
            stage,
            message: format!("{}: {e}", ctx()),
        })
    }
}

pub fn stage_err(stage: &'static str, message: impl Into<String>) -> StageError {
    StageError {
        stage,
        message: message.into(),
    }
}

/// The first fd not passed on to the container: stdio, then `--preserve-fds` of them,
/// then the socket-activation ones. Saturates: both counts come from the user (a flag,
/// an environment variable), and a sum past u32::MAX must not wrap to close stdio.
pub fn first_unpassed_fd(preserve: u32, listen: u32) -> u32 {
    3u32.saturating_add(preserve).saturating_add(listen)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found reviewing for tests/robustness.rs: main computed 3 + u32::MAX (a panic in debug
    /// builds; in release it wrapped to 2 and closed stderr).
    #[test]
    fn first_unpassed_fd_saturates() {
        assert_eq!(first_unpassed_fd(0, 0), 3);
        assert_eq!(first_unpassed_fd(2, 1), 6);
        assert_eq!(first_unpassed_fd(u32::MAX, 0), u32::MAX);
        assert_eq!(first_unpassed_fd(u32::MAX - 3, u32::MAX), u32::MAX);
    }
}
