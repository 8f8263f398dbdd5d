use crate::error::{Error, Result};
use std::path::Path;

/// Write a default config.json into `bundle`, refusing to overwrite one (as runc does).
pub fn spec(bundle: &Path, rootless: bool) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::Usage(format!(
            "{}: config.json already exists; remove it first",
            path.display()
        )));
    }
    let ids = rootless.then(|| {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    });
    let value = crate::spec::defaults::default_spec(ids);
    let text = serde_json::to_string_pretty(&value).map_err(|e| Error::Usage(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(Error::io(format!("{}", path.display())))
}
