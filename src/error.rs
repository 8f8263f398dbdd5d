//! The top-level error: one variant per module's own error, plus the lifecycle errors
//! whose words engines match on (ENGINES.md "Contracts").

use crate::state::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Id(#[from] crate::id::IdError),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Init(#[from] crate::init::InitError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error(transparent)]
    Layers(#[from] crate::layers::LayerError),
    /// containerd turns "container not running" into "process already finished".
    #[error("container not running: {id} is {status}")]
    NotRunning { id: String, status: Status },
    #[error("cannot {op} container {id}: it is {status}{hint}")]
    WrongState {
        op: &'static str,
        id: String,
        status: Status,
        hint: &'static str,
    },
    #[error("{0}")]
    Usage(String),
    /// A startContainer or poststart hook failed: the container was destroyed.
    #[error("{0}")]
    StartHook(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
