use super::Container;
use crate::error::{Error, Result};
use crate::store::Store;

pub fn state(store: &Store, id: &str) -> Result<String> {
    let c = Container::open(store, id)?;
    let status = c.status();
    let json = match &c.record {
        Some(r) => serde_json::to_string_pretty(&r.public(status)),
        None => serde_json::to_string_pretty(&serde_json::json!({
            "ociVersion": crate::state::OCI_VERSION,
            "id": c.id(),
            "pid": 0,
            "status": status,
            "bundle": "",
        })),
    };
    json.map_err(|e| Error::Usage(e.to_string()))
}
