//! Reading config.json from a bundle.

use super::{Bundle, SpecError};
use oci_spec::runtime::Spec;
use std::path::Path;

/// config.json larger than this is refused before it is parsed (SECURITY.md attack 24).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Load and validate `<dir>/config.json`.
pub fn load_bundle(dir: &Path) -> Result<Bundle, SpecError> {
    let dir = std::fs::canonicalize(dir).map_err(|source| SpecError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join("config.json");
    let bytes = std::fs::read(&path).map_err(|source| SpecError::Io {
        path: path.clone(),
        source,
    })?;
    let spec = parse_spec(&bytes)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("root", "required"))?;
    let rootfs = dir.join(root.path());
    Ok(Bundle { dir, rootfs, spec })
}

/// Parse config.json bytes into a Spec, with errors naming the JSON path.
pub fn parse_spec(bytes: &[u8]) -> Result<Spec, SpecError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| SpecError::Parse {
        field: e.path().to_string(),
        reason: e.inner().to_string(),
    })
}
