//! config.json: loading (size cap, ociVersion 1.x, JSON-path errors), validation
//! (one small named check per rule) and the default spec of the `spec` verb.
//!
//! Pure: reads the file, never touches the kernel.

pub mod defaults;
pub mod load;
pub mod mounts;
pub mod validate;

use oci_spec::runtime::Spec;
use std::path::PathBuf;

/// A loaded, validated bundle. Only `load::load_bundle` makes one.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the root filesystem (root.path resolved against `dir`).
    pub rootfs: PathBuf,
    pub spec: Spec,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: config.json is {size} bytes, more than the {max} bytes allowed")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    /// JSON that does not parse or does not have the spec's shape. `field` is the
    /// JSON path, e.g. `process.rlimits[2].type`.
    #[error("config.json: {field}: {reason}")]
    Parse { field: String, reason: String },
    /// A value that parses but breaks a rule of the spec.
    #[error("config.json: {field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl SpecError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
